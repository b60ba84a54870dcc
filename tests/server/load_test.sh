#!/usr/bin/env bash
# Many concurrent streams through the real model path: agentrt-server answering from
# agentrt-mock-llm, driven by the C++ load client, which checks that every stream sees only
# its own session's events, seq 1..n with matching ids, ending `completed`, and that
# /health answers throughout. Usage: load_test.sh SERVER MOCK_LLM LOAD_CLIENT [STREAMS]
set -uo pipefail
server=$1
mock=$2
load=$3
streams=${4:-500}
source "$(dirname "$0")/lib.sh"

"$mock" --port 0 --tokens 20 --interval-ms 10 >"$work/mock.out" 2>"$work/mock.err" &
pids+=($!)
for _ in $(seq 200); do grep -q '^listening on ' "$work/mock.out" 2>/dev/null && break; sleep 0.05; done
model=$(sed -n 's/^listening on //p' "$work/mock.out")
[ -n "$model" ] || { echo "the mock model server did not start"; cat "$work/mock.err"; exit 1; }

start srv --llm-url "$model" --access-log off

t_streams() {
  "$load" --url "$base_srv" --streams "$streams" --agent assistant --expect-events 23 \
    --health-url "$base_srv/health" --server-pid "$pid_srv" --json "$work/load.json" >"$work/load.out" 2>&1
  local rc=$?
  cat "$work/load.out" | sed 's/^/  /'
  [ $rc = 0 ] && [ "$(jq -r '.ok' "$work/load.json")" = "$streams" ]
}
t_stats() { # every stream was one committed turn of its own session
  local s
  s=$(curl -s "$base_srv/v1/stats")
  [ "$(jq -r .turns_completed <<<"$s")" = "$streams" ] && [ "$(jq -r .activations <<<"$s")" = "$streams" ] \
    && [ "$(jq -r .turns_failed <<<"$s")" = 0 ] && [ "$(jq -r .turns_cancelled <<<"$s")" = 0 ]
}
check "$streams concurrent streams through the model are complete and isolated; /health answers" t_streams
check "the runtime counted exactly one committed turn per stream" t_stats
finish
