#!/usr/bin/env bash
# gRPC through the shipped proxy config: a throwaway PostgreSQL cluster, two agentrt-server
# nodes with --grpc-port, and HAProxy running deploy/haproxy/agentrt.cfg pointed at them
# (grpc_proxy_test.py derives it). Python's grpcio sends 20 sessions x 3 tasks through the
# proxy with x-session-id; then each node is asked directly for a session the other holds.
# Usage: grpc_proxy_test.sh path/to/agentrt-server
# Needs PostgreSQL 15, HAProxy, psql, protoc, /usr/bin/grpc_python_plugin and
# /usr/bin/python3 with grpc and protobuf; without them it says so and exits 77 (skipped).
set -uo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 SERVER_BINARY" >&2
  exit 2
fi
server=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/../support/python_grpc.sh"

skip() {
  echo "SKIP: $1"
  exit 77
}
[ -x /usr/lib/postgresql/15/bin/initdb ] || skip "PostgreSQL 15 is not installed (Debian: postgresql-15)"
command -v psql >/dev/null || skip "no psql (Debian: postgresql-client-15)"
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || skip "HAProxy is not installed (Debian: haproxy)"
require_python_grpc
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  skip "running as root and there is no postgres user to own the cluster"
fi

work=$(mktemp -d /tmp/agentrt-grpc-proxy.XXXXXX)
pgdir=$(mktemp -d /tmp/agentrt-grpc-proxy-pg.XXXXXX)
py=
cleanup() {
  [ -z "$py" ] || kill "$py" 2>/dev/null
  [ -z "$py" ] || wait "$py" 2>/dev/null
  if [ -f "$work/pids" ]; then
    while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$work/pids"
  fi
  "$repo/scripts/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

if ! conninfo=$("$repo/scripts/pg_cluster.sh" start "$pgdir" 2>"$work/pg.err"); then
  echo "FAILED - start PostgreSQL:"
  cat "$work/pg.err"
  exit 1
fi
python_grpc_stubs "$repo/proto/agent_platform.proto" "$work/stubs" || exit 1

/usr/bin/python3 "$here/grpc_proxy_test.py" --server "$server" --repo "$repo" --work "$work" \
  --conninfo "$conninfo" --haproxy "$haproxy" &
py=$!
wait "$py"
status=$?
py=
exit "$status"
