#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs the terminal demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DAGENTRT_BUILD_TESTS=OFF
build/release/examples/agentrt-demo "$@"
