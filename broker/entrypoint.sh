#!/bin/sh
# Writes mosquitto.conf from the environment, then runs Mosquitto in the foreground.
# The broker gets only SHA-256 hashes of the services' passwords.
#   OTA_BROKER_DATABASE_DSN        the control plane's database (device credentials)
#   OTA_MQTT_USERNAME/PASSWORD     the worker fleet's identity
#   OTA_CHIRPSTACK_MQTT_USERNAME/PASSWORD   ChirpStack's (network server and gateway bridge)
set -eu
: "${OTA_BROKER_DATABASE_DSN:?}" "${OTA_MQTT_USERNAME:?}" "${OTA_MQTT_PASSWORD:?}"
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
conf=/mosquitto/config/mosquitto.conf
{
  echo "per_listener_settings false"
  echo "listener 1883"
  echo "allow_anonymous false"
  echo "plugin /usr/lib/ota/ota-mosquitto-auth.so"
  echo "plugin_opt_database_dsn $OTA_BROKER_DATABASE_DSN"
  echo "plugin_opt_worker_username $OTA_MQTT_USERNAME"
  echo "plugin_opt_worker_password_sha256 $(hash "$OTA_MQTT_PASSWORD")"
  if [ -n "${OTA_CHIRPSTACK_MQTT_PASSWORD:-}" ]; then
    echo "plugin_opt_chirpstack_username ${OTA_CHIRPSTACK_MQTT_USERNAME:-chirpstack}"
    echo "plugin_opt_chirpstack_password_sha256 $(hash "$OTA_CHIRPSTACK_MQTT_PASSWORD")"
  fi
  echo "persistence true"
  echo "persistence_location /mosquitto/data/"
  echo "autosave_interval 60"
  echo "max_queued_messages 10000"
  echo "max_inflight_messages 100"
  echo "log_dest stdout"
  echo "log_type error"
  echo "log_type warning"
  echo "log_type notice"
  echo "connection_messages true"
} >"$conf"
chmod 600 "$conf"
exec mosquitto -c "$conf"
