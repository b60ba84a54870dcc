#!/usr/bin/env bash
# Checks the lock annotations (core/thread_annotations.hpp) with clang's thread-safety
# analysis: every library source must compile without a -Wthread-safety warning. g++, which
# builds agentrt, ignores the annotations; clang checks them.
set -euo pipefail
cd "$(dirname "$0")/.."
clang=$(command -v clang++ || command -v clang++-14 || true)
if [ -z "$clang" ]; then
  echo "check_locks: clang++ not found (scripts/setup.sh test installs it)" >&2
  exit 1
fi
status=0
for f in core/*.cpp stores/*.cpp stores/sqlite/*.cpp stores/postgres/*.cpp actors/*.cpp actors/session/*.cpp runtime/*.cpp; do
  if ! "$clang" -std=c++20 -fsyntax-only -Wthread-safety -Werror=thread-safety -I. -Iinclude -I/usr/include/postgresql "$f"; then
    echo "check_locks: $f" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "check_locks: lock annotations hold in every library source"
exit $status
