#!/usr/bin/env bash
# Starts agentrt-http as a real process on a free loopback port and drives it with real
# HTTP clients (curl, several at once). Usage: http_server_test.sh path/to/agentrt-http
set -uo pipefail
server=$1
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$server" --port 0 --max-input-bytes 1024 >"$work/server.out" 2>"$work/server.err" &
pid=$!
for _ in $(seq 200); do
  grep -q "^listening on " "$work/server.out" 2>/dev/null && break
  sleep 0.05
done
base=$(sed -n 's/^listening on //p' "$work/server.out")
if [ -z "$base" ]; then
  echo "the server did not start:"; cat "$work/server.err"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "# server at $base"

passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1)); echo "ok - $name"
  else
    failed=$((failed + 1)); echo "FAILED - $name"
  fi
}

# post PATH JSON OUTFILE -> prints the HTTP status
post() {
  curl -s --max-time 20 -o "$3" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "$2" "$base$1"
}
# stream AGENT JSON OUTFILE: the whole event stream into OUTFILE
stream() {
  curl -sN --max-time 30 -X POST -H 'Content-Type: application/json' --data-binary "$2" \
    "$base/v1/agents/$1/stream" >"$3"
}
events() { grep '^event: ' "$1" | cut -d' ' -f2 | tr '\n' ' '; }
# until_started FILE: wait (at most 10 s) until the stream in FILE has its `started` event.
until_started() {
  local i
  for i in $(seq 1000); do
    grep -q '^event: started' "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}
datas() { grep '^data: ' "$1" | cut -c7-; }
last_event() { grep '^event: ' "$1" | tail -n 1 | cut -d' ' -f2; }
stat_of() { curl -s --max-time 5 "$base/v1/stats" | jq -r ".$1"; }

# A stream is clean if every event names SESSION, all share one call id, seq is 1..n,
# and it ends with `completed`.
stream_is_clean() {
  local file=$1 session=$2
  [ "$(last_event "$file")" = "completed" ] || return 1
  [ "$(datas "$file" | jq -r .session_id | sort -u)" = "$session" ] || return 1
  [ "$(datas "$file" | jq -r .call_id | sort -u | wc -l)" = "1" ] || return 1
  local n
  n=$(datas "$file" | wc -l)
  [ "$(datas "$file" | jq -r .seq | tr '\n' ' ')" = "$(seq -s ' ' 1 "$n") " ] || return 1
}

t_health() {
  [ "$(curl -s --max-time 5 "$base/health" | jq -r .status)" = "ok" ]
}

t_invoke() {
  local code
  code=$(post /v1/agents/echo/invoke '{"input":"hello","session_id":"inv-1"}' "$work/inv.json")
  [ "$code" = 200 ] && [ "$(jq -r .output "$work/inv.json")" = "hello" ] \
    && [ "$(jq -r .session_id "$work/inv.json")" = "inv-1" ] && [ "$(jq -r .turn "$work/inv.json")" = 1 ]
}

t_two_sessions_isolated() {
  stream assistant '{"input":"my name is Ada","session_id":"iso-a","params":{"ms_per_word":"40"}}' "$work/a.sse" &
  local a=$!
  stream assistant '{"input":"my name is Bob","session_id":"iso-b","params":{"ms_per_word":"40"}}' "$work/b.sse" &
  local b=$!
  wait $a $b
  stream_is_clean "$work/a.sse" iso-a && stream_is_clean "$work/b.sse" iso-b \
    && grep -q 'Ada' "$work/a.sse" && ! grep -q 'Bob' "$work/a.sse" \
    && grep -q 'Bob' "$work/b.sse" && ! grep -q 'Ada' "$work/b.sse" \
    && [ "$(events "$work/a.sse")" = "started phase chunk chunk chunk chunk chunk completed " ]
}

t_same_session_serialized() {
  stream assistant '{"input":"count to 10","session_id":"same-1","params":{"ms_per_word":"30"}}' "$work/s1.sse" &
  local first=$!
  until_started "$work/s1.sse" || return 1 # the first turn runs: the second must queue
  stream assistant '{"input":"count to 3","session_id":"same-1","params":{"ms_per_word":"10"}}' "$work/s2.sse" &
  local second=$!
  wait $first $second
  stream_is_clean "$work/s1.sse" same-1 && stream_is_clean "$work/s2.sse" same-1 \
    && [ "$(events "$work/s2.sse" | cut -d' ' -f1)" = "queued" ] \
    && [ "$(datas "$work/s1.sse" | tail -n 1 | jq -r .turn)" = 1 ] \
    && [ "$(datas "$work/s2.sse" | tail -n 1 | jq -r .turn)" = 2 ] \
    && [ "$(datas "$work/s1.sse" | tail -n 1 | jq -r .data)" = "counted to 10" ]
}

t_twenty_streams() {
  local pids=() i
  for i in $(seq 1 20); do
    stream assistant "{\"input\":\"a trip $i\",\"session_id\":\"many-$i\",\"params\":{\"ms_per_word\":\"20\"}}" "$work/m$i.sse" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for i in $(seq 1 20); do
    stream_is_clean "$work/m$i.sse" "many-$i" || return 1
  done
}

t_disconnect_cancels() {
  local before
  before=$(stat_of turns_cancelled)
  # The client hangs up right after the first chunk of a 20 s stream (curl dies on its next
  # write once grep has exited).
  curl -sN --max-time 30 -X POST -d '{"input":"count to 1000","session_id":"gone-1","params":{"ms_per_word":"20"}}' \
    "$base/v1/agents/assistant/stream" | grep -m1 -q '^event: chunk'
  [ "${PIPESTATUS[1]}" = 0 ] || return 1 # grep saw a chunk (curl's SIGPIPE is expected)
  local i
  for i in $(seq 100); do
    [ "$(stat_of running_turns)" = 0 ] && [ "$(stat_of queued_calls)" = 0 ] && break
    sleep 0.05
  done
  [ "$(stat_of running_turns)" = 0 ] && [ "$(stat_of queued_calls)" = 0 ] \
    && [ "$(stat_of turns_cancelled)" -gt "$before" ] || return 1
  # The session is usable and the cancelled turn left nothing behind.
  [ "$(post /v1/agents/assistant/invoke '{"input":"hi","session_id":"gone-1","params":{"ms_per_word":"1"}}' "$work/after.json")" = 200 ] \
    && [ "$(jq -r .turn "$work/after.json")" = 1 ]
}

t_busy_reject() {
  stream assistant '{"input":"count to 20","session_id":"busy-1","params":{"ms_per_word":"20"}}' "$work/busy.sse" &
  local s=$!
  until_started "$work/busy.sse" || return 1
  local code
  code=$(post /v1/agents/assistant/invoke '{"input":"x","session_id":"busy-1","on_busy":"reject"}' "$work/busy.json")
  wait $s
  [ "$code" = 409 ] && [ "$(jq -r .error.code "$work/busy.json")" = "session_busy" ]
}

t_agent_failure() {
  [ "$(post /v1/agents/assistant/invoke '{"input":"fail","session_id":"f-1"}' "$work/fail.json")" = 502 ] \
    && [ "$(jq -r .error.code "$work/fail.json")" = "agent_failed" ] \
    && [ "$(jq -r .error.message "$work/fail.json")" = "upstream model returned 503" ]
}

t_describe_and_close() {
  post /v1/agents/echo/invoke '{"input":"a","session_id":"desc-1"}' "$work/d.json" >/dev/null
  post /v1/agents/echo/invoke '{"input":"b","session_id":"desc-1"}' "$work/d.json" >/dev/null
  local info
  info=$(curl -s --max-time 5 "$base/v1/agents/echo/sessions/desc-1")
  [ "$(jq -r .turns <<<"$info")" = 2 ] && [ "$(jq -r .history_size <<<"$info")" = 4 ] || return 1
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$base/v1/agents/echo/sessions/desc-1")" = 204 ] \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$base/v1/agents/echo/sessions/desc-1")" = 404 ] \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/agents/echo/sessions/desc-1")" = 404 ]
}

