#!/usr/bin/env bash
# Cadence Web (the real UI, npm package cadence-web) against the dev Cadence server, on
# loopback. Installed once into a cache directory shared by every checkout; later runs
# reuse it. OTA_DEVSERVER_CLUSTER=n picks the dev server (TChannel 7104+n×1000) and the
# UI's port (8088+n).
#
#   scripts/cadence-web.sh install   # first time ≈ 3 minutes (npm, native modules, webpack)
#   scripts/cadence-web.sh start     # installs if needed, starts, waits until it answers
#   scripts/cadence-web.sh stop
#   scripts/cadence-web.sh url       # http://127.0.0.1:<port>
#
# Why the steps below (and what failed without them): ../shared/reference/cadence-dev-server.md
# (tchannel's metrics dependency is not served by the registry; the package's IDL is
# fetched by an install script we do not run; nan 2.14 does not build on Node 20).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

VERSION=3.35.4
CACHE=${OTA_CADENCE_WEB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otaplane/cadence-web-$VERSION}
CLUSTER=${OTA_DEVSERVER_CLUSTER:-0}
[[ $CLUSTER =~ ^[0-3]$ ]] || { echo "cadence-web: OTA_DEVSERVER_CLUSTER=$CLUSTER: want 0 to 3" >&2; exit 2; }
TCHANNEL_PORT=$((7104 + CLUSTER * 1000))
PORT=${OTA_CADENCE_WEB_PORT:-$((8088 + CLUSTER))}
RUN_DIR=.run
NAME=cadence-web
((CLUSTER > 0)) && NAME=cadence-web-$CLUSTER
PID_FILE=$RUN_DIR/$NAME.pid
LOG_FILE=$RUN_DIR/$NAME.log

log() { echo "cadence-web: $*"; }
die() { echo "cadence-web: $*" >&2; exit 1; }

installed() { [[ -f $CACHE/.installed ]]; }

cmd_install() {
	installed && return 0
	command -v npm >/dev/null || die "npm not found (apt-get install npm)"
	mkdir -p "$CACHE"
	# One installer at a time per cache (make run and make test may start together).
	exec 9>"$CACHE/.lock"
	flock 9
	installed && return 0
	log "installing cadence-web $VERSION into $CACHE (first time only, ≈ 3 minutes; log: $CACHE/install.log)"
	local idl
	idl=$(cd api && go mod download -json github.com/uber/cadence-idl | sed -nE 's/^\t"Dir": "(.*)",?$/\1/p')
	[[ -d $idl/proto && -d $idl/thrift ]] || die "cadence-idl module not found in the Go module cache"
	(
		cd "$CACHE"
		mkdir -p stubs/metrics
		# tchannel requires metrics only in its own tests; the registry does not serve it.
		echo '{"name":"metrics","version":"0.1.8","main":"index.js"}' >stubs/metrics/package.json
		: >stubs/metrics/index.js
		cat >package.json <<EOT
{"private":true,"dependencies":{"cadence-web":"$VERSION"},"overrides":{"metrics":"file:./stubs/metrics"}}
EOT
		npm install --ignore-scripts --no-audit --no-fund
		rm -rf node_modules/cadence-web/server/idl/proto node_modules/cadence-web/server/idl/thrift
		mkdir -p node_modules/cadence-web/server/idl
		cp -r "$idl/proto" "$idl/thrift" node_modules/cadence-web/server/idl/
		chmod -R u+w node_modules/cadence-web/server/idl
		rm -rf node_modules/sse4_crc32/node_modules/nan
		npm rebuild farmhash sse4_crc32 --nodedir=/usr
		(cd node_modules/cadence-web && NODE_ENV=production npx webpack)
		# The stock server listens on every interface; this one on loopback only.
		cat >serve.js <<'EOT'
const port = Number(process.env.CADENCE_WEB_PORT);
require('cadence-web/server/index').init().listen(port, '127.0.0.1');
EOT
	) >"$CACHE/install.log" 2>&1 || { tail -20 "$CACHE/install.log" >&2; die "install failed (log: $CACHE/install.log)"; }
	touch "$CACHE/.installed"
	log "installed"
}

our_pid() {
	[[ -f $PID_FILE ]] || return 1
	local pid
	pid=$(<"$PID_FILE")
	[[ $pid =~ ^[0-9]+$ ]] && [[ $(ps -o command= -p "$pid" 2>/dev/null) == node*serve.js* ]] || return 1
	echo "$pid"
}

answers() { curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; }

cmd_start() {
	if our_pid >/dev/null; then
		log "already running at $(cmd_url)"
		return 0
	fi
	cmd_install
	mkdir -p "$RUN_DIR"
	(cd "$CACHE" && NODE_ENV=production CADENCE_WEB_PORT=$PORT CADENCE_TCHANNEL_PEERS=127.0.0.1:$TCHANNEL_PORT \
		exec node serve.js) >"$LOG_FILE" 2>&1 &
	echo $! >"$PID_FILE"
	for _ in $(seq 1 60); do
		answers && { log "running at $(cmd_url) (log: $LOG_FILE)"; return 0; }
		our_pid >/dev/null || { tail -20 "$LOG_FILE" >&2; die "exited at start"; }
		sleep 0.5
	done
	die "no answer on port $PORT within 30 s (log: $LOG_FILE)"
}

cmd_stop() {
	local pid
	if pid=$(our_pid); then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -KILL "$pid" 2>/dev/null || true
		log "stopped"
	fi
	rm -f "$PID_FILE"
}

cmd_url() { echo "http://127.0.0.1:$PORT"; }

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
*) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
