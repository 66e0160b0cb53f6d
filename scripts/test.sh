#!/usr/bin/env bash
# make test: services up, a fresh test database, the project's broker (per-device
# identities, no anonymous client) on it, dev Cadence up (in memory), every module's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

TEST_DB=ota_test
BROKER_DIR=.run/test-broker
BROKER_PORT=1885
DSN="host=127.0.0.1 port=5432 user=postgres dbname=$TEST_DB sslmode=disable"

scripts/services.sh
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" -c "CREATE DATABASE $TEST_DB"
mkdir -p bin
go build -o bin/ota-api ./api/cmd/ota-api
OTA_DATABASE_DSN="$DSN" bin/ota-api migrate >/dev/null

started_cadence=
cleanup() {
  scripts/broker.sh stop "$BROKER_DIR" || true
  [ -n "$started_cadence" ] && scripts/cadence-devserver.sh stop || true
}
trap cleanup EXIT
scripts/broker.sh stop "$BROKER_DIR"
rm -f "$BROKER_DIR/mosquitto.db"
scripts/broker.sh start "$BROKER_DIR" "$BROKER_PORT" "$DSN"
eval "$(scripts/broker.sh env "$BROKER_DIR")"
export OTA_DATABASE_DSN="$DSN" OTA_IT_DATABASE="$TEST_DB"

if ! scripts/cadence-devserver.sh status >/dev/null 2>&1; then
  scripts/cadence-devserver.sh start memory
  started_cadence=1
fi

for m in pkg proto api worker simulator; do
  echo "== go vet + test: $m"
  (cd "$m" && go vet ./... && go test -count=1 ./...)
done
echo "== go vet + test: broker (the broker's authentication plugin, its own module, outside go.work)"
(cd broker && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...)
echo "== go vet + test: cadence-devserver (its own module, outside go.work)"
(cd cadence-devserver && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...)
echo "== integration (real Cadence, PostgreSQL, Mosquitto with per-device identities)"
(cd integration && go vet ./... && go test -count=1 -p 1 -timeout 20m ./...)
