#!/usr/bin/env bash
# Scale-out on PostgreSQL (docs: SCALE-OUT.md), two parts, each against a throwaway
# PostgreSQL 15 cluster of its own on loopback (scripts/pg_cluster.sh):
#   durable-pg  agentrt-bench --scenario durable-pg: the durable workload (1000 sessions,
#               every turn committed before its reply) on SQLite, on the PostgreSQL store as
#               one node, and as three nodes in one process splitting the sessions by a
#               consistent hash; turns/s of each, same run
#   takeover    takeover.py: agentrt-server nodes sharing the database, sessions opened on
#               node A, A killed (SIGKILL), the time until node B serves each of them
#               (p50/p99/max, against lease + 1 s), every session's turns checked
# Figures are reported, not asserted: a failed check (a lost or doubled turn, a session
# never served again) fails this script, a missed target does not. Without PostgreSQL 15
# it says so and exits 0 (skipped). Builds nothing.
#
#   bench/scale/run.sh [BUILD_DIR] [--lease-ms 2000] [--sessions 200] [--json FILE]
#                      [-- agentrt-bench options, e.g. --calls 100000]
#
# BUILD_DIR defaults to build/release (relative to the repository root): agentrt-bench and
# agentrt-server come from it. --json FILE writes {"durable_pg": ..., "takeover": ...}.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="build/release"
lease_ms=2000
sessions=200
json_out=""
bench_args=()
python=/usr/bin/python3

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit "${1:-2}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lease-ms) lease_ms="$2"; shift 2 ;;
    --sessions) sessions="$2"; shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    --) shift; bench_args=("$@"); break ;;
    -h|--help) usage 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) build="$1"; shift ;;
  esac
done
[[ "$build" = /* ]] || build="$root/$build"

if [[ ! -x /usr/lib/postgresql/15/bin/initdb ]]; then
  echo "bench/scale/run.sh: skipped: PostgreSQL 15 is not installed (Debian: postgresql-15)"
  exit 0
fi
if [[ "$(id -u)" -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
  echo "bench/scale/run.sh: skipped: running as root and there is no postgres user to own the cluster"
  exit 0
fi
bench_bin="$build/bench/agentrt-bench"
server_bin="$build/examples/agentrt-server"
for bin in "$bench_bin" "$server_bin"; do
  [[ -x "$bin" ]] || { echo "run.sh: $bin is not built" >&2; exit 2; }
done

work="$(mktemp -d /tmp/agentrt-scale-bench.XXXXXX)"
# The cluster's own directory: pg_cluster.sh hands it to the postgres user when run as root.
pgdir="$(mktemp -d /tmp/agentrt-scale-bench-pg.XXXXXX)"
child=""
cleanup() {
  [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null || true
  "$root/scripts/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run CMD...: in the background, so that a signal stops it (and the trap runs) at once.
run() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

status=0
echo "machine: $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
conninfo="$("$root/scripts/pg_cluster.sh" start "$pgdir")"
echo "== durable-pg (PostgreSQL at $conninfo)"
# The store's schema creation makes PostgreSQL say NOTICE "... already exists" per node.
"$bench_bin" --scenario durable-pg --postgres "$conninfo" --json "$work/durable-pg.json" \
  "${bench_args[@]}" 2> >(grep -v '^NOTICE:' >&2) | grep -v '^agentrt-bench:' || status=1
"$root/scripts/pg_cluster.sh" stop "$pgdir" >/dev/null

echo
echo "== takeover"
run "$python" "$here/takeover.py" --server "$server_bin" --lease-ms "$lease_ms" \
  --sessions "$sessions" --json "$work/takeover.json" || status=1

if [[ -n "$json_out" ]]; then
  "$python" - "$work/durable-pg.json" "$work/takeover.json" "$json_out" <<'EOF'
import json, os, sys
part = lambda p: json.load(open(p)) if os.path.exists(p) else None
bench = part(sys.argv[1])
doc = {"durable_pg": bench and bench["scenarios"].get("durable-pg"), "takeover": part(sys.argv[2])}
with open(sys.argv[3], "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"wrote {sys.argv[3]}")
EOF
fi
exit $status
