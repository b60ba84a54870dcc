# Shared by the server's shell tests: start a server on a free loopback port, check steps,
# read streams. Source it; set `server` (the binary) first.

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: starts the server with ARGS; sets base_NAME and pid_NAME.
start() {
  local name=$1
  shift
  "$server" --port 0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  local p=$!
  pids+=("$p")
  local i
  for i in $(seq 200); do
    grep -q "^listening on " "$work/$name.out" 2>/dev/null && break
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  local b
  b=$(sed -n 's/^listening on //p' "$work/$name.out")
  if [ -z "$b" ]; then
    echo "the server ($name) did not start:"; cat "$work/$name.err"
    echo "0 passed, 1 failed"
    exit 1
  fi
  printf -v "base_$name" '%s' "$b"
  printf -v "pid_$name" '%s' "$p"
}

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
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

events() { grep '^event: ' "$1" | cut -d' ' -f2 | tr '\n' ' '; }
datas() { grep '^data: ' "$1" | cut -c7-; }
ids() { grep '^id: ' "$1" | cut -c5- | tr '\n' ' '; }
last_event() { grep '^event: ' "$1" | tail -n 1 | cut -d' ' -f2; }
# until_in FILE PATTERN: wait (at most 10 s) until FILE has a line matching PATTERN.
until_in() {
  local i
  for i in $(seq 1000); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}

# A stream is clean if every event names SESSION, all share one call id, seq is 1..n,
# every `id:` is CALL:SEQ, and it ends with `completed`.
stream_is_clean() {
  local file=$1 session=$2
  [ "$(last_event "$file")" = "completed" ] || return 1
  [ "$(datas "$file" | jq -r .session_id | sort -u)" = "$session" ] || return 1
  local call
  call=$(datas "$file" | jq -r .call_id | sort -u)
  [ "$(wc -l <<<"$call")" = "1" ] || return 1
  local n
  n=$(datas "$file" | wc -l)
  [ "$(datas "$file" | jq -r .seq | tr '\n' ' ')" = "$(seq -s ' ' 1 "$n") " ] || return 1
  [ "$(ids "$file")" = "$(for i in $(seq 1 "$n"); do printf '%s:%s ' "$call" "$i"; done)" ]
}
