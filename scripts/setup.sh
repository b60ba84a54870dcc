#!/usr/bin/env bash
# Installs what agentrt needs to build and run its examples, from Debian 12 packages; with
# the argument `test`, also what only the test run needs. Safe to run again: it installs
# only what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcaf-dev libspdlog-dev libboost-dev catch2
  nlohmann-json3-dev libsqlite3-dev curl jq
)
if [ "${1:-}" = "bench" ]; then
  # bench/http: the FastAPI baseline the server is measured against (uvicorn's usual loop
  # and parser, and both HTTP clients it is measured with)
  packages+=(python3-fastapi python3-uvicorn python3-httpx python3-aiohttp python3-uvloop
             python3-httptools)
fi
if [ "${1:-}" = "test" ]; then
  packages+=(clang) # scripts/check_locks.sh: the lock annotations, checked by clang
  # tests/server: the chat page driven in headless Chromium over the DevTools protocol
  packages+=(chromium python3-aiohttp)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
