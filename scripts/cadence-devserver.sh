#!/usr/bin/env bash
# Build, start, stop and inspect the in-process Cadence dev server
# (cadence-devserver/). Frontend: gRPC 127.0.0.1:7114, tchannel 127.0.0.1:7104.
# OTA_DEVSERVER_CLUSTER=n (0-3) runs a separate server on those ports plus n×1000, with
# its own state files, so a demo and a test run can share a machine.
#
#   scripts/cadence-devserver.sh build
#   scripts/cadence-devserver.sh start [sqlite|memory|postgres] [extra cadence-devserver flags...]
#   scripts/cadence-devserver.sh stop
#   scripts/cadence-devserver.sh status
#
# State lives under .run/ (pid file, log, sqlite data in .run/cadence).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

SRC_DIR=cadence-devserver
BIN="$ROOT/bin/cadence-devserver"
RUN_DIR=.run
CLUSTER=${OTA_DEVSERVER_CLUSTER:-0}
[[ $CLUSTER =~ ^[0-3]$ ]] || { echo "cadence-devserver: OTA_DEVSERVER_CLUSTER=$CLUSTER: want 0 to 3" >&2; exit 2; }
GRPC_PORT=$((7114 + CLUSTER * 1000))
TCHANNEL_PORT=$((7104 + CLUSTER * 1000))
NAME=cadence-devserver
DATA_DIR="$RUN_DIR/cadence"
if ((CLUSTER > 0)); then
	NAME=cadence-devserver-$CLUSTER
	DATA_DIR="$RUN_DIR/cadence-$CLUSTER"
fi
PID_FILE="$RUN_DIR/$NAME.pid"
LOG_FILE="$RUN_DIR/$NAME.log"
MODE_FILE="$RUN_DIR/$NAME.persistence"
READY_PATTERN='^cadence-devserver ready '
READY_TIMEOUT=180
STOP_TIMEOUT=15

usage() {
	sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

log() { echo "cadence-devserver: $*"; }
die() {
	echo "cadence-devserver: $*" >&2
	exit 1
}

frontend_answers() {
	(exec 3<>/dev/tcp/127.0.0.1/$GRPC_PORT) 2>/dev/null
}

# True if pid runs our binary. Matching the command line also rules out
# zombies (our own exited child shows as <defunct>) and reused pids.
is_ours() {
	local cmd
	cmd=$(ps -o command= -p "$1" 2>/dev/null) || return 1
	[[ $cmd == "$BIN"* ]]
}

# Prints the pid from the pid file if that process is alive and ours.
our_pid() {
	[[ -f $PID_FILE ]] || return 1
	local pid
	pid=$(<"$PID_FILE")
	[[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid" || return 1
	echo "$pid"
}

needs_build() {
	[[ -x $BIN ]] || return 0
	[[ -n $(find "$SRC_DIR" \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$BIN" -print -quit) ]]
}

cmd_build() {
	if ! needs_build; then
		log "bin/cadence-devserver is up to date"
		return
	fi
	log "building bin/cadence-devserver (the first build takes ~3 minutes and ~1.2 GB RAM)"
	mkdir -p bin
	(cd "$SRC_DIR" && GOWORK=off go build -o ../bin/cadence-devserver .)
	log "built bin/cadence-devserver"
}

wait_ready() {
	local pid=$1 deadline=$((SECONDS + READY_TIMEOUT))
	while ! grep -q "$READY_PATTERN" "$LOG_FILE" 2>/dev/null; do
		if ! is_ours "$pid"; then
			rm -f "$PID_FILE" "$MODE_FILE"
			echo "cadence-devserver: exited during startup; last log lines ($LOG_FILE):" >&2
			tail -n 40 "$LOG_FILE" >&2 || true
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			echo "cadence-devserver: not ready after ${READY_TIMEOUT}s; stopping it. Last log lines ($LOG_FILE):" >&2
			tail -n 40 "$LOG_FILE" >&2 || true
			stop_pid "$pid" >/dev/null
			exit 1
		fi
		sleep 0.5
	done
}

cmd_start() {
	local persistence=${1:-sqlite}
	shift $(($# > 0 ? 1 : 0))
	case $persistence in
	sqlite | memory | postgres) ;;
	*) die "unknown persistence '$persistence' (want sqlite, memory or postgres)" ;;
	esac

	local pid
	if pid=$(our_pid); then
		local running
		running=$(cat "$MODE_FILE" 2>/dev/null || echo unknown)
		if frontend_answers; then
			log "already running (pid $pid, $running persistence); reusing it"
		else
			log "pid $pid is starting up; waiting for it"
			wait_ready "$pid"
			log "ready (pid $pid, $running persistence)"
		fi
		if [[ $running != "$persistence" ]]; then
			log "note: it runs with $running persistence, not $persistence; stop it first to switch"
		fi
		return
	fi
	rm -f "$PID_FILE"
	if frontend_answers; then
		die "127.0.0.1:$GRPC_PORT is served by a process this script did not start; stop it first"
	fi

	cmd_build
	mkdir -p "$RUN_DIR"
	: >"$LOG_FILE"
	nohup "$BIN" -cluster "$CLUSTER" -data-dir "$DATA_DIR" -persistence "$persistence" "$@" >>"$LOG_FILE" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$PID_FILE"
	echo "$persistence" >"$MODE_FILE"
	log "started pid $pid ($persistence persistence), log $LOG_FILE; waiting for it to become ready"
	wait_ready "$pid"
	log "ready: grpc=127.0.0.1:$GRPC_PORT tchannel=127.0.0.1:$TCHANNEL_PORT"
}

# Sends SIGTERM, waits up to STOP_TIMEOUT seconds, then SIGKILL.
stop_pid() {
	local pid=$1 deadline=$((SECONDS + STOP_TIMEOUT))
	kill -TERM "$pid" 2>/dev/null || true
	while is_ours "$pid"; do
		if ((SECONDS >= deadline)); then
			log "pid $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	rm -f "$PID_FILE" "$MODE_FILE"
}

cmd_stop() {
	local pid
	if ! pid=$(our_pid); then
		rm -f "$PID_FILE" "$MODE_FILE"
		if frontend_answers; then
			die "not started by this script, but 127.0.0.1:$GRPC_PORT is in use by another process"
		fi
		log "not running"
		return
	fi
	log "stopping pid $pid"
	stop_pid "$pid"
	log "stopped"
}

cmd_status() {
	local pid
	if pid=$(our_pid); then
		local state=starting rss
		frontend_answers && state=ready
		rss=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ')
		log "$state: pid $pid, $(cat "$MODE_FILE" 2>/dev/null || echo unknown) persistence, RSS $((rss / 1024)) MiB, grpc=127.0.0.1:$GRPC_PORT tchannel=127.0.0.1:$TCHANNEL_PORT, log $LOG_FILE"
		return 0
	fi
	if frontend_answers; then
		log "not started by this script, but 127.0.0.1:$GRPC_PORT is in use by another process"
	else
		log "not running"
	fi
	return 3
}

case ${1:-} in
build) cmd_build ;;
start)
	shift
	cmd_start "$@"
	;;
stop) cmd_stop ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
