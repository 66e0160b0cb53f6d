#!/usr/bin/env bash
# make test: services up, dev Cadence up (in memory), every module's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

scripts/services.sh
started_cadence=
if ! scripts/cadence-devserver.sh status >/dev/null 2>&1; then
  scripts/cadence-devserver.sh start memory
  started_cadence=1
fi
cleanup() { [ -n "$started_cadence" ] && scripts/cadence-devserver.sh stop || true; }
trap cleanup EXIT

for m in pkg proto api worker simulator; do
  echo "== go vet + test: $m"
  (cd "$m" && go vet ./... && go test -count=1 ./...)
done
echo "== go vet + test: cadence-devserver (its own module, outside go.work)"
(cd cadence-devserver && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...)
echo "== integration (real Cadence, PostgreSQL, Mosquitto)"
(cd integration && go vet ./... && go test -count=1 -p 1 -timeout 20m ./...)
