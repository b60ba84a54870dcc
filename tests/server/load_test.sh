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
start timers --access-log off

# run_load BASE PID ARGS...: the load client; true if every stream was complete and isolated.
run_load() {
  local b=$1 p=$2
  shift 2
  "$load" --url "$b" --streams "$streams" --agent assistant --health-url "$b/health" \
    --server-pid "$p" --json "$work/load.json" "$@" >"$work/load.out" 2>&1
  local rc=$?
  sed 's/^/  /' "$work/load.out"
  [ $rc = 0 ] && [ "$(jq -r '.ok' "$work/load.json")" = "$streams" ]
}

# Tokens that reach a turn while it is busy come to it as one piece (ModelStream joins
# them), so a stream through the model may have fewer chunks than the model sent tokens:
# its count is not checked here, its order, isolation and end are.
t_streams() { run_load "$base_srv" "$pid_srv"; }

# On timers the events are exact: started, phase, 20 words, completed.
t_timer_streams() {
  local words
  words=$(for i in $(seq 15); do printf 'w%s ' "$i"; done)
  run_load "$base_timers" "$pid_timers" --expect-events 23 --input "${words% }" --param ms_per_word=10
}
t_stats() { # every stream was one committed turn of its own session
  local s
  s=$(curl -s "$base_srv/v1/stats")
  [ "$(jq -r .turns_completed <<<"$s")" = "$streams" ] && [ "$(jq -r .activations <<<"$s")" = "$streams" ] \
    && [ "$(jq -r .turns_failed <<<"$s")" = 0 ] && [ "$(jq -r .turns_cancelled <<<"$s")" = 0 ]
}
check "$streams concurrent streams through the model are complete and isolated; /health answers" t_streams
check "the runtime counted exactly one committed turn per stream" t_stats
check "$streams concurrent streams on timers have exactly their 23 events each" t_timer_streams
finish
