#!/usr/bin/env bash
# The gRPC front end against the HTTP one, on one agentrt-server (--port 0 --grpc-port 0,
# access logs off) and the same work: echo-agent, the same input, so every call streams the
# same chunks. Four runs of --seconds each, one after the other, after a short warm-up:
#   grpc unary   agentrt-grpc-load --mode unary: --concurrency ExecuteTask calls in flight
#                over --channels channels (HTTP/2 connections)
#   http unary   agentrt-sse-load --unary: as many POST .../invoke calls in flight, one per
#                keep-alive connection (HTTP/1.1 has one request at a time per connection)
#   grpc stream  agentrt-grpc-load --mode stream: --streams ExecuteTaskStream calls at once,
#                each lane its own session, a new stream as soon as the last ended
#   http stream  agentrt-sse-load --seconds: as many POST .../stream SSE streams (a new
#                connection per stream: the server closes it after the terminal event)
# Every answer is checked by the clients (see their sources); a run with an error fails
# this script. Prints a table (calls/s, chunks/s, latency, server CPU per call) and the
# gRPC/HTTP ratios; --json FILE writes them all. About a minute with the defaults. Builds
# nothing.
#
#   bench/grpc/run.sh [BUILD_DIR] [--server PATH] [--seconds 10] [--warmup 1]
#                     [--concurrency 64] [--streams 64] [--channels 2] [--input TEXT]
#                     [--json FILE]
#
# BUILD_DIR defaults to build/release (relative to the repository root); the load clients
# come from it, and agentrt-server too unless --server names another binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="build/release"
server_bin=""
seconds=10
warmup=1
concurrency=64
streams=64
channels=2
input="the quick brown fox jumps over the lazy dog"
json_out=""
python=/usr/bin/python3

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit "${1:-2}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) server_bin="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --channels) channels="$2"; shift 2 ;;
    --input) input="$2"; shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) build="$1"; shift ;;
  esac
