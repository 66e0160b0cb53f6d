#!/usr/bin/env bash
# Makes sure PostgreSQL runs on this machine: installs the Debian package when missing,
# starts it when stopped, waits until it accepts connections. With --ui it also
# installs what Cadence Web and its browser test need (npm, chromium) when missing.
#   scripts/services.sh [--ui] [database...] The project runs its own
# Mosquitto (scripts/broker.sh), never the machine's.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    port_open "$port" && return 0
    sleep 0.5
  done
  log "$name did not open port $port"; return 1
}

apt_install() {
  log "installing $*"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if ! port_open $PG_PORT; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      apt_install postgresql
    fi
    local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    wait_port $PG_PORT PostgreSQL
  fi
  # Trust auth for local TCP connections as user postgres is what the defaults expect.
  if ! psql -h $PG_HOST -p $PG_PORT -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
    local hba=/etc/postgresql/$ver/main/pg_hba.conf
    log "enabling trust auth on 127.0.0.1 in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  fi
}

ensure_database() {
  local db=$1
  if [ "$(psql -h $PG_HOST -U postgres -d postgres -tAc "select 1 from pg_database where datname='$db'")" != 1 ]; then
    log "creating database $db"
    psql -h $PG_HOST -U postgres -d postgres -qc "create database \"$db\"" >/dev/null
  fi
}

# Cadence Web is a convenience: a failed install is reported, never fatal.
ensure_ui_tools() {
  local missing=()
  command -v npm >/dev/null || missing+=(npm)
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
  ((${#missing[@]} == 0)) && return 0
  apt_install "${missing[@]}" || log "could not install ${missing[*]}: no Cadence Web (or no browser test)"
}

if [ "${1:-}" = --ui ]; then
  shift
  ensure_ui_tools
fi
ensure_postgres
for db in "$@"; do ensure_database "$db"; done
log "PostgreSQL on $PG_HOST:$PG_PORT is up"
