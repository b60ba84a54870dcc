#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs the standard benchmark set (about ten
# minutes on a 2-core machine): each scenario in its own process, so one scenario's heap
# cannot colour the next; then the HTTP server's (bench/http/run.sh) and the gRPC front
# end's beside the HTTP routes (bench/grpc/run.sh, about a minute more), and scale-out on
# PostgreSQL (bench/scale/run.sh, about a minute more). Prints the tables and writes
# build/release/bench.json, bench-http.json, bench-grpc.json and bench-scale.json.
# Extra arguments go to every agentrt-bench run (e.g. --workers 2, --repeat 3).
#
#   scripts/bench.sh --quick [BUILD_DIR]
# instead runs every scenario at small sizes through every system, in seconds, checking
# only that each call ran exactly once and in its caller's order (figures not meaningful,
# targets not judged; exit 1 on a failed check). It uses BUILD_DIR's agentrt-bench
# (default build/release, built if missing; a BUILD_DIR given must have it); durable-pg
# runs against a throwaway PostgreSQL cluster when PostgreSQL 15 is installed (as root:
# owned by the postgres user). scripts/test.sh runs it, so the harness cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--quick" ]]; then
  build="${2:-build/release}"
  bench_bin="$build/bench/agentrt-bench"
  if [[ ! -x "$bench_bin" ]]; then
    if [[ -n "${2:-}" ]]; then # a tree of the caller's: not ours to reconfigure
      echo "bench.sh --quick: $bench_bin is not built" >&2
      exit 2
    fi
    scripts/setup.sh bench
    scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=Release -DAGENTRT_BUILD_TESTS=OFF
  fi
  scenarios=standard
  "$bench_bin" --help | grep -q '^ *llm-http,' && scenarios+=,llm-http
  status=0
  "$bench_bin" --quick --scenario "$scenarios" || status=1
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]] \
    && { [[ "$(id -u)" -ne 0 ]] || id postgres >/dev/null 2>&1; }; then
    pgdir="$(mktemp -d /tmp/agentrt-bench-quick-pg.XXXXXX)"
    trap 'scripts/pg_cluster.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
    conninfo="$(scripts/pg_cluster.sh start "$pgdir")"
    # The store's schema creation makes PostgreSQL say NOTICE "... already exists" per node.
    "$bench_bin" --quick --scenario durable-pg --postgres "$conninfo" \
      2> >(grep -v '^NOTICE:' >&2) | grep -v '^agentrt-bench:' || status=1
  else
    echo "bench.sh --quick: durable-pg skipped: no PostgreSQL 15 (or, as root, no postgres user)"
  fi
  [[ $status -eq 0 ]] && echo "bench.sh --quick: every scenario, every system: exactly once, in order"
  exit $status
fi
scripts/setup.sh bench
scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DAGENTRT_BUILD_TESTS=OFF
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
out=build/release
parts=()
status=0
for scenario in spread hot cold blocking latency churn durable memory retry llm llm-http; do
  "$out/bench/agentrt-bench" --scenario "$scenario" --json "$out/bench-$scenario.json" "$@" \
    | grep -v '^agentrt-bench:' || status=1
  parts+=("$out/bench-$scenario.json")
done
jq -s '{cores: .[0].cores, scenarios: (map(.scenarios) | add)}' "${parts[@]}" >"$out/bench.json"
echo "wrote $out/bench.json"
# The HTTP server against the bare Beast ceiling and FastAPI (docs/BENCHMARKS.md).
bench/http/run.sh "$out" --json "$out/bench-http.json" || status=1
# gRPC ExecuteTask / ExecuteTaskStream against POST invoke / stream, same server, same agent.
if [[ -x "$out/bench/grpc/agentrt-grpc-load" ]]; then
  bench/grpc/run.sh "$out" --json "$out/bench-grpc.json" || status=1
else
  echo "bench.sh: no agentrt-grpc-load (built without gRPC): bench/grpc/run.sh skipped"
fi
# Scale-out on PostgreSQL: durable-pg (SQLite / one node / three nodes) and a dead node's
# takeover time, each against a throwaway cluster (skipped without PostgreSQL 15).
bench/scale/run.sh "$out" --json "$out/bench-scale.json" || status=1
exit $status
