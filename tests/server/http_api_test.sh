#!/usr/bin/env bash
# Drives agentrt-server as real processes on free loopback ports with real HTTP clients
# (curl, several at once): every route, every error code, streams, resume, CORS, the token,
# drain and the options. Usage: http_api_test.sh path/to/agentrt-server
set -uo pipefail
server=$1
source "$(dirname "$0")/lib.sh"

start main --max-input-bytes 1024 --resume-grace-ms 1500 --keepalive-ms 250
base=$base_main
echo "# server at $base"

post() { # post PATH JSON OUTFILE [curl args...] -> prints the HTTP status
  local path=$1 body=$2 out=$3
  shift 3
  curl -s --max-time 20 -o "$out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    "$@" --data-binary "$body" "$base$path"
}
stream() { # stream AGENT JSON OUTFILE: the whole event stream into OUTFILE
  curl -sN --max-time 30 -X POST -H 'Content-Type: application/json' --data-binary "$2" \
    "$base/v1/agents/$1/stream" >"$3"
}
stat_of() { curl -s --max-time 5 "$base/v1/stats" | jq -r ".$1"; }
status_of() { curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@"; }

# expect STATUS CODE CURL-ARGS...: a JSON error naming the problem, with that status.
expect() {
  local status=$1 code=$2 got
  shift 2
  got=$(curl -s --max-time 10 -o "$work/err.json" -w '%{http_code}' "$@")
  if [ "$got" != "$status" ] || [ "$(jq -r .error.code "$work/err.json" 2>/dev/null)" != "$code" ] \
    || [ -z "$(jq -r .error.message "$work/err.json" 2>/dev/null)" ]; then
    echo "  $* -> $got $(head -c 300 "$work/err.json")"
    return 1
  fi
}
J=(-H 'Content-Type: application/json')

t_health() {
  [ "$(curl -s "$base/health" | jq -r .status)" = ok ] \
    && [ "$(curl -s "$base/ready" | jq -r .status)" = ready ] \
    && [ "$(curl -s "$base/v1/agents" | jq -c .agents)" = '["assistant","echo","echo-agent"]' ]
}

t_invoke() {
  local code
  code=$(post /v1/agents/echo/invoke '{"input":"hello","session_id":"inv-1"}' "$work/inv.json" -D "$work/inv.h")
  [ "$code" = 200 ] && [ "$(jq -r .output "$work/inv.json")" = "hello" ] \
    && [ "$(jq -r .session_id "$work/inv.json")" = "inv-1" ] && [ "$(jq -r .turn "$work/inv.json")" = 1 ] \
    && grep -qi '^x-session-id: inv-1' "$work/inv.h"
}

t_one_shot() { # no session id: a minted one, on the header and the body
  post /v1/agents/echo/invoke '{"input":"x"}' "$work/os.json" -D "$work/os.h" >/dev/null
  local sid
  sid=$(jq -r .session_id "$work/os.json")
  [ ${#sid} = 36 ] && grep -qi "^x-session-id: $sid" "$work/os.h"
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
    && [ "$(events "$work/a.sse")" = "started phase chunk chunk chunk chunk chunk completed " ] \
    && [ "$(grep -c '^retry: 2000$' "$work/a.sse")" = 1 ]
}

t_same_session_serialized() {
  stream assistant '{"input":"count to 10","session_id":"same-1","params":{"ms_per_word":"30"}}' "$work/s1.sse" &
  local first=$!
  until_in "$work/s1.sse" '^event: started' || return 1 # the first turn runs: the second must queue
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
  local ps=() i
  for i in $(seq 1 20); do
    stream assistant "{\"input\":\"a trip $i\",\"session_id\":\"many-$i\",\"params\":{\"ms_per_word\":\"20\"}}" "$work/m$i.sse" &
    ps+=($!)
  done
  wait "${ps[@]}"
  for i in $(seq 1 20); do
    stream_is_clean "$work/m$i.sse" "many-$i" || return 1
  done
}

t_get_stream() { # EventSource's route: the query starts the call
  curl -sN --max-time 20 "$base/v1/agents/assistant/stream?session_id=get-1&input=my%20name%20is%20Ana&param.ms_per_word=5" >"$work/get.sse"
  stream_is_clean "$work/get.sse" get-1 && grep -q 'Nice to meet you, Ana.' "$work/get.sse"
}

# wait_idle: until no turn runs and no call waits (at most 10 s).
wait_idle() {
  local i
  for i in $(seq 200); do
    [ "$(stat_of running_turns)" = 0 ] && [ "$(stat_of queued_calls)" = 0 ] && return 0
    sleep 0.05
  done
  return 1
}

t_disconnect_cancels_after_grace() {
  local before
  before=$(stat_of turns_cancelled)
  # The client hangs up after the first chunk of a 20 s stream (curl dies on its next write
  # once grep has exited). Nobody resumes: after the grace (1.5 s) the call is cancelled.
  curl -sN --max-time 30 -X POST "${J[@]}" -d '{"input":"count to 1000","session_id":"gone-1","params":{"ms_per_word":"20"}}' \
    "$base/v1/agents/assistant/stream" | grep -m1 -q '^event: chunk'
  [ "${PIPESTATUS[1]}" = 0 ] || return 1
  wait_idle && [ "$(stat_of turns_cancelled)" = $((before + 1)) ] || return 1
  [ "$(post /v1/agents/assistant/invoke '{"input":"hi","session_id":"gone-1","params":{"ms_per_word":"1"}}' "$work/after.json")" = 200 ] \
    && [ "$(jq -r .turn "$work/after.json")" = 1 ]
}

t_resume_after_killed_connection() {
  # The first connection is killed after 5 events; the second resumes from the last id it
  # had, as EventSource does. Together: every event once, in order, ending completed.
  local url="$base/v1/agents/assistant/stream?session_id=res-1&input=count%20to%2030&param.ms_per_word=25"
  curl -sN --max-time 20 "$url" >"$work/r1.sse" &
  local c=$!
  until_in "$work/r1.sse" '^id: [0-9]*:5$' || return 1
  kill -9 $c; wait $c 2>/dev/null
  # Only whole events count: cut what follows the last complete one.
  local last
  last=$(awk '/^id: /{id=$2} /^data: /{if (id!="") done=id} END{print done}' "$work/r1.sse")
  local lastseq=${last#*:}
  awk -v s="$lastseq" '/^id: /{split($2,a,":"); keep=(a[2]<=s)} keep||/^retry/' "$work/r1.sse" >"$work/r1.kept"
  curl -sN --max-time 20 -H "Last-Event-ID: $last" "$url" >"$work/r2.sse"
  cat "$work/r1.kept" "$work/r2.sse" | grep -v '^retry' >"$work/r.sse"
  stream_is_clean "$work/r.sse" res-1 && [ "$(datas "$work/r.sse" | tail -n1 | jq -r .data)" = "counted to 30" ] \
    && [ "$(datas "$work/r2.sse" | head -n1 | jq -r .seq)" = $((lastseq + 1)) ] || return 1
  # The terminal event asked for again: 204, EventSource stops.
  local end
  end=$(grep '^id: ' "$work/r.sse" | tail -n1 | cut -c5-)
  [ "$(status_of -H "Last-Event-ID: $end" "$url")" = 204 ]
}

t_attach_route() {
  stream assistant '{"input":"count to 8","session_id":"att-1","params":{"ms_per_word":"20"}}' "$work/att.sse"
  local call
  call=$(datas "$work/att.sse" | head -n1 | jq -r .call_id)
  curl -sN --max-time 10 "$base/v1/agents/assistant/sessions/att-1/calls/$call/events?after=3" >"$work/att2.sse"
  [ "$(datas "$work/att2.sse" | jq -r .seq | tr '\n' ' ')" = "$(seq -s ' ' 4 "$(datas "$work/att.sse" | wc -l)") " ] \
    && [ "$(last_event "$work/att2.sse")" = completed ] \
    && expect 404 not_found "$base/v1/agents/assistant/sessions/att-1/calls/999/events" \
    && expect 400 invalid_range "$base/v1/agents/assistant/sessions/att-1/calls/$call/events?after=500"
}

t_busy_is_a_status_on_every_route() {
  stream assistant '{"input":"count to 20","session_id":"busy-1","params":{"ms_per_word":"20"}}' "$work/busy.sse" &
  local s=$!
  until_in "$work/busy.sse" '^event: started' || return 1
  expect 409 session_busy -X POST "${J[@]}" -d '{"input":"x","session_id":"busy-1","on_busy":"reject"}' "$base/v1/agents/assistant/invoke" \
    && expect 409 session_busy -X POST "${J[@]}" -d '{"input":"x","session_id":"busy-1","on_busy":"reject"}' "$base/v1/agents/assistant/stream" \
    && expect 409 session_busy "$base/v1/agents/assistant/stream?session_id=busy-1&input=x&on_busy=reject" || return 1
  wait $s
  stream_is_clean "$work/busy.sse" busy-1
}

t_agent_failure_is_generic() {
  [ "$(post /v1/agents/assistant/invoke '{"input":"fail","session_id":"f-1"}' "$work/fail.json")" = 502 ] \
    && [ "$(jq -r .error.code "$work/fail.json")" = "agent_failed" ] \
    && jq -r .error.message "$work/fail.json" | grep -q '^the agent failed; the server log has the details (call [0-9]*)$' \
    && ! grep -q 'upstream model' "$work/fail.json" && grep -q 'upstream model returned 503' "$work/main.err"
}

t_sessions() {
  post /v1/agents/echo/invoke '{"input":"a","session_id":"desc-1"}' "$work/d.json" >/dev/null
  post /v1/agents/echo/invoke '{"input":"b","session_id":"desc-1"}' "$work/d.json" >/dev/null
  local info
  info=$(curl -s "$base/v1/agents/echo/sessions/desc-1")
  [ "$(jq -r .turns <<<"$info")" = 2 ] && [ "$(jq -r .history_size <<<"$info")" = 4 ] || return 1
  [ "$(curl -s "$base/v1/agents/echo/sessions/desc-1/history?from=1&limit=2" | jq -c '[.from,.total,.turns,[.entries[]|.role+":"+.content]]')" \
    = '[1,4,2,["assistant:a","user:b"]]' ] || return 1
  [ "$(curl -s "$base/v1/agents/assistant/sessions/iso-a/state" | jq -c .state)" = '{"name":"Ada"}' ] || return 1
  expect 400 invalid_range "$base/v1/agents/echo/sessions/desc-1/history?from=9" \
    && expect 400 invalid_query "$base/v1/agents/echo/sessions/desc-1/history?from=-1" \
    && expect 404 not_found "$base/v1/agents/echo/sessions/nobody/history" \
    && [ "$(status_of -X DELETE "$base/v1/agents/echo/sessions/desc-1")" = 204 ] \
    && expect 404 not_found -X DELETE "$base/v1/agents/echo/sessions/desc-1" \
    && expect 404 not_found "$base/v1/agents/echo/sessions/desc-1"
}

t_idempotency_key() {
  post /v1/agents/echo/invoke '{"input":"once","session_id":"idem-1"}' "$work/i1.json" -H 'Idempotency-Key: click-1' >/dev/null
  post /v1/agents/echo/invoke '{"input":"once","session_id":"idem-1"}' "$work/i2.json" -H 'Idempotency-Key: click-1' >/dev/null
  [ "$(jq -r .turn "$work/i1.json")" = 1 ] && [ "$(jq -r .turn "$work/i2.json")" = 1 ] \
    && [ "$(jq -r .replayed "$work/i2.json")" = true ] \
    && expect 400 request_id_reused -X POST "${J[@]}" -H 'Idempotency-Key: click-1' -d '{"input":"other","session_id":"idem-1"}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_request -X POST "${J[@]}" -H 'Idempotency-Key: a' -d '{"input":"x","session_id":"idem-1","request_id":"b"}' "$base/v1/agents/echo/invoke" \
    && [ "$(curl -s "$base/v1/agents/echo/sessions/idem-1" | jq -r .turns)" = 1 ]
}

t_session_header() {
  post /v1/agents/echo/invoke '{"input":"by header"}' "$work/h1.json" -H 'X-Session-Id: hdr-1' >/dev/null
  post /v1/agents/echo/invoke '{"input":"again","session_id":"hdr-1"}' "$work/h2.json" -H 'X-Session-Id: hdr-1' >/dev/null
  [ "$(jq -r .session_id "$work/h1.json")" = hdr-1 ] && [ "$(jq -r .turn "$work/h1.json")" = 1 ] \
    && [ "$(jq -r .turn "$work/h2.json")" = 2 ] \
    && expect 400 invalid_request -X POST "${J[@]}" -H 'X-Session-Id: hdr-1' -d '{"input":"x","session_id":"hdr-2"}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_query -H 'X-Session-Id: hdr-1' "$base/v1/agents/echo/stream?input=x&session_id=hdr-2" \
    && [ "$(curl -s "$base/v1/agents/echo/sessions/hdr-1" | jq -r .turns)" = 2 ] \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/agents/echo/sessions/hdr-2")" = 404 ]
}

t_cancel_route() {
  stream assistant '{"input":"count to 500","session_id":"stop-1","params":{"ms_per_word":"20"}}' "$work/stop.sse" &
  local s=$!
  until_in "$work/stop.sse" '^event: chunk' || return 1
  local call
  call=$(datas "$work/stop.sse" | head -n1 | jq -r .call_id)
  [ "$(curl -s -o "$work/c.json" -w '%{http_code}' -X POST "$base/v1/agents/assistant/sessions/stop-1/calls/$call/cancel")" = 202 ] \
    && [ "$(jq -r .cancelled "$work/c.json")" = true ] || return 1
  wait $s
  [ "$(last_event "$work/stop.sse")" = cancelled ] \
    && [ "$(datas "$work/stop.sse" | tail -n1 | jq -r .error.code)" = cancelled ] \
    && expect 404 not_found -X POST "$base/v1/agents/assistant/sessions/stop-1/calls/$call/cancel"
}

t_keepalive() {
  stream assistant '{"input":"count to 2","session_id":"quiet-1","params":{"ms_per_word":"700"}}' "$work/q.sse"
  grep -q '^: keepalive$' "$work/q.sse" && stream_is_clean "$work/q.sse" quiet-1
}

t_bad_input() {
  local big head
  big=$(head -c 2000 /dev/zero | tr '\0' 'x')
  head=$(head -c 20000 /dev/zero | tr '\0' 'h')
  local P=(-X POST "${J[@]}")
  expect 400 invalid_json "${P[@]}" -d '{not json' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_json "${P[@]}" -d '[1,2]' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_json "${P[@]}" --data-binary $'{"input":"\xff\xfe"}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_request "${P[@]}" -d '{"session_id":"x"}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_request "${P[@]}" -d '{"input":42}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_request "${P[@]}" -d '{"input":"x","params":{"a":1}}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_request "${P[@]}" -d '{"input":"x","on_busy":"sometimes"}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_request "${P[@]}" -d '{"input":"x","timeout_ms":-5}' "$base/v1/agents/echo/invoke" \
    && expect 404 unknown_agent "${P[@]}" -d '{"input":"x"}' "$base/v1/agents/nobody/invoke" \
    && expect 404 unknown_agent "${P[@]}" -d '{"input":"x"}' "$base/v1/agents/nobody/stream" \
    && expect 400 invalid_session_id "${P[@]}" -d '{"input":"x","session_id":"bad id"}' "$base/v1/agents/echo/invoke" \
    && expect 400 invalid_session_id "${P[@]}" -d '{"input":"x","session_id":"bad/id"}' "$base/v1/agents/echo/stream" \
    && expect 400 invalid_request_id "${P[@]}" -d '{"input":"x","session_id":"s","request_id":"no spaces"}' "$base/v1/agents/echo/invoke" \
    && expect 413 input_too_large "${P[@]}" -d "{\"input\":\"$big\"}" "$base/v1/agents/echo/invoke" \
    && expect 413 body_too_large "${P[@]}" --data-binary "$(head -c 70000 /dev/zero | tr '\0' ' '){}" "$base/v1/agents/echo/invoke" \
    && expect 415 unsupported_media_type -X POST -H 'Content-Type: text/plain' -d '{"input":"x"}' "$base/v1/agents/echo/invoke" \
    && expect 415 unsupported_media_type -X POST -d '{"input":"x"}' "$base/v1/agents/echo/stream" \
    && expect 431 headers_too_large -H "X-Big: $head" "$base/v1/stats" \
    && expect 404 not_found "$base/v1/nothing" \
    && expect 405 method_not_allowed -X PUT "$base/v1/stats" \
    && [ "$(curl -s -o /dev/null -D - -X DELETE "$base/v1/agents/echo/invoke" | tr -d '\r' | sed -n 's/^Allow: //Ip')" = "POST" ] \
    && expect 400 invalid_target "$base/v1/agents/echo/stream?input=%zz" \
    && expect 400 invalid_target "$base/v1/agents/echo/stream?input=%ff%fe" \
    && expect 400 invalid_query "$base/v1/agents/echo/stream?session_id=x" \
    && expect 400 invalid_query "$base/v1/agents/echo/stream?input=x&timeout_ms=soon" \
    && expect 400 invalid_query "$base/v1/agents/echo/stream?input=x&on_busy=sometimes" \
    && expect 400 invalid_request -H 'Last-Event-ID: nonsense' "$base/v1/agents/echo/stream?input=x&session_id=s" \
    && expect 400 invalid_session_id "$base/v1/agents/echo/sessions/bad%20id" \
    && expect 404 unknown_agent "$base/v1/agents/nobody/sessions/x/state"
}

t_refused_changes_nothing() { # what a browser would send cross-site: text/plain, no preflight
  local before
  before=$(curl -s "$base/v1/stats")
  curl -s -o /dev/null -X POST -H 'Content-Type: text/plain' -d '{"input":"x","session_id":"csrf-1"}' "$base/v1/agents/echo/invoke"
  [ "$(curl -s "$base/v1/stats" | jq -c '[.turns_completed,.activations]')" = "$(jq -c '[.turns_completed,.activations]' <<<"$before")" ] \
    && expect 404 not_found "$base/v1/agents/echo/sessions/csrf-1"
}

t_no_header_injection() {
  curl -s -D "$work/inj.h" -o "$work/inj.json" "$base/v1/agents/echo/sessions/x%0D%0AX-Evil:%201/state"
  [ "$(jq -r .error.code "$work/inj.json")" = invalid_session_id ] && ! grep -qi '^x-evil' "$work/inj.h" \
    && ! grep -qi '^x-session-id' "$work/inj.h" && ! grep -q '^X-Evil' "$work/main.err"
}

t_host_and_fetch_site() { # DNS rebinding and cross-site requests without an Origin
  expect 403 host_not_allowed -H 'Host: evil.example:8080' "$base/v1/stats" \
    && [ "$(status_of -H 'Host: localhost:1234' "$base/v1/stats")" = 200 ] \
    && expect 403 origin_not_allowed -H 'Sec-Fetch-Site: cross-site' -H 'Sec-Fetch-Mode: no-cors' \
         "$base/v1/agents/echo/stream?session_id=xs-1&input=x" \
    && expect 404 not_found "$base/v1/agents/echo/sessions/xs-1" \
    && [ "$(status_of -H 'Sec-Fetch-Site: cross-site' -H 'Sec-Fetch-Mode: navigate' "$base/")" = 200 ] \
    && [ "$(status_of -H 'Sec-Fetch-Site: same-origin' "$base/v1/stats")" = 200 ]
}

t_refused_resume_lets_the_grace_cancel() {
  local before
  before=$(stat_of turns_cancelled)
  curl -sN --max-time 30 -X POST "${J[@]}" -d '{"input":"count to 1000","session_id":"rr-1","params":{"ms_per_word":"20"}}' \
    "$base/v1/agents/assistant/stream" >"$work/rr.sse" &
  local c=$!
  until_in "$work/rr.sse" '^event: chunk' || return 1
  kill -9 $c; wait $c 2>/dev/null
  local call
  call=$(datas "$work/rr.sse" | head -n1 | jq -r .call_id)
  # A re-attach that is refused (a seq the call has not reached) must not keep it alive.
  expect 400 invalid_range -H "Last-Event-ID: $call:99999" "$base/v1/agents/assistant/stream?session_id=rr-1&input=x" \
    && wait_idle && [ "$(stat_of turns_cancelled)" = $((before + 1)) ]
}

t_quiet_resume_opens_at_once() { # a reconnect in the middle of a long pause gets its headers
  curl -sN --max-time 30 -X POST "${J[@]}" -d '{"input":"count to 3","session_id":"qr-1","params":{"ms_per_word":"2500"}}' \
    "$base/v1/agents/assistant/stream" >"$work/qr.sse" &
  local s=$!
  until_in "$work/qr.sse" '^data: .*"seq":2,' || return 1 # the phase: the first word is 2.5 s away
  local call
  call=$(datas "$work/qr.sse" | head -n1 | jq -r .call_id)
  curl -sN --max-time 1 -D "$work/qr.h" -H "Last-Event-ID: $call:2" "$base/v1/agents/assistant/stream?session_id=qr-1&input=x" >"$work/qr2.sse"
  grep -q '^HTTP/1.1 200' "$work/qr.h" && grep -q '^retry: 2000' "$work/qr2.sse" && ! grep -q '^event:' "$work/qr2.sse" || return 1
  wait $s
  stream_is_clean "$work/qr.sse" qr-1
}

t_invoke_survives_a_watcher_leaving() {
  # Call ids are consecutive and nothing else runs now: the invoke's is the next one.
  post /v1/agents/echo/invoke '{"input":"x"}' "$work/iw0.json" >/dev/null
  local call=$(( $(jq -r .call_id "$work/iw0.json") + 1 ))
  post /v1/agents/assistant/invoke '{"input":"count to 50","session_id":"iw-1","params":{"ms_per_word":"50"}}' "$work/iw.json" >/dev/null &
  local inv=$!
  # A watcher follows the invoke's call and leaves; the grace (1.5 s) must not cancel it.
  curl -sN --max-time 10 "$base/v1/agents/assistant/sessions/iw-1/calls/$call/events" | grep -m1 -q '^event: chunk'
  wait $inv
  [ "$(jq -r .output "$work/iw.json")" = "counted to 50" ] && [ "$(jq -r .call_id "$work/iw.json")" = "$call" ]
}

t_http10_stream() {
  curl -sN --http1.0 --max-time 20 -X POST "${J[@]}" -d '{"input":"my name is Eve","session_id":"h10","params":{"ms_per_word":"5"}}' \
    "$base/v1/agents/assistant/stream" >"$work/h10.sse" && stream_is_clean "$work/h10.sse" h10
}

t_metrics() {
  curl -s "$base/metrics" >"$work/m.txt"
  grep -q '^agentrt_http_requests_total{route="/v1/agents/{agent}/invoke",code="200"} [1-9]' "$work/m.txt" \
    && grep -q '^agentrt_http_requests_total{route="/v1/agents/{agent}/stream",code="200"} [1-9]' "$work/m.txt" \
    && grep -q '^agentrt_turn_duration_seconds_count [1-9]' "$work/m.txt" \
    && grep -q '^agentrt_queue_wait_seconds_bucket{le="+Inf"} [1-9]' "$work/m.txt" \
    && grep -q '^agentrt_http_open_streams 0$' "$work/m.txt" \
    && grep -q '^agentrt_http_open_connections 1$' "$work/m.txt" \
    && grep -q '^agentrt_live_sessions [1-9]' "$work/m.txt" \
    && grep -q '^# TYPE agentrt_turns_completed_total counter$' "$work/m.txt"
}

t_server_survived() {
  kill -0 "$pid_main" 2>/dev/null && ! grep -E '\[(error|critical)\]' "$work/main.err"
}

check "GET /health, /ready and /v1/agents answer" t_health
check "POST invoke returns output, session id and turn, X-Session-Id" t_invoke
check "a one-shot call gets a minted session id in the header and body" t_one_shot
check "two streams on different sessions see only their own events (with id: and retry:)" t_two_sessions_isolated
check "two streams on one session are served one after the other" t_same_session_serialized
check "20 concurrent streams all complete" t_twenty_streams
check "GET stream (EventSource) starts a call from the query" t_get_stream
check "a client that disconnects and does not resume has its call cancelled after the grace" t_disconnect_cancels_after_grace
check "Last-Event-ID resumes after a killed connection: no event lost or doubled" t_resume_after_killed_connection
check "the events route re-attaches after a seq" t_attach_route
check "on_busy=reject is a 409 on invoke and on both stream routes" t_busy_is_a_status_on_every_route
check "an agent failure is a 502 with a generic message; the log has the text" t_agent_failure_is_generic
check "describe, history, state and close a session" t_sessions
check "Idempotency-Key makes a retry the same turn" t_idempotency_key
check "an X-Session-Id header names the call's session; one that disagrees is refused" t_session_header
check "the cancel route stops a running call" t_cancel_route
check "a quiet stream gets keep-alive comments" t_keepalive
check "bad input gets the documented status and a JSON error naming the problem" t_bad_input
check "a text/plain POST (a blocked cross-site request) changes nothing" t_refused_changes_nothing
check "a session id with CR LF never reaches a header or the log" t_no_header_injection
check "unknown Host names (DNS rebinding) and cross-site requests without an Origin are refused" t_host_and_fetch_site
check "a refused re-attach does not keep a dropped call alive past its grace" t_refused_resume_lets_the_grace_cancel
check "a resume during a long pause gets its headers at once" t_quiet_resume_opens_at_once
check "an invoke's call is not cancelled when a stream that watched it leaves" t_invoke_survives_a_watcher_leaving
check "an HTTP/1.0 client gets a whole stream, ended by the close" t_http10_stream
check "/metrics reports requests by route and code, histograms and gauges; no connection is left open" t_metrics
check "the server is still up and logged no errors" t_server_survived

# -- a locked-down server: token, allowed origins, JSON logs, errors exposed ----------------------
AGENTRT_TOKEN=s3cret start locked --allowed-origins 'http://app.example' --log-format json --expose-errors on
lb=$base_locked
A=(-H 'Authorization: Bearer s3cret')

t_token() {
  [ "$(status_of "$lb/health")" = 200 ] && [ "$(status_of "$lb/ready")" = 200 ] \
    && expect 401 unauthorized "$lb/v1/stats" \
    && expect 401 unauthorized -H 'Authorization: Bearer s3creT' "$lb/v1/stats" \
    && expect 401 unauthorized -H 'Authorization: Bearer s3cret-and-more' "$lb/v1/stats" \
    && expect 401 unauthorized "$lb/v1/stats?access_token=s3cret" \
    && [ "$(curl -s -o /dev/null -D - "$lb/metrics" | tr -d '\r' | sed -n 's/^WWW-Authenticate: //Ip')" = Bearer ] \
    && [ "$(status_of "${A[@]}" "$lb/v1/stats")" = 200 ] \
    && curl -sN --max-time 10 "$lb/v1/agents/echo/stream?session_id=t-1&input=hi&access_token=s3cret" >"$work/t.sse" \
    && stream_is_clean "$work/t.sse" t-1
}

t_cors() {
  local h
  h=$(curl -s -o /dev/null -D - -X OPTIONS -H 'Origin: http://app.example' \
    -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: content-type' \
    "$lb/v1/agents/echo/invoke" | tr -d '\r')
  grep -q '^HTTP/1.1 204' <<<"$h" && grep -qi '^Access-Control-Allow-Origin: http://app.example$' <<<"$h" \
    && grep -qi '^Access-Control-Allow-Methods: POST, OPTIONS$' <<<"$h" \
    && grep -qi '^Access-Control-Allow-Headers: .*Content-Type' <<<"$h" || return 1
  expect 403 origin_not_allowed -X OPTIONS -H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: POST' "$lb/v1/agents/echo/invoke" \
    && expect 403 origin_not_allowed "${A[@]}" -X POST "${J[@]}" -H 'Origin: http://evil.example' -d '{"input":"x","session_id":"cors-1"}' "$lb/v1/agents/echo/invoke" \
    && expect 403 origin_not_allowed -H 'Origin: http://evil.example' "$lb/v1/agents/echo/stream?session_id=cors-1&input=x&access_token=s3cret" \
    && expect 404 not_found "${A[@]}" "$lb/v1/agents/echo/sessions/cors-1" || return 1
  h=$(curl -s -o /dev/null -D - "${A[@]}" -X POST "${J[@]}" -H 'Origin: http://app.example' -d '{"input":"x","session_id":"cors-2"}' "$lb/v1/agents/echo/invoke" | tr -d '\r')
  grep -q '^HTTP/1.1 200' <<<"$h" && grep -qi '^Access-Control-Allow-Origin: http://app.example$' <<<"$h" \
    && grep -qi '^Access-Control-Expose-Headers: X-Session-Id' <<<"$h" || return 1
  # The server's own page is same-origin.
  [ "$(status_of "${A[@]}" -H "Origin: $lb" "$lb/v1/stats")" = 200 ]
}

t_exposed_errors_and_json_logs() {
  curl -s -o "$work/f2.json" "${A[@]}" -X POST "${J[@]}" -d '{"input":"fail","session_id":"f-2"}' "$lb/v1/agents/assistant/invoke"
  [ "$(jq -r .error.message "$work/f2.json")" = "upstream model returned 503" ] || return 1
  [ -s "$work/locked.err" ] && jq -e -s 'all(.[]; (.ts|type)=="string" and (.level|type)=="string" and (.msg|type)=="string")' "$work/locked.err" >/dev/null \
    && jq -r .msg "$work/locked.err" | grep -q '^\[f-2\] POST /v1/agents/assistant/invoke 502 '
}

check "with a token every route but health and ready needs it; EventSource may pass it in the query" t_token
check "CORS: allowed origins get preflight and headers, others are refused before anything runs" t_cors
check "--expose-errors passes the agent's text; --log-format json writes JSON lines" t_exposed_errors_and_json_logs

# -- drain ------------------------------------------------------------------------------------
start drain --drain-ms 4000
db=$base_drain

t_drain() {
  curl -sN --max-time 20 -X POST "${J[@]}" -d '{"input":"count to 15","session_id":"dr-1","params":{"ms_per_word":"100"}}' "$db/v1/agents/assistant/stream" >"$work/dr.sse" &
  local s=$!
  until_in "$work/dr.sse" '^event: chunk' || return 1
  kill -TERM "$pid_drain"
  local i
  for i in $(seq 100); do [ "$(status_of "$db/ready")" = 503 ] && break; sleep 0.02; done
  [ "$(status_of "$db/ready")" = 503 ] && [ "$(status_of "$db/health")" = 200 ] \
    && expect 503 shutting_down -X POST "${J[@]}" -d '{"input":"x","session_id":"dr-2"}' "$db/v1/agents/echo/invoke" || return 1
  wait $s
  stream_is_clean "$work/dr.sse" dr-1 || return 1
  wait "$pid_drain"
}

start short --drain-ms 300
t_drain_cut_short() { # a stream longer than the drain ends with its last event, cleanly
  curl -sN --max-time 20 -X POST "${J[@]}" -d '{"input":"count to 100","session_id":"dr-3","params":{"ms_per_word":"50"}}' "$base_short/v1/agents/assistant/stream" >"$work/dr3.sse" &
  local s=$!
  until_in "$work/dr3.sse" '^event: chunk' || return 1
  kill -TERM "$pid_short"
  wait $s || return 1 # curl saw the chunked body end properly
  [ "$(last_event "$work/dr3.sse")" = failed ] \
    && [ "$(datas "$work/dr3.sse" | tail -n1 | jq -r .error.code)" = shutting_down ] \
    && wait "$pid_short"
}

check "SIGTERM drains: ready turns 503, new calls 503, running streams complete, exit 0" t_drain
check "a stream longer than the drain ends with shutting_down and a clean end" t_drain_cut_short

# -- options ----------------------------------------------------------------------------------
t_options() {
  "$server" --port 0 --nonsense 1 >/dev/null 2>"$work/o1.err"; local a=$?
  AGENTRT_IO_THREADS=zero "$server" --port 0 >/dev/null 2>"$work/o2.err"; local b=$?
  "$server" --help >"$work/o3.out"; local c=$?
  "$server" --port 99999 >/dev/null 2>"$work/o4.err"; local d=$?
  [ $a = 2 ] && grep -q 'unknown option --nonsense' "$work/o1.err" \
    && [ $b = 2 ] && grep -q "AGENTRT_IO_THREADS: bad value 'zero'" "$work/o2.err" \
    && [ $c = 0 ] && grep -q -- '--allowed-origins / AGENTRT_ALLOWED_ORIGINS' "$work/o3.out" \
    && [ $d = 2 ] && grep -q -- "--port: bad value '99999'" "$work/o4.err"
}
check "bad options and variables are refused with a message naming them; --help lists all" t_options

finish
