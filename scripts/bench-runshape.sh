#!/usr/bin/env bash
# make bench-runshape: builds and runs bench/cmd/ota-runshape, which measures Cadence's
# cost per device run for a workflow per device and for several devices per workflow, on
# a fresh dev server (PostgreSQL persistence by default). It writes
# bench/runshape/results.md and results.json. Flags pass through, e.g.
#   scripts/bench-runshape.sh -devices 1000 -group-sizes 1,50 -repeats 1
# Run scripts/bench-runshape.sh -h for every flag. The default run takes about 8 minutes
# on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

# The benchmark stops its dev server and drops its databases itself; this covers a
# benchmark that was killed before it could.
cleanup() {
	local pid dbs db
	if pid=$(cat .run/cadence-devserver.pid 2>/dev/null) &&
		ps -o command= -p "$pid" 2>/dev/null | grep -q -- "-pg-db runshape_\|/.run/bench-runshape/"; then
		scripts/cadence-devserver.sh stop || true
	fi
	dbs=$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
		"select datname from pg_database where starts_with(datname, 'runshape_')" 2>/dev/null) || dbs=
	for db in $dbs; do
		psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists \"$db\" with (force)" || true
	done
}
trap cleanup EXIT

scripts/cadence-devserver.sh build
mkdir -p bin
(cd bench && go build -o ../bin/ota-runshape ./cmd/ota-runshape)
bin/ota-runshape "$@"
