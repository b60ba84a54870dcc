#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs the standard benchmark set (a few
# minutes on a 2-core machine). Prints the table and writes build/release/bench.json.
# Extra arguments go to agentrt-bench (e.g. --scenario spread --calls 500000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DAGENTRT_BUILD_TESTS=OFF
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
build/release/bench/agentrt-bench --scenario standard --json build/release/bench.json "$@"
