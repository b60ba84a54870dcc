#!/usr/bin/env bash
# Installs what is missing, checks the lock annotations with clang, builds, and runs the
# whole test suite twice: a normal build, then one with AddressSanitizer +
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test

echo "== lock annotations (clang -Wthread-safety)"
scripts/check_locks.sh

echo "== build and test (RelWithDebInfo)"
scripts/build.sh build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir build/test --output-on-failure -j 2

echo "== benchmark harness, quick: every scenario through every system, checks only"
scripts/bench.sh --quick build/test

echo "== build and test with AddressSanitizer + UndefinedBehaviorSanitizer"
# Examples too: the model client's tests run its I/O thread against a real mock server.
scripts/build.sh build/asan -DCMAKE_BUILD_TYPE=Debug -DAGENTRT_SANITIZE=ON \
  -DAGENTRT_BUILD_EXAMPLES=ON -DAGENTRT_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j 2
