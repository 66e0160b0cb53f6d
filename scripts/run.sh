#!/usr/bin/env bash
# make run: the whole system on this machine — PostgreSQL, the project's Mosquitto (every
# device with its own identity), the Cadence dev server (SQLite under .run/), Cadence Web,
# the ChirpStack test server (chirpstack-sim), the API, a worker, 5 simulated MQTT devices
# and 3 simulated LoRaWAN devices — then prints the commands to roll out an update to
# both kinds at once. Secrets are random, made on first use and kept in .run/.
#
# OTA_DEVSERVER_CLUSTER=n (0-3, default 0) runs a separate demo beside another one: its
# own Cadence dev server ports (7114+n×1000), database (ota, else ota_run_<n>), state
# directory (.run, else .run/run-<n>) and ports: API 8080+n, Cadence Web 8088+n,
# ChirpStack test server 8094+n, broker 1884 (else 1890+n, clear of make test's 1884+n).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

export OTA_DEVSERVER_CLUSTER=${OTA_DEVSERVER_CLUSTER:-0}
N=$OTA_DEVSERVER_CLUSTER
[[ $N =~ ^[0-3]$ ]] || { echo "run: OTA_DEVSERVER_CLUSTER=$N: want 0 to 3" >&2; exit 2; }
if ((N == 0)); then
  RUN=.run DB=ota BROKER_PORT=1884
else
  RUN=.run/run-$N DB=ota_run_$N BROKER_PORT=$((1890 + N))
fi
mkdir -p "$RUN"
API=${OTA_HTTP_LISTEN:-127.0.0.1:$((8080 + N))}
CHIRPSTACK=127.0.0.1:$((8094 + N))
DEVICES=${DEVICES:-5}
LORA_DEVICES=3
VERSION_FPORT=10
BROKER_DIR=$RUN/broker
DSN="host=127.0.0.1 port=5432 user=postgres dbname=$DB sslmode=disable"
export OTA_HTTP_LISTEN=$API OTA_HTTP_PUBLIC_URL=http://$API OTA_DATABASE_DSN=$DSN
export OTA_CADENCE_FRONTEND_PORT=$((7114 + N * 1000)) OTA_WORKER_MONITOR_LISTEN=127.0.0.1:$((9464 + N))
# Deployments of one machine's demos must not share the broker's subscription group.
export OTA_MQTT_SHARED_GROUP=ota-run-$N OTA_MQTT_CLIENT_ID=ota-run-worker-$N
# The demo's ChirpStack listens on loopback, which tenants may not name elsewhere.
export OTA_LORAWAN_ALLOW_LOCAL_ADDRESSES=true

# Random secrets of this checkout, not built-in ones: they persist because the database
# keeps what they protect.
rnd() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }
if [ ! -f "$RUN/secrets.env" ]; then
  (umask 077; printf 'OTA_AUTH_ADMIN_KEY=%s\nOTA_FIRMWARE_URL_SIGNING_KEY=%s\nOTA_SECRETS_ENCRYPTION_KEY=%s\n' \
    "$(rnd)" "$(rnd)" "$(rnd)" >"$RUN/secrets.env")
fi
grep -q '^CHIRPSTACK_API_TOKEN=' "$RUN/secrets.env" || (umask 077; echo "CHIRPSTACK_API_TOKEN=$(rnd)" >>"$RUN/secrets.env")
set -a; . "$RUN/secrets.env"; set +a
ADMIN_KEY=$OTA_AUTH_ADMIN_KEY

pids=()
started_cadence=
cleanup() {
  echo; echo "stopping…"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  scripts/cadence-web.sh stop >/dev/null 2>&1 || true
  [ -n "$started_cadence" ] && scripts/cadence-devserver.sh stop || true
  scripts/broker.sh stop "$BROKER_DIR" || true
}
trap cleanup EXIT INT TERM

