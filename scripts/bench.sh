#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs the standard benchmark set (about ten
# minutes on a 2-core machine): each scenario in its own process, so one scenario's heap
# cannot colour the next; then the HTTP server's (bench/http/run.sh) and the gRPC front
# end's beside the HTTP routes (bench/grpc/run.sh, about a minute more), and scale-out on
# PostgreSQL (bench/scale/run.sh, about a minute more). Prints the tables and writes
# build/release/bench.json, bench-http.json, bench-grpc.json and bench-scale.json.
# Extra arguments go to every agentrt-bench run (e.g. --workers 2).
set -euo pipefail
cd "$(dirname "$0")/.."
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
