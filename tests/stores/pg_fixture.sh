#!/usr/bin/env bash
# The ctest fixture of postgres_store_test: one throwaway PostgreSQL cluster for all its
# cases (scripts/pg_cluster.sh).
#
#   pg_fixture.sh start FILE   # starts a cluster, writes its conninfo to FILE
#   pg_fixture.sh stop FILE    # stops it and removes its directory
#
# Without PostgreSQL installed it writes no FILE and succeeds: the test cases then skip.
set -euo pipefail
cmd=${1:?start or stop}
file=${2:?conninfo file}
cluster="$(dirname "$0")/../../scripts/pg_cluster.sh"

case "$cmd" in
  start)
    "$0" stop "$file" # a cluster left by an interrupted run
    dir=$(mktemp -d /tmp/agentrt-pg.XXXXXX)
    echo "$dir" >"$file.dir"
    rc=0
    conninfo=$(bash "$cluster" start "$dir") || rc=$?
    if [ $rc -eq 77 ]; then
      echo "pg_fixture: PostgreSQL is not installed: the PostgreSQL store's tests skip"
      exit 0
    fi
    [ $rc -eq 0 ] || exit $rc
    echo "$conninfo" >"$file"
    echo "pg_fixture: $conninfo"
    ;;
  stop)
    rm -f "$file"
    [ -f "$file.dir" ] || exit 0
    dir=$(cat "$file.dir")
    bash "$cluster" stop "$dir"
    rm -rf "$dir" "$file.dir"
    ;;
  *)
    echo "pg_fixture: unknown command $cmd" >&2
    exit 2
    ;;
esac
