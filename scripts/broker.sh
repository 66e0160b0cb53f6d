#!/usr/bin/env bash
# The project's own Mosquitto: no anonymous client, every device with its own identity,
# enforced by the control plane's authentication plugin (broker/), loopback only. make
# run, make test and the benchmarks each start one; the machine's broker is not touched.
#
#   scripts/broker.sh build                  build bin/ota-mosquitto-auth.so when stale
#   scripts/broker.sh start DIR PORT DSN     start (initialising DIR on first use); DSN is the
#                                            control plane's database, which holds device credentials
#   scripts/broker.sh stop DIR               stop the broker started in DIR
#   scripts/broker.sh env DIR                print the exports the services need (broker URL,
#                                            worker and ChirpStack credentials)
#
# DIR keeps mosquitto.conf, the broker's persistence, its log, and services.env: the
# worker's and ChirpStack's random passwords, made on first use (the broker itself only
# gets their SHA-256).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PLUGIN=$ROOT/bin/ota-mosquitto-auth.so
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

log() { printf '[broker] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  log "installing $*"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

build() {
  command -v mosquitto >/dev/null || apt_install mosquitto
  [ -f /usr/include/mosquitto_broker.h ] && [ -f /usr/include/mosquitto.h ] || apt_install mosquitto-dev libmosquitto-dev
  command -v gcc >/dev/null || apt_install gcc
  local stamp; stamp=$(cat broker/go.mod broker/go.sum $(find broker pkg/brokeridentity proto/topic -name '*.go' -o -name '*.c' | sort) |
    sha256sum | cut -c1-16)
  if [ -f "$PLUGIN" ] && [ "$(cat "$PLUGIN.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  log "building the authentication plugin (bin/ota-mosquitto-auth.so)"
  mkdir -p bin
  (cd broker && GOWORK=off CGO_ENABLED=1 go build -buildmode=c-shared -o "$PLUGIN" ./authplugin)
  rm -f "${PLUGIN%.so}.h"
  chmod 644 "$PLUGIN"
  echo "$stamp" >"$PLUGIN.stamp"
}

random_secret() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }
sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

init_dir() {
  local dir=$1 port=$2 dsn=$3
  mkdir -p "$dir"
  if [ ! -f "$dir/services.env" ]; then
    (umask 077; printf 'OTA_MQTT_USERNAME=ota-worker\nOTA_MQTT_PASSWORD=%s\nOTA_CHIRPSTACK_MQTT_USERNAME=chirpstack\nOTA_CHIRPSTACK_MQTT_PASSWORD=%s\n' \
      "$(random_secret)" "$(random_secret)" >"$dir/services.env")
  fi
  # shellcheck disable=SC1091
  . "$dir/services.env"
  cat >"$dir/mosquitto.conf" <<EOF
# Written by scripts/broker.sh: the project's broker for local runs and tests.
per_listener_settings false
listener $port 127.0.0.1
allow_anonymous false
plugin $PLUGIN
plugin_opt_database_dsn $dsn
plugin_opt_worker_username $OTA_MQTT_USERNAME
plugin_opt_worker_password_sha256 $(sha256_hex "$OTA_MQTT_PASSWORD")
plugin_opt_chirpstack_username $OTA_CHIRPSTACK_MQTT_USERNAME
plugin_opt_chirpstack_password_sha256 $(sha256_hex "$OTA_CHIRPSTACK_MQTT_PASSWORD")
persistence true
persistence_location $dir/
autosave_interval 10
# Reports queue for a worker's persistent session while it restarts.
max_queued_messages 10000
# A worker takes this many unacknowledged reports at once.
max_inflight_messages 100
pid_file $dir/mosquitto.pid
log_dest file $dir/mosquitto.log
log_type error
log_type warning
log_type notice
EOF
  chmod 600 "$dir/mosquitto.conf"
  # Started as root, mosquitto drops to its own user, which must write its state here.
  if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then
    chown mosquitto "$dir"
    touch "$dir/mosquitto.log" && chown mosquitto "$dir/mosquitto.log"
  fi
}

start() {
  local dir port dsn
  dir=$(realpath -m "$1") port=$2 dsn=$3
  build
  if [ -f "$dir/mosquitto.pid" ] && kill -0 "$(cat "$dir/mosquitto.pid")" 2>/dev/null; then
    log "already running (pid $(cat "$dir/mosquitto.pid")) on 127.0.0.1:$port"
    return 0
  fi
  if port_open "$port"; then
    log "port $port is taken by another process"; return 1
  fi
  init_dir "$dir" "$port" "$dsn"
  mosquitto -d -c "$dir/mosquitto.conf"
  for _ in $(seq 1 100); do
    port_open "$port" && { log "mosquitto with per-device identities on 127.0.0.1:$port ($dir)"; return 0; }
    sleep 0.1
  done
  log "mosquitto did not open port $port; see $dir/mosquitto.log"; return 1
}

stop() {
  local dir; dir=$(realpath -m "$1")
  [ -f "$dir/mosquitto.pid" ] || return 0
  local pid; pid=$(cat "$dir/mosquitto.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$dir/mosquitto.pid"
}

env_of() {
  local dir; dir=$(realpath -m "$1")
  local port; port=$(awk '/^listener /{print $2}' "$dir/mosquitto.conf")
  echo "export OTA_MQTT_BROKER=tcp://127.0.0.1:$port"
  sed 's/^/export /' "$dir/services.env"
}

case "${1:-}" in
  build) build ;;
  start) start "$2" "$3" "$4" ;;
  stop) stop "$2" ;;
  env) env_of "$2" ;;
  *) echo "usage: $0 build | start DIR PORT DSN | stop DIR | env DIR" >&2; exit 2 ;;
esac
