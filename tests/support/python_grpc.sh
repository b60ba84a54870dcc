# Sourced by the tests that drive the gRPC service from Python (tests/server/grpc_python_test.sh,
# tests/scale/grpc_proxy_test.sh). Defines:
#   require_python_grpc          exits 77 (skipped), saying what is missing, without protoc,
#                                /usr/bin/grpc_python_plugin or /usr/bin/python3 with grpc
#                                and protobuf
#   python_grpc_stubs PROTO OUT  generates PROTO's Python stubs into OUT; on failure says so
#                                and returns 1
python_grpc_plugin=/usr/bin/grpc_python_plugin

require_python_grpc() {
  if [ ! -x "$python_grpc_plugin" ]; then
    echo "SKIP: no $python_grpc_plugin (Debian: protobuf-compiler-grpc)"
    exit 77
  fi
  if ! command -v protoc >/dev/null; then
    echo "SKIP: no protoc (Debian: protobuf-compiler)"
    exit 77
  fi
  if ! /usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 has no grpc or protobuf (Debian: python3-grpcio python3-protobuf)"
    exit 77
  fi
}

python_grpc_stubs() {
  local proto=$1 out=$2
  mkdir -p "$out"
  if ! protoc -I "$(dirname "$proto")" --python_out="$out" --grpc_out="$out" \
    --plugin=protoc-gen-grpc="$python_grpc_plugin" "$proto"; then
    echo "FAILED - generate the Python stubs from $proto"
    return 1
  fi
}