scripts/services.sh --ui "$DB"
bin/ota-api migrate >"$RUN/migrate.log" 2>&1 || { cat "$RUN/migrate.log"; exit 1; }
scripts/broker.sh start "$BROKER_DIR" "$BROKER_PORT" "$DSN"
set -a; eval "$(scripts/broker.sh env "$BROKER_DIR")"; set +a
export OTA_MQTT_DEVICE_BROKER=$OTA_MQTT_BROKER
# Local development: webhooks may target receivers on this machine.
export OTA_WEBHOOKS_ALLOW_PRIVATE_TARGETS=${OTA_WEBHOOKS_ALLOW_PRIVATE_TARGETS:-true}
if ! scripts/cadence-devserver.sh status >/dev/null 2>&1; then
  scripts/cadence-devserver.sh start sqlite
  started_cadence=1
fi

# Cadence Web is a convenience: without it (no npm, install failed) the demo still runs.
WEB=
if scripts/cadence-web.sh start; then
  WEB=$(scripts/cadence-web.sh url)
  export OTA_CADENCE_WEB_URL=$WEB
else
  WEB_WHY="Cadence Web could not be installed or started (see above; retry: scripts/cadence-web.sh start)"
fi

# ChirpStack's API as the workers see it: devices, FUOTA deployments and their uplinks
# (each reports its firmware version on fPort $VERSION_FPORT every 30 s and after an update).
CHIRPSTACK_SIM_MQTT_PASSWORD=$OTA_CHIRPSTACK_MQTT_PASSWORD bin/chirpstack-sim --listen "$CHIRPSTACK" \
  --api-token "$CHIRPSTACK_API_TOKEN" --broker "$OTA_MQTT_BROKER" --mqtt-username "$OTA_CHIRPSTACK_MQTT_USERNAME" \
  --version-fport $VERSION_FPORT --report-interval 30s --timeout-scale 0.05 \
  >"$RUN/chirpstack-sim.env" 2>"$RUN/chirpstack-sim.log" & pids+=($!)

bin/ota-api >"$RUN/api.log" 2>&1 & pids+=($!)
bin/ota-worker >"$RUN/worker.log" 2>&1 & pids+=($!)
for _ in $(seq 1 120); do
  curl -fsS "http://$API/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || { echo "api exited:"; tail -20 "$RUN/api.log"; exit 1; }
  sleep 0.5
done
curl -fsS "http://$API/readyz" >/dev/null || { echo "api not ready:"; tail -20 "$RUN/api.log"; exit 1; }
for _ in $(seq 1 20); do grep -q '^CHIRPSTACK_DEVICE_PROFILE_ID=' "$RUN/chirpstack-sim.env" && break; sleep 0.5; done
grep -q '^CHIRPSTACK_DEVICE_PROFILE_ID=' "$RUN/chirpstack-sim.env" || { echo "chirpstack-sim:"; tail "$RUN/chirpstack-sim.log"; exit 1; }
. "$RUN/chirpstack-sim.env"

