#!/usr/bin/env bash
# A real streaming replica of the local PostgreSQL cluster, for analytics reads (DATABASE_REPLICA_URL).
# Usage: deploy/scripts/ensure-replica.sh [start|stop|drop] [PORT] [DIR]   (defaults: start 5433 var/pg-replica)
# start: idempotent; allows replication connections from 127.0.0.1 on the primary, takes a base backup with
# pg_basebackup -R (the whole cluster, once per DIR) through a physical replication slot named after PORT (so a
# busy primary cannot recycle WAL the replica still needs), and starts it as a hot standby on PORT.
# stop: stops the replica on DIR. drop: stops it, drops its slot (the primary stops keeping WAL for it) and DIR.
# The primary is never touched beyond its pg_hba.conf line and the slot.
set -euo pipefail

action=${1:-start}
port=${2:-5433}
dir=$(realpath -m "${3:-var/pg-replica}")
bin=/usr/lib/postgresql/$(ls /etc/postgresql | sort -V | tail -n 1)/bin
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

slot=survey_replica_$port
drop_slot() {
  psql -h 127.0.0.1 -U postgres -qAtc \
    "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '$slot'" >/dev/null
}

if [ "$action" = stop ] || [ "$action" = drop ]; then
  [ -f "$dir/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
  if [ "$action" = drop ]; then
    drop_slot
    rm -rf "$dir"
  fi
  exit 0
fi

if pg_isready -q -h 127.0.0.1 -p "$port"; then
  exit 0
fi

hba=$(psql -h 127.0.0.1 -U postgres -Atc "show hba_file")
if ! grep -qE '^host\s+replication\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
  echo "host replication all 127.0.0.1/32 trust" >>"$hba"
  psql -h 127.0.0.1 -U postgres -qAtc "select pg_reload_conf()" >/dev/null
fi

if [ ! -f "$dir/standby.signal" ]; then
  echo "Taking a base backup of the local cluster into $dir (once)"
  rm -rf "$dir"
  drop_slot  # a slot left by an earlier copy of DIR would keep WAL forever
  mkdir -p "$dir"
  chown postgres "$dir"
  chmod 700 "$dir"
  as_postgres pg_basebackup -h 127.0.0.1 -p 5432 -U postgres -D "$dir" -R -X stream -c fast -C -S "$slot"
  cp "$hba" "$dir/pg_hba.conf"
fi
# Debian keeps the configuration outside the data directory: the replica gets a minimal one of its own.
cat >"$dir/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
hot_standby = on
max_connections = 100
# A fresh base backup is synced to disk before recovery starts: syncfs does that per file system, not per file.
recovery_init_sync_method = syncfs
CONF
chown postgres "$dir/postgresql.conf" "$dir/pg_hba.conf"
as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/replica.log" -w -t 600 start >/dev/null
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 1; done
pg_isready -h 127.0.0.1 -p "$port"
