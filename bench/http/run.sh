#!/usr/bin/env bash
# The HTTP/SSE load benchmark: N concurrent streams of the `assistant` agent, each a
# session of its own answered from agentrt-mock-llm (20 tokens 100 ms apart, so 2.0 s is
# the ideal), against
#   agentrt  examples/agentrt-server --llm-url <mock>
#   agentrt-timers  the same server with no model: the assistant's built-in answer, 20 words
#            100 ms apart from timers, the very events and pacing of the ceiling (so the
#            pair shows the runtime's own cost, the model client's left out)
#   ceiling  bench/http/agentrt-sse-ceiling: a bare Beast server writing the same events
#            from timers (what the machine allows)
#   fastapi  bench/http/fastapi_server.py: FastAPI + uvicorn, 2 workers, httpx to the mock
#   fastapi-aiohttp  the same with an aiohttp ClientSession to the mock
# Each server is started for each N, measured by agentrt-sse-load (its CPU and memory
# summed over its process tree, /health probed every 50 ms), and stopped. Builds nothing.
#
#   bench/http/run.sh [BUILD_DIR] [--streams "5000 10000"] [--systems "agentrt-timers ceiling agentrt fastapi fastapi-aiohttp"]
#                     [--json FILE] [--method POST|GET] [--expect-events K] [--connect-batch B]
#                     [--idle-timeout-ms MS] [--server PATH]
#
# BUILD_DIR defaults to build/release (relative to the repository root); the tools and the
# mock come from it, and agentrt-server too unless --server names another binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="build/release"
streams="5000 10000"
systems="agentrt-timers ceiling agentrt fastapi fastapi-aiohttp"
json_out=""
server_bin=""
method="POST"
expect=""
batch=""
idle_ms=""
tokens=20
interval_ms=100
python=/usr/bin/python3

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit "${1:-2}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --streams) streams="$2"; shift 2 ;;
    --systems) systems="$2"; shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    --method) method="$2"; shift 2 ;;
    --expect-events) expect="$2"; shift 2 ;;
    --connect-batch) batch="$2"; shift 2 ;;
    --idle-timeout-ms) idle_ms="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --server) server_bin="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) build="$1"; shift ;;
  esac
