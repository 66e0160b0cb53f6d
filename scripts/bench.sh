#!/usr/bin/env bash
# make bench: builds and runs the benchmark program (bench/cmd/ota-bench) on the real
# stack. It starts and stops its own dev Cadence server, database, api and workers, and
# writes bench/results.md and bench/results.json. Flags pass through, e.g.
#   scripts/bench.sh -sizes 200 -scenarios sqlite
#   make bench BENCH_FLAGS='-sizes 1000 -scenarios sqlite,rss'
# Run scripts/bench.sh -h for every flag. The full default run takes about 30 minutes on 2 cores
# (the scale scenario, one 100,000-device campaign in the database, adds about 5).
# Opt-in: the large PostgreSQL run (-large-size, 50,000 devices by default; it needs a
# machine that allows the open files, see below — the benchmark machine ran 18,000):
#   scripts/bench.sh -scenarios postgres-large -large-size 18000 -timeout 80m -out-dir bench/postgres-large
set -euo pipefail
cd "$(dirname "$0")/.."
# Every simulated device holds a connection, and so does the broker for it: a large fleet
# needs more open files than a shell's usual limit. Where the hard limit cannot be raised
# (20,000 on the benchmark machine) it caps the fleet below that; so do the ≈ 28,000
# ephemeral ports towards one broker address (net.ipv4.ip_local_port_range).
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 131072 ]; then
  ulimit -n 131072 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
mkdir -p bin
(cd bench && go build -o ../bin/ota-bench ./cmd/ota-bench)
exec bin/ota-bench "$@"