done
[[ "$build" = /* ]] || build="$root/$build"

server_bin="${server_bin:-$build/examples/agentrt-server}"
grpc_load="$build/bench/grpc/agentrt-grpc-load"
http_load="$build/bench/http/agentrt-sse-load"
for bin in "$server_bin" "$grpc_load" "$http_load"; do
  [[ -x "$bin" ]] || { echo "run.sh: $bin is not built" >&2; exit 2; }
done

work="$(mktemp -d)"
server_pid=""
load_pid=""
cleanup() {
  [[ -n "$load_pid" ]] && kill -TERM "$load_pid" 2>/dev/null || true
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "machine: $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
"$server_bin" --port 0 --grpc-port 0 --access-log off >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q '^listening on http' "$work/server.out" && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.05
done
if ! grep -q '^listening on http' "$work/server.out"; then
  echo "run.sh: agentrt-server did not start (does it serve --grpc-port?):" >&2
  tail -n 20 "$work/server.err" >&2
  exit 1
fi
grpc_target="$(sed -n 's/^grpc listening on //p' "$work/server.out")"
http_url="$(sed -n 's/^listening on //p' "$work/server.out")"
http_url="${http_url%/}"
[[ -n "$grpc_target" ]] || { echo "run.sh: no 'grpc listening on' line" >&2; exit 1; }
echo "agentrt-server pid $server_pid: grpc $grpc_target, http $http_url"

# load OUT CMD...: runs a load client in the background (so that a signal is handled at
# once), its stdout to the file OUT ("-": this script's); returns its exit status.
load() {
  local out="$1"; shift
  local rc=0
  if [[ "$out" = - ]]; then
    "$@" &
  else
    "$@" >"$out" &
  fi
  load_pid=$!
  wait "$load_pid" || rc=$?
  load_pid=""
  return "$rc"
}

common_grpc=(--target "$grpc_target" --agent echo-agent --input "$input" --channels "$channels")
common_http=(--url "$http_url" --agent echo-agent --input "$input")

if [[ "$warmup" != 0 ]]; then
  echo "warm-up: ${warmup} s of each protocol's unary calls"
  load /dev/null "$grpc_load" "${common_grpc[@]}" --mode unary --concurrency "$concurrency" \
    --seconds "$warmup" || { echo "run.sh: the gRPC warm-up failed" >&2; exit 1; }
  load /dev/null "$http_load" "${common_http[@]}" --unary --concurrency "$concurrency" \
    --seconds "$warmup" || { echo "run.sh: the HTTP warm-up failed" >&2; exit 1; }
fi

status=0
results="$work/results.jsonl"
: >"$results"
run() { # NAME OUT CMD...: a measured run (its stdout to OUT), its report from $work/NAME.json
  local name="$1"; shift
  echo
  echo "== $name"
  local rc=0
  load "$@" || rc=$?
  if [[ -s "$work/$name.json" ]]; then
    "$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["run"]=sys.argv[2]; d["exit"]=int(sys.argv[3]); print(json.dumps(d))' \
      "$work/$name.json" "$name" "$rc" >>"$results"
  else
    echo "run.sh: $name wrote no report (exit $rc)" >&2
  fi
  [[ $rc -eq 0 ]] || status=1
  kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: agentrt-server has died:" >&2; tail -n 20 "$work/server.err" >&2; exit 1; }
}

# agentrt-grpc-load prints its JSON on stdout (its line on stderr); agentrt-sse-load writes
# it to --json FILE.
grpc=("$grpc_load" "${common_grpc[@]}" --server-pid "$server_pid" --seconds "$seconds" --json)
http=("$http_load" "${common_http[@]}" --server-pid "$server_pid" --seconds "$seconds")
run "grpc unary" "$work/grpc unary.json" "${grpc[@]}" --mode unary --concurrency "$concurrency"
run "http unary" - "${http[@]}" --unary --concurrency "$concurrency" \
  --json "$work/http unary.json"
run "grpc stream" "$work/grpc stream.json" "${grpc[@]}" --mode stream --streams "$streams"
run "http stream" - "${http[@]}" --streams "$streams" --json "$work/http stream.json"

echo
"$python" - "$results" "$json_out" "$seconds" "$input" <<'EOF' || status=1
import json, os, platform, sys

path, out, seconds, text = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
runs = [json.loads(l) for l in open(path) if l.strip()]

def row(r):
    s = r.get("server", {})
    chunks = r["chunks_per_call"]
    stream = r["mode"] == "stream"
    return [r["run"], str(r["concurrency"]), str(r["connections"]), f'{r["calls"]:,}',
            f'{r["calls_per_s"]:,.0f}',
            f'{chunks["min"]}' + ("" if chunks["min"] == chunks["max"] else f'..{chunks["max"]}') if stream else "-",
            f'{r["chunks_per_s"]:,.0f}' if stream else "-",
            f'{r["p50_us"] / 1000:.2f}', f'{r["p99_us"] / 1000:.2f}',
            f'{r["first_chunk_p50_us"] / 1000:.2f}' if stream else "-",
            f'{s.get("cpu_us_per_call", 0):.0f}', f'{s.get("max_threads", 0)}',
            f'{r["client_cpu_s"]:.1f}', f'{r["machine"]["other_cpu_s"]:.1f}', str(r["errors"])]

head = ["run", "in flight", "conns", "calls", "calls/s", "chunks/call", "chunks/s",
        "p50 ms", "p99 ms", "1st chunk p50 ms", "server cpu us/call", "threads",
        "client cpu s", "other cpu s", "errors"]
rows = [head] + [row(r) for r in runs]
widths = [max(len(x[i]) for x in rows) for i in range(len(head))]
for x in rows:
    print("  ".join(v.rjust(w) for v, w in zip(x, widths)))
print("(server cpu: utime+stime of agentrt-server over the run, per call answered; other cpu:"
      " what the machine spent meanwhile on neither the server nor the load client)")

by = {r["run"]: r for r in runs}
ratios = {}
for mode in ("unary", "stream"):
    g, h = by.get(f"grpc {mode}"), by.get(f"http {mode}")
    if not g or not h or not h["calls_per_s"]:
        continue
    k = f"grpc/http {mode}"
    ratios[k] = {"calls_per_s": g["calls_per_s"] / h["calls_per_s"],
                 "p50": g["p50_us"] / h["p50_us"] if h["p50_us"] else None}
    cg, ch = g.get("server", {}).get("cpu_us_per_call"), h.get("server", {}).get("cpu_us_per_call")
    if cg and ch:
        ratios[k]["server_cpu_per_call"] = cg / ch
if ratios:
    print()
for k, v in ratios.items():
    print(f"{k}: calls/s {v['calls_per_s']:.2f}x, p50 {v['p50'] or 0:.2f}x"
          + (f", server cpu per call {v['server_cpu_per_call']:.2f}x" if "server_cpu_per_call" in v else ""))
failed = [r["run"] for r in runs if r["exit"] != 0 or r["errors"] != 0]
if failed:
    print("\nruns with errors: " + ", ".join(failed))
    for r in runs:
        for e in r["error_samples"]:
            print(f"  {r['run']}: {e}")

if out:
    doc = {"benchmark": "grpc-vs-http",
           "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                       "loadavg_at_end": os.getloadavg()[0]},
           "config": {"seconds": seconds, "input": text, "agent": "echo-agent"},
           "runs": runs, "ratios": ratios}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"\nwrote {out}")
sys.exit(1 if failed or len(runs) < 4 else 0)
EOF
exit $status
