#!/usr/bin/env bash
# Starts agentrt-server on a free loopback port and drives its chat page in headless
# Chromium (chat_page_test.py). Usage:
#   chat_page_test.sh path/to/agentrt-server [--screenshot PATH] [--token TOKEN]
# With --token the server is started with that token and the page must ask for it.
# Needs chromium and /usr/bin/python3 with aiohttp (Debian: python3-aiohttp); without
# them it says so and exits 77 (skipped).
set -uo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 SERVER_BINARY [--screenshot PATH] [--token TOKEN]" >&2
  exit 2
fi
server=$1
shift
server_args=()
test_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --screenshot) test_args+=(--screenshot "$2"); shift 2 ;;
    --token) server_args+=(--token "$2"); test_args+=(--token "$2"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
  && ! command -v google-chrome >/dev/null; then
  echo "SKIP: no chromium"
  exit 77
fi
if ! /usr/bin/python3 -c 'import aiohttp' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no aiohttp"
  exit 77
fi

source "$(dirname "$0")/lib.sh" # start, and a cleanup on exit that stops what it started
trap 'exit 143' TERM
trap 'exit 130' INT

start main "${server_args[@]}"
echo "# server at $base_main"

# In the background, so that a signal to this script runs the cleanup at once (the test
# stops its Chromium on SIGTERM).
/usr/bin/python3 "$(dirname "$0")/chat_page_test.py" "$base_main" "${test_args[@]}" &
pids+=($!)
wait $!
status=$?
if [ "$status" -ne 0 ]; then
  echo "# server stderr (last 30 lines):"
  tail -n 30 "$work/main.err"
fi
exit "$status"
