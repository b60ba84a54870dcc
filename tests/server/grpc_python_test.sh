#!/usr/bin/env bash
# Starts agentrt-server with its gRPC AgentService on free loopback ports and drives it with
# Python's grpcio (grpc_python_test.py), from stubs generated here from proto/ into a temp
# dir. Usage: grpc_python_test.sh path/to/agentrt-server
# Needs protoc, /usr/bin/grpc_python_plugin and /usr/bin/python3 with grpc and protobuf
# (Debian: protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf); without
# them it says so and exits 77 (skipped).
set -uo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 SERVER_BINARY" >&2
  exit 2
fi
server=$1
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=$(cd "$here/../../proto" && pwd)
source "$here/../support/python_grpc.sh"
require_python_grpc

source "$here/lib.sh" # start, and a cleanup on exit that stops what it started
trap 'exit 143' TERM
trap 'exit 130' INT

stubs="$work/stubs"
if ! python_grpc_stubs "$proto_dir/agent_platform.proto" "$stubs"; then
  echo "0 passed, 1 failed"
  exit 1
fi

start main --grpc-port 0
grpc_address=$(sed -n 's/^grpc listening on //p' "$work/main.out")
grpc_port=${grpc_address##*:}
if ! [[ "$grpc_port" =~ ^[0-9]+$ ]]; then
  echo "FAILED - the server printed no 'grpc listening on HOST:PORT' line:"
  cat "$work/main.out" "$work/main.err"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "# server at $base_main, gRPC at $grpc_address"

# In the background, so that a signal to this script runs the cleanup at once.
/usr/bin/python3 "$here/grpc_python_test.py" --port "$grpc_port" --stubs "$stubs" &
pids+=($!)
wait $!
status=$?
if ! kill -0 "$pid_main" 2>/dev/null; then
  echo "FAILED - the server is gone after the test"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "# server stderr (last 30 lines):"
  tail -n 30 "$work/main.err"
fi
exit "$status"
