#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and benchmarks, on loopback only.
#
#   scripts/pg_cluster.sh start DIR [PORT]   # creates DIR, starts the server; prints its conninfo
#   scripts/pg_cluster.sh restart DIR        # pg_ctl restart -m immediate (a crash, then recovery)
#   scripts/pg_cluster.sh stop DIR           # stops it (DIR stays; rm -rf it yourself)
#   scripts/pg_cluster.sh conninfo DIR       # the conninfo again
#
# PostgreSQL refuses to run as root: run as root, the cluster belongs to the `postgres` user
# (created by Debian's postgresql package). Database `agentrt`, user `agentrt`, trust
# authentication on 127.0.0.1 only. PORT 0 or unset: a free port.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,11p' "$0" >&2; exit 2; }
[ -x "$bin/initdb" ] || { echo "pg_cluster: PostgreSQL 15 is not installed ($bin/initdb)" >&2; exit 77; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

conninfo() {
  echo "host=127.0.0.1 port=$(cat "$dir/port") dbname=agentrt user=agentrt connect_timeout=5"
}

case "$cmd" in
  start)
    port=${3:-0}
    [ "$port" != 0 ] || port=$(free_port)
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U agentrt -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    # Durable commits (fsync on, the default): the figures a deployment would see.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c shared_buffers=128MB" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U agentrt agentrt
    conninfo
    ;;
  restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -m immediate restart >/dev/null
    ;;
  stop)
    [ -d "$dir/data" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 30 -m fast stop >/dev/null 2>&1 || true
    ;;
  conninfo)
    conninfo
    ;;
  *)
    sed -n '2,11p' "$0" >&2
    exit 2
    ;;
esac