# expect STATUS CODE PATH BODY: a 4xx with a JSON error body naming the problem.
expect() {
  local status=$1 code=$2 path=$3 body=$4 got
  got=$(post "$path" "$body" "$work/err.json")
  if [ "$got" != "$status" ] || [ "$(jq -r .error.code "$work/err.json" 2>/dev/null)" != "$code" ] \
    || [ -z "$(jq -r .error.message "$work/err.json" 2>/dev/null)" ]; then
    echo "  $path $body -> $got $(cat "$work/err.json")"
    return 1
  fi
}

t_bad_input() {
  local big
  big=$(head -c 2000 /dev/zero | tr '\0' 'x')
  expect 400 invalid_json /v1/agents/echo/invoke '{not json' \
    && expect 400 invalid_json /v1/agents/echo/invoke '[1,2]' \
    && expect 400 invalid_request /v1/agents/echo/invoke '{"session_id":"x"}' \
    && expect 400 invalid_request /v1/agents/echo/invoke '{"input":42}' \
    && expect 400 invalid_request /v1/agents/echo/invoke '{"input":"x","params":{"a":1}}' \
    && expect 400 invalid_request /v1/agents/echo/invoke '{"input":"x","on_busy":"sometimes"}' \
    && expect 400 invalid_request /v1/agents/echo/invoke '{"input":"x","timeout_ms":-5}' \
    && expect 404 unknown_agent /v1/agents/nobody/invoke '{"input":"x"}' \
    && expect 404 unknown_agent /v1/agents/nobody/stream '{"input":"x"}' \
    && expect 400 invalid_session_id /v1/agents/echo/invoke '{"input":"x","session_id":"bad id"}' \
    && expect 400 invalid_session_id /v1/agents/echo/stream '{"input":"x","session_id":"bad/id"}' \
    && expect 413 input_too_large /v1/agents/echo/invoke "{\"input\":\"$big\"}" \
    && expect 413 body_too_large /v1/agents/echo/invoke "$(head -c 70000 /dev/zero | tr '\0' ' '){}" \
    && expect 404 not_found /v1/nothing '{}' \
    && [ "$(stat_of live_sessions)" != null ]
}

t_server_survived() {
  kill -0 "$pid" 2>/dev/null && [ ! -s "$work/server.err" ]
}

check "GET /health answers" t_health
check "POST invoke returns output, session id and turn" t_invoke
check "two streams on different sessions see only their own events" t_two_sessions_isolated
check "two streams on one session are served one after the other" t_same_session_serialized
check "20 concurrent streams all complete" t_twenty_streams
check "a client disconnecting mid-stream cancels its call; stats return to zero" t_disconnect_cancels
check "on_busy=reject gets 409 session_busy" t_busy_reject
check "an agent failure is a 502 with the agent's message" t_agent_failure
check "describe and close a session" t_describe_and_close
check "bad input gets a 4xx with a JSON error naming the problem" t_bad_input
check "the server is still up and logged no errors" t_server_survived

kill -TERM "$pid"
if wait "$pid"; then
  passed=$((passed + 1)); echo "ok - SIGTERM stops the server cleanly"
else
  failed=$((failed + 1)); echo "FAILED - SIGTERM stops the server cleanly"
fi
pid=""
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
