#!/usr/bin/env bash
# Configures and builds one build tree: scripts/build.sh <dir> [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
shift
cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
# Two jobs: the machine has two cores and CAF-heavy units are memory hungry.
cmake --build "$dir" -j "${AGENTRT_JOBS:-2}"
