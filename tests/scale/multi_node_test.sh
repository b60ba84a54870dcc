#!/usr/bin/env bash
# Scale-out on PostgreSQL, as real processes on loopback: a throwaway PostgreSQL 15 cluster
# (scripts/pg_cluster.sh), HAProxy configured like deploy/haproxy/agentrt.cfg, three
# agentrt-server nodes sharing the database, and 24 sessions driven at once through the
# proxy while one node is frozen (SIGSTOP, longer than its lease), another is killed and
# restarted, and PostgreSQL itself is restarted (crash and recovery). Then the database and
# the API are checked: every session's turns exactly 1..n, every acknowledged turn there
# once with its request id, replays that agree, epochs that never go back, at least one
# stale commit refused. multi_node_test.py does the work.
#
# Usage: multi_node_test.sh path/to/agentrt-server
# Needs PostgreSQL 15 (Debian: postgresql-15) and HAProxy (Debian: haproxy); without them
# it says so and exits 77 (skipped).
set -uo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 SERVER_BINARY" >&2
  exit 2
fi
server=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
  echo "SKIP: PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin; Debian: postgresql-15)"
  exit 77
fi
if ! command -v psql >/dev/null; then
  echo "SKIP: no psql (Debian: postgresql-client-15)"
  exit 77
fi
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
  echo "SKIP: HAProxy is not installed (Debian: haproxy)"
  exit 77
fi
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "SKIP: running as root and there is no postgres user to own the cluster (Debian's postgresql package creates it)"
  exit 77
fi
if [ ! -x "$server" ]; then
  echo "FAILED - no server binary at $server"
  exit 1
fi

work=$(mktemp -d /tmp/agentrt-scale.XXXXXX)
# The cluster's own directory: pg_cluster.sh hands it to the postgres user when run as root.
pgdir=$(mktemp -d /tmp/agentrt-scale-pg.XXXXXX)
py=
cleanup() {
  local p
  # The Python side stops its nodes and HAProxy itself; these are for when it could not
  # (killed, crashed): every pid it started is in $work/pids.
  [ -z "$py" ] || kill "$py" 2>/dev/null
  [ -z "$py" ] || wait "$py" 2>/dev/null
  if [ -f "$work/pids" ]; then
    while read -r p; do
      kill -CONT "$p" 2>/dev/null
      kill -KILL "$p" 2>/dev/null
    done <"$work/pids"
  fi
  "$repo/scripts/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

if ! conninfo=$("$repo/scripts/pg_cluster.sh" start "$pgdir" 2>"$work/pg_start.err"); then
  echo "FAILED - start PostgreSQL (scripts/pg_cluster.sh start):"
  cat "$work/pg_start.err"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "# PostgreSQL at: $conninfo"

# In the background, so that a signal to this script runs the cleanup at once.
/usr/bin/python3 "$here/multi_node_test.py" --server "$server" --repo "$repo" --work "$work" \
  --pgdir "$pgdir" --conninfo "$conninfo" --haproxy "$haproxy" &
py=$!
wait "$py"
status=$?
py=
exit "$status"
