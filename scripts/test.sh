#!/usr/bin/env bash
# make test: services up, a fresh test database, the project's broker (per-device
# identities, no anonymous client) on it, dev Cadence up (in memory), every module's tests.
# The test stack is its own: dev Cadence cluster 1 (gRPC 8114), so make run (cluster 0)
# can stay up meanwhile. OTA_DEVSERVER_CLUSTER=2 or 3 runs a further, separate test stack
# (database ota_test_<n>, broker port 1884+n). OTA_IT_RUN=<pattern> runs only the
# integration tests it matches, on the same stack, without the unit stage.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

export OTA_DEVSERVER_CLUSTER=${OTA_DEVSERVER_CLUSTER:-1}
case $OTA_DEVSERVER_CLUSTER in
1) TEST_DB=ota_test BROKER_DIR=.run/test-broker ;;
2 | 3) TEST_DB=ota_test_$OTA_DEVSERVER_CLUSTER BROKER_DIR=.run/test-broker-$OTA_DEVSERVER_CLUSTER ;;
*) echo "test: OTA_DEVSERVER_CLUSTER=$OTA_DEVSERVER_CLUSTER: want 1, 2 or 3 (0 is make run's)" >&2; exit 2 ;;
esac
BROKER_PORT=$((1884 + OTA_DEVSERVER_CLUSTER))
DSN="host=127.0.0.1 port=5432 user=postgres dbname=$TEST_DB sslmode=disable"

scripts/services.sh --ui
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" -c "CREATE DATABASE $TEST_DB"
mkdir -p bin
go build -o bin/ota-api ./api/cmd/ota-api
OTA_DATABASE_DSN="$DSN" bin/ota-api migrate >/dev/null

started_cadence=
web_pid=
cleanup() {
  [ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null || true
  scripts/cadence-web.sh stop >/dev/null 2>&1 || true
  scripts/broker.sh stop "$BROKER_DIR" || true
  [ -n "$started_cadence" ] && scripts/cadence-devserver.sh stop || true
}
trap cleanup EXIT
scripts/broker.sh stop "$BROKER_DIR"
rm -f "$BROKER_DIR/mosquitto.db"
scripts/broker.sh start "$BROKER_DIR" "$BROKER_PORT" "$DSN"
eval "$(scripts/broker.sh env "$BROKER_DIR")"
export OTA_DATABASE_DSN="$DSN" OTA_IT_DATABASE="$TEST_DB"
export OTA_CADENCE_FRONTEND_PORT=$((7114 + OTA_DEVSERVER_CLUSTER * 1000))

if ! scripts/cadence-devserver.sh status >/dev/null 2>&1; then
  scripts/cadence-devserver.sh start memory
  started_cadence=1
fi
# Cadence Web on this cluster's dev server, for the browser test (it skips, saying why,
# when Cadence Web could not be installed). Its first install takes minutes: it runs
# while the unit tests do.
mkdir -p .run
web_log=.run/cadence-web-start-$OTA_DEVSERVER_CLUSTER.log
scripts/cadence-web.sh start >"$web_log" 2>&1 &
web_pid=$!

if [ -n "${OTA_IT_RUN:-}" ]; then
  wait "$web_pid" && export OTA_IT_CADENCE_WEB=$(scripts/cadence-web.sh url) || true
  (cd integration && go test -count=1 -p 1 -timeout 20m -run "$OTA_IT_RUN" -v ./... 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)')
  exit
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi
for m in pkg proto api worker simulator otactl bench; do
  echo "== go vet + test: $m"
  (cd "$m" && go vet ./... && go test -count=1 ./...)
done
echo "== go vet + test: broker (the broker's authentication plugin, its own module, outside go.work)"
(cd broker && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...)
echo "== go vet + test: cadence-devserver (its own module, outside go.work)"
(cd cadence-devserver && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...)
echo "== go vet + test: deploy (Kubernetes manifests rendered and checked, its own module, outside go.work)"
(cd deploy && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...)
cat "$web_log"
if wait "$web_pid"; then
  export OTA_IT_CADENCE_WEB=$(scripts/cadence-web.sh url)
else
  echo "test: no Cadence Web (see above): its browser test will skip" >&2
fi
echo "== integration (real Cadence, PostgreSQL, Mosquitto with per-device identities)"
(cd integration && go vet ./... && go test -count=1 -p 1 -timeout 20m ./...)
