#!/usr/bin/env bash
# Writes secrets.env next to this script with random values (kept if it exists): the
# dev overlay's secretGenerator turns it into the Secret ota-secrets. Never commit it.
#   make-secrets.sh [dir]   (default: this script's directory)
set -euo pipefail
dir=${1:-$(dirname "$0")}
out=$dir/secrets.env
[ -f "$out" ] && { echo "$out exists; keeping it"; exit 0; }
rnd() { head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }
pg=$(rnd)
(
  umask 077
  cat >"$out" <<EOT
POSTGRES_PASSWORD=$pg
OTA_DATABASE_DSN=host=postgres port=5432 user=postgres password=$pg dbname=ota sslmode=disable
OTA_AUTH_ADMIN_KEY=$(rnd)
OTA_FIRMWARE_URL_SIGNING_KEY=$(rnd)
OTA_SECRETS_ENCRYPTION_KEY=$(rnd)
OTA_MQTT_PASSWORD=$(rnd)
EOT
)
echo "wrote $out"