done
[[ "$build" = /* ]] || build="$root/$build"

mock_bin="$build/examples/agentrt-mock-llm"
server_bin="${server_bin:-$build/examples/agentrt-server}"
load_bin="$build/bench/http/agentrt-sse-load"
ceiling_bin="$build/bench/http/agentrt-sse-ceiling"
for bin in "$mock_bin" "$load_bin" "$ceiling_bin"; do
  [[ -x "$bin" ]] || { echo "run.sh: $bin is not built" >&2; exit 2; }
done
for sys in $systems; do
  case "$sys" in
    agentrt|agentrt-timers) [[ -x "$server_bin" ]] || { echo "run.sh: $server_bin is not built" >&2; exit 2; } ;;
    fastapi|fastapi-aiohttp)
      "$python" -c 'import fastapi, uvicorn, httpx, aiohttp' 2>/dev/null || {
        echo "run.sh: $sys needs python3-fastapi python3-uvicorn python3-httpx python3-aiohttp" \
             "(and python3-uvloop python3-httptools)" >&2; exit 2; } ;;
    ceiling) ;;
    *) echo "run.sh: unknown system $sys" >&2; exit 2 ;;
  esac
done

# Every stream is a socket in the client and one in the server, and one more from the
# server to the model for agentrt and fastapi: children inherit the raised limit.
ulimit -n "$(ulimit -Hn)"
for n in $streams; do
  if (( $(ulimit -n) < 2 * n + 256 )); then
    echo "run.sh: warning: $(ulimit -n) open files allowed; a server relaying $n streams to the" \
         "model needs about $((2 * n + 256)) (the hard limit cannot be raised here)" >&2
  fi
done

work="$(mktemp -d)"
pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; --i)); do stop "${pids[i]}"; done # the load client first
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background, its output in $work/NAME.{out,err}; sets
# `pid` and `url` (from its first stdout line "listening on http://HOST:PORT[/v1]").
start() {
  local name="$1"; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  pids+=("$pid")
  local line=""
  for _ in $(seq 1 300); do
    line="$(head -n 1 "$work/$name.out")"
    [[ "$line" == "listening on "* ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [[ "$line" != "listening on "* ]]; then
    echo "run.sh: $name did not start:" >&2
    tail -n 20 "$work/$name.err" >&2
    exit 1
  fi
  url="${line#listening on }"
}

# ready URL: waits (up to 30 s) until URL answers 200: the server's workers are up.
ready() {
  "$python" - "$1" <<'EOF' || { echo "run.sh: $1 never answered 200" >&2; exit 1; }
import sys, time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            if r.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.05)
EOF
}

# stop PID: SIGTERM, and SIGKILL (to it and the children it had) if it has not gone within
# 15 s.
stop() {
  local p="$1" kids
  kids="$(pgrep -P "$p" || true)"
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  # shellcheck disable=SC2086 # a list of pids
  kill -KILL "$p" $kids 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local kept=()
  for q in "${pids[@]}"; do [[ "$q" == "$p" ]] || kept+=("$q"); done
  pids=("${kept[@]}")
}

start mock "$mock_bin" --port 0 --tokens "$tokens" --interval-ms "$interval_ms"
mock_url="$url"
mock_pid="$pid"
echo "mock model: $mock_url ($tokens tokens, $interval_ms ms apart)"

results="$work/results.jsonl"
: >"$results"
for sys in $systems; do
  for n in $streams; do
    case "$sys" in
      # Access logs off here as for FastAPI: one line per request is not what is measured.
      agentrt) start "$sys-$n" "$server_bin" --port 0 --llm-url "$mock_url" --access-log off ;;
      # The same server with no model behind it: the assistant's built-in answer, one word
      # per timer tick. Same events and pacing as the ceiling: the runtime's own cost.
      agentrt-timers) start "$sys-$n" "$server_bin" --port 0 --access-log off ;;
      ceiling) start "$sys-$n" "$ceiling_bin" --port 0 --tokens "$tokens" --interval-ms "$interval_ms" ;;
      fastapi) start "$sys-$n" "$python" "$here/fastapi_server.py" --port 0 --workers 2 \
                 --llm-url "$mock_url" ;;
      fastapi-aiohttp) start "$sys-$n" "$python" "$here/fastapi_server.py" --port 0 --workers 2 \
                 --llm-url "$mock_url" --model-client aiohttp ;;
    esac
    server_pid="$pid"
    base="${url%/}"
    ready "$base/health"
    args=(--url "$base" --streams "$n" --method "$method" --server-pid "$server_pid"
          --model-pid "$mock_pid" --health-url "$base/health" --json "$work/$sys-$n.json")
    [[ -n "$expect" ]] && args+=(--expect-events "$expect")
    if [[ "$sys" = agentrt-timers ]]; then
      # "Here is a plan for: <input>." with 15 input words is $tokens = 20 words.
      words=$(for i in $(seq $((tokens - 5))); do printf 'w%s ' "$i"; done)
      args+=(--input "${words% }" --param "ms_per_word=$interval_ms")
    fi
    [[ -n "$batch" ]] && args+=(--connect-batch "$batch")
    [[ -n "$idle_ms" ]] && args+=(--idle-timeout-ms "$idle_ms")
    echo
    echo "== $sys, $n streams ($base, pid $server_pid)"
    rc=0
    # In the background, so that a signal to this script is handled at once.
    "$load_bin" "${args[@]}" &
    pids+=("$!")
    wait "$!" || rc=$?
    stop "$!"
    stop "$server_pid"
    if [[ -s "$work/$sys-$n.json" ]]; then
      "$python" -c 'import json,sys; print(json.dumps({"system": sys.argv[1], "streams": int(sys.argv[2]),
        "exit": int(sys.argv[3]), "load": json.load(open(sys.argv[4]))}))' \
        "$sys" "$n" "$rc" "$work/$sys-$n.json" >>"$results"
    else
      echo "run.sh: $sys at $n streams wrote no report (exit $rc)" >&2
      tail -n 20 "$work/$sys-$n.err" >&2 || true
    fi
  done
done

echo
"$python" - "$results" "$json_out" "$tokens" "$interval_ms" "$method" <<'EOF'
import json, os, platform, sys

path, out, tokens, interval_ms, method = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ideal = tokens * interval_ms / 1000.0
runs = [json.loads(l) for l in open(path) if l.strip()]

def row(r):
    l = r["load"]
    s = l.get("server", {})
    return [r["system"], str(r["streams"]), f'{l["ok"]}', f'{l["wall_s"]:.2f}',
            f'{l["wall_s"] / ideal:.2f}', f'{l["first_event_ms"]["p99"]:.0f}',
            f'{s.get("cpu_ms_per_stream", 0):.3f}', f'{s.get("peak_rss_mb", 0):.0f}',
            f'{s.get("max_threads", 0)}', f'{l.get("health", {}).get("p99", 0):.1f}',
            f'{l.get("machine", {}).get("other_cpu_s", 0):.1f}']

head = ["system", "N", "ok", "wall s", "wall/ideal", "p99 first ms", "cpu ms/stream",
        "peak RSS MB", "threads", "health p99 ms", "other cpu s"]
rows = [head] + [row(r) for r in runs]
widths = [max(len(x[i]) for x in rows) for i in range(len(head))]
for x in rows:
    print("  ".join(v.rjust(w) for v, w in zip(x, widths)))

by = {(r["system"], r["streams"]): r["load"] for r in runs}
ratios = {}
for n in sorted({r["streams"] for r in runs}):
  for mine, others in (("agentrt-timers", ("ceiling",)),
                       ("agentrt", ("ceiling", "fastapi", "fastapi-aiohttp"))):
    a = by.get((mine, n))
    if not a:
        continue
    for other in others:
        b = by.get((other, n))
        if not b:
            continue
        k = f"{mine}/{other} at {n}"
        ratios[k] = {"wall": a["wall_s"] / b["wall_s"]}
        ca, cb = a.get("server", {}).get("cpu_ms_per_stream"), b.get("server", {}).get("cpu_ms_per_stream")
        if ca and cb:
            ratios[k]["cpu_per_stream"] = ca / cb
print("(other cpu s: CPU time the machine spent meanwhile on neither the server, the model"
      " server nor the load client: well above 0, other work skewed the figures)")
if ratios:
    print()
for k, v in ratios.items():
    print(f"{k}: wall {v['wall']:.2f}x" + (f", cpu per stream {v['cpu_per_stream']:.2f}x" if "cpu_per_stream" in v else ""))
failed = [f'{r["system"]}@{r["streams"]}' for r in runs if r["exit"] != 0]
if failed:
    print("\nruns with failed streams or health probes: " + ", ".join(failed))

if out:
    doc = {"benchmark": "http-sse",
           "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                       "loadavg_at_end": os.getloadavg()[0]},
           "config": {"tokens": tokens, "interval_ms": interval_ms, "ideal_s": ideal, "method": method},
           "runs": runs, "ratios": ratios}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"\nwrote {out}")
sys.exit(1 if failed else 0)
EOF