# One demo tenant, kept across runs (the database persists).
KEY=
[ -f "$RUN/demo.env" ] && . "$RUN/demo.env" && KEY=${OTA_KEY:-}
if [ -z "$KEY" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://$API/api/v1/tenant")" != 200 ]; then
  resp=$(curl -fsS -X POST "http://$API/api/v1/tenants" -H "Authorization: Bearer $ADMIN_KEY" \
    -H 'Content-Type: application/json' -d "{\"name\":\"demo-$(date +%s)\"}")
  KEY=$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' <<<"$resp")
  OTA_FW=
fi
H="Authorization: Bearer $KEY"
DOMAIN=$(curl -fsS -H "$H" "http://$API/api/v1/tenant" | sed -E 's/.*"cadence_domain":"([^"]+)".*/\1/')

# A firmware image for the simulated boards (version 1.1.0; devices start on 1.0.0).
FW_ID=${OTA_FW:-}
if [ -z "$FW_ID" ]; then
  head -c 65536 /dev/urandom >"$RUN/firmware-1.1.0.bin"
  resp=$(curl -fsS -X POST "http://$API/api/v1/firmware" -H "$H" \
    -F version=1.1.0 -F hardware_model=sim-board-v1 -F file=@"$RUN/firmware-1.1.0.bin")
  FW_ID=$(sed -E 's/.*"id":"([^"]+)".*/\1/' <<<"$resp")
fi
# OTA_API_URL and OTA_API_KEY are what otactl reads.
printf 'OTA_KEY=%s\nOTA_FW=%s\nexport OTA_API_URL=http://%s OTA_API_KEY=%s\n' "$KEY" "$FW_ID" "$API" "$KEY" >"$RUN/demo.env"

# The tenant's LoRaWAN side: its ChirpStack (this run's chirpstack-sim, whose devices
# live in memory) and 3 FUOTA-capable devices made through the API. Devices left from
# a previous run exist only in the database, so they are made again.
curl -fsS -o /dev/null -X PUT "http://$API/api/v1/lorawan/settings" -H "$H" -H 'Content-Type: application/json' \
  -d "{\"api_address\":\"$CHIRPSTACK_ADDR\",\"api_token\":\"$CHIRPSTACK_API_TOKEN\",\"chirpstack_tenant_id\":\"$CHIRPSTACK_TENANT_ID\",
       \"application_id\":\"$CHIRPSTACK_APPLICATION_ID\",\"event_encoding\":\"json\",\"version_fport\":$VERSION_FPORT}"
for i in $(seq 1 "$LORA_DEVICES"); do
  id=$(printf 'lora-%04d' "$i")
  curl -s -o /dev/null -X DELETE "http://$API/api/v1/lorawan/devices/$id" -H "$H" || true
  code=$(curl -s -o "$RUN/lorawan-device.json" -w '%{http_code}' -X POST "http://$API/api/v1/lorawan/devices" -H "$H" \
    -H 'Content-Type: application/json' -d "{\"id\":\"$id\",\"dev_eui\":\"$(printf '70b3d57ed000%04x' "$i")\",
      \"join_eui\":\"0000000000000000\",\"app_key\":\"$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')\",
      \"device_profile_id\":\"$CHIRPSTACK_DEVICE_PROFILE_ID\",\"hardware_model\":\"sim-board-v1\",\"firmware_version\":\"1.0.0\"}")
  case $code in 201 | 202) ;; *) echo "LoRaWAN device $id not made ($code):"; cat "$RUN/lorawan-device.json"; exit 1 ;; esac
done

bin/ota-devsim --api "http://$API" --api-key "$KEY" --register --count "$DEVICES" --heartbeat 5s \
  >"$RUN/devsim.log" 2>&1 & pids+=($!)
sleep 2

IDS=$( (seq -f 'sim-%04g' 1 "$DEVICES"; seq -f 'lora-%04g' 1 "$LORA_DEVICES") | paste -sd, -)
if [ -n "$WEB" ]; then
  WEB_LINE="Cadence Web  $WEB/domains/$DOMAIN/workflows   (your tenant's workflows; every run's history)"
else
  WEB_LINE="Cadence Web  not running: $WEB_WHY"
fi
cat <<EOT

The OTA control plane is running (cluster $N):
  API          http://$API   (logs: $RUN/api.log)
  worker       $RUN/worker.log
  Cadence      gRPC 127.0.0.1:$OTA_CADENCE_FRONTEND_PORT   (logs: .run/cadence-devserver*.log)
  $WEB_LINE
  broker       $OTA_MQTT_BROKER: no anonymous client, each device with its own credentials ($BROKER_DIR/mosquitto.log)
  ChirpStack   chirpstack-sim on $CHIRPSTACK_ADDR, the demo tenant's LoRaWAN settings saved ($RUN/chirpstack-sim.log)
  devices      $DEVICES MQTT devices sim-0001… and $LORA_DEVICES LoRaWAN devices lora-0001… (FUOTA), all
               sim-board-v1 on firmware 1.0.0 ($RUN/devsim.log)

Your tenant's API key and a firmware id are in $RUN/demo.env. One campaign over both kinds of
device, with otactl (bin/otactl; every command: docs/otactl.md):

  . $RUN/demo.env
  CAMPAIGN=\$(bin/otactl campaign create --name "first rollout" --firmware \$OTA_FW --device $IDS -q)
  bin/otactl campaign dry-run \$CAMPAIGN
  bin/otactl campaign execute \$CAMPAIGN --watch       # live, a bar per wave; exit 1 unless it completes
  bin/otactl campaign devices \$CAMPAIGN
  bin/otactl device state sim-0003                     # live state, transitions, its Cadence Web link

Ctrl-C stops everything.
EOT
wait "${pids[1]}"
