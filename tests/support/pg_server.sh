#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: a fresh cluster in DIR, listening on a Unix socket in DIR only
# (no TCP), trust authentication for the superuser `xp`. As root it runs as `nobody` (PostgreSQL
# refuses to run as root).
#   pg_server.sh start DIR      prints the URL of its `postgres` database
#   pg_server.sh createdb DIR NAME   prints the URL of a new, empty database NAME
#   pg_server.sh stop DIR       stops the server (DIR is left for the caller to remove)
set -euo pipefail
bin=${XP_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?start|createdb|stop}
dir=${2:?data folder}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    [ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries in $bin (scripts/install-deps installs postgresql)" >&2; exit 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown nobody "$dir"; fi
    chmod 700 "$dir"
    if ! as_owner "$bin/initdb" -D "$dir/data" -U xp -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
      cat "$dir/initdb.log" >&2
      exit 1
    fi
    # fsync off: a test server's data may be lost with the machine, and tests must be fast.
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null; then
      cat "$dir/server.log" >&2
      exit 1
    fi
    echo "postgresql://xp@/postgres?host=$dir"
    ;;
  createdb)
    name=${3:?database name}
    "$bin/psql" -h "$dir" -U xp -d postgres -qAtX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >/dev/null
    echo "postgresql://xp@/$name?host=$dir"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: pg_server.sh start|createdb|stop DIR [NAME]" >&2
    exit 2
    ;;
esac
