#!/usr/bin/env bash
# make run: the whole system on this machine — PostgreSQL, the project's Mosquitto (every
# device with its own identity), the Cadence dev server (SQLite under .run/), the API, a
# worker and a simulated fleet of 5 devices — then prints the commands to roll out an
# update. Secrets are random, made on first use and kept in .run/secrets.env.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
RUN=.run
mkdir -p "$RUN"
API=${OTA_HTTP_LISTEN:-127.0.0.1:8080}
DEVICES=${DEVICES:-5}
BROKER_DIR=$RUN/broker
BROKER_PORT=${OTA_BROKER_PORT:-1884}
DSN="host=127.0.0.1 port=5432 user=postgres dbname=ota sslmode=disable"

# Random secrets of this checkout, not built-in ones: they persist because the database
# keeps what they protect.
if [ ! -f "$RUN/secrets.env" ]; then
  rnd() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }
  (umask 077; printf 'OTA_AUTH_ADMIN_KEY=%s\nOTA_FIRMWARE_URL_SIGNING_KEY=%s\nOTA_SECRETS_ENCRYPTION_KEY=%s\n' \
    "$(rnd)" "$(rnd)" "$(rnd)" >"$RUN/secrets.env")
fi
set -a; . "$RUN/secrets.env"; set +a
ADMIN_KEY=$OTA_AUTH_ADMIN_KEY

pids=()
started_cadence=
cleanup() {
  echo; echo "stopping…"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$started_cadence" ] && scripts/cadence-devserver.sh stop || true
  scripts/broker.sh stop "$BROKER_DIR" || true
}
trap cleanup EXIT INT TERM

scripts/services.sh ota
OTA_DATABASE_DSN="$DSN" bin/ota-api migrate >"$RUN/migrate.log" 2>&1 || { cat "$RUN/migrate.log"; exit 1; }
scripts/broker.sh start "$BROKER_DIR" "$BROKER_PORT" "$DSN"
set -a; eval "$(scripts/broker.sh env "$BROKER_DIR")"; set +a
export OTA_MQTT_DEVICE_BROKER=$OTA_MQTT_BROKER
# Local development: webhooks may target receivers on this machine.
export OTA_WEBHOOKS_ALLOW_PRIVATE_TARGETS=${OTA_WEBHOOKS_ALLOW_PRIVATE_TARGETS:-true}
started_cadence=
if ! scripts/cadence-devserver.sh status >/dev/null 2>&1; then
  scripts/cadence-devserver.sh start sqlite
  started_cadence=1
fi

bin/ota-api >"$RUN/api.log" 2>&1 & pids+=($!)
bin/ota-worker >"$RUN/worker.log" 2>&1 & pids+=($!)
for _ in $(seq 1 120); do
  curl -fsS "http://$API/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "api exited:"; tail -20 "$RUN/api.log"; exit 1; }
  sleep 0.5
done
curl -fsS "http://$API/readyz" >/dev/null || { echo "api not ready:"; tail -20 "$RUN/api.log"; exit 1; }

# One demo tenant, kept across runs (the database persists).
KEY=
[ -f "$RUN/demo.env" ] && . "$RUN/demo.env" && KEY=${OTA_KEY:-}
if [ -z "$KEY" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://$API/api/v1/tenant")" != 200 ]; then
  resp=$(curl -fsS -X POST "http://$API/api/v1/tenants" -H "Authorization: Bearer $ADMIN_KEY" \
    -H 'Content-Type: application/json' -d "{\"name\":\"demo-$(date +%s)\"}")
  KEY=$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' <<<"$resp")
fi

# A firmware image for the simulated boards (version 1.1.0; devices start on 1.0.0).
FW_ID=${OTA_FW:-}
if [ -z "$FW_ID" ]; then
  head -c 262144 /dev/urandom >"$RUN/firmware-1.1.0.bin"
  resp=$(curl -fsS -X POST "http://$API/api/v1/firmware" -H "Authorization: Bearer $KEY" \
    -F version=1.1.0 -F hardware_model=sim-board-v1 -F file=@"$RUN/firmware-1.1.0.bin")
  FW_ID=$(sed -E 's/.*"id":"([^"]+)".*/\1/' <<<"$resp")
fi
printf 'OTA_KEY=%s\nOTA_FW=%s\n' "$KEY" "$FW_ID" >"$RUN/demo.env"

bin/ota-devsim --api "http://$API" --api-key "$KEY" --register --count "$DEVICES" --heartbeat 5s \
  >"$RUN/devsim.log" 2>&1 & pids+=($!)
sleep 2

IDS=$(seq -f 'sim-%04g' 1 "$DEVICES" | sed 's/.*/"&"/' | paste -sd, -)
cat <<EOT

The OTA control plane is running:
  API        http://$API   (logs: $RUN/api.log)
  worker     $RUN/worker.log
  Cadence    gRPC 127.0.0.1:7114   (logs: $RUN/cadence-devserver.log)
  broker     $OTA_MQTT_BROKER: no anonymous client, each device with its own credentials ($BROKER_DIR/mosquitto.log)
  devices    $DEVICES simulated devices sim-0001… on sim-board-v1, firmware 1.0.0 ($RUN/devsim.log)

Your tenant's API key and a firmware id are in $RUN/demo.env. Try:

  . $RUN/demo.env
  curl -s -X POST http://$API/api/v1/ota/campaigns -H "Authorization: Bearer \$OTA_KEY" \\
    -H 'Content-Type: application/json' \\
    -d '{"name":"first rollout","firmware_id":"'\$OTA_FW'","device_ids":[$IDS]}'
  curl -s -X POST http://$API/api/v1/ota/campaigns/<campaign id>/execute -H "Authorization: Bearer \$OTA_KEY"
  curl -s http://$API/api/v1/ota/campaigns/<campaign id>/status -H "Authorization: Bearer \$OTA_KEY"

Ctrl-C stops everything.
EOT
wait "${pids[0]}"
