#!/usr/bin/env bash
# make chaos: builds and runs the reliability benchmark (bench/cmd/ota-chaos) on the real
# stack. Each fault gets a fresh stack (dev Cadence server, database, its own Mosquitto,
# api, workers) and one campaign while a worker is killed and restarted, one of two
# workers is lost, the broker is killed and restarted, or PostgreSQL is cut for 15 s.
# It writes bench/chaos.md and bench/chaos.json, and exits non-zero when a run failed or
# missed a target (after writing them). Flags pass through, e.g.
#   scripts/chaos.sh -faults broker-restart
#   make chaos CHAOS_FLAGS='-faults worker-restart,postgres-cut -devices 400'
# Run scripts/chaos.sh -h for every flag. The full run takes about 12 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
STAMP=$(date -u +%Y%m%d_%H%M%S)

# The benchmark tears down what it started, on failure and Ctrl-C too. If it dies
# without doing so (a crash, SIGKILL), its child processes die with it, but the dev
# server, the databases and the broker directories of this invocation would stay.
cleanup() {
	local pid
	if pid=$(cat .run/cadence-devserver.pid 2>/dev/null) &&
		ps -o command= -p "$pid" 2>/dev/null | grep -q "/.run/chaos/$STAMP/"; then
		scripts/cadence-devserver.sh stop || true
	fi
	local dbs db
	dbs=$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
		"select datname from pg_database where starts_with(datname, 'ota_chaos_${STAMP}_')" 2>/dev/null) || dbs=
	for db in $dbs; do
		psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists \"$db\" with (force)" || true
	done
	rm -rf "${TMPDIR:-/tmp}"/ota-chaos-"$STAMP"-mosquitto-*
}
trap cleanup EXIT

mkdir -p bin
(cd bench && go build -o ../bin/ota-chaos ./cmd/ota-chaos)
bin/ota-chaos -stamp "$STAMP" "$@"
