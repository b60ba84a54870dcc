#!/usr/bin/python3
"""Drives agentrt-server's gRPC AgentService with Python's grpcio, as a platform client would.

Usage: grpc_python_test.py --port PORT --stubs DIR [--host 127.0.0.1]

PORT is the server's gRPC port (its "grpc listening on HOST:PORT" line); DIR holds
agent_platform_pb2.py and agent_platform_pb2_grpc.py, generated from proto/agent_platform.proto
(grpc_python_test.sh generates them). The test starts no process. Checks (agents echo-agent,
tool weather, see examples/server/platform_agents.hpp):
  1  two tasks in one session keep its context: "(task 1)", "(task 2)", ids and headers
  2  a one-shot task gets a minted session id (a UUID) on the answer and the header
  3  a task retried with its task_id replays its first outcome; the session does not advance
  4  50 streams at once on 50 sessions: every chunk in order, in its own stream only
  5  a cancelled stream ends its turn, which commits nothing; the session answers at once
  6  ExecuteTool weather: forecast JSON, minted session, tool_failed, NOT_FOUND, INVALID_ARGUMENT
  7  bad requests get their documented status and agentrt-error-code trailer; busy sessions,
     deadlines and an agent's failure
  8  tool_ids reach the turn as the param tool_ids
Each check prints "ok - NAME" or "FAILED - NAME: WHY"; then "N passed, M failed". Exit 1 on
any failure. Every rpc has a deadline, and the whole run a limit.
Needs /usr/bin/python3 with grpcio and protobuf (Debian: python3-grpcio python3-protobuf).
"""

import argparse
import concurrent.futures
import json
import os
import re
import sys
import threading
import time
import uuid

RPC_TIMEOUT = 10.0     # every rpc's deadline, unless a check says otherwise
STREAM_TIMEOUT = 30.0  # the deadline of each of the 50 concurrent streams
TOTAL_TIMEOUT = 100.0  # the whole run (ctest gives the script 120 s)
AGENT = "echo-agent"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

grpc = None
pb = None
pbg = None
stub = None
RUN = uuid.uuid4().hex[:8]  # session ids of this run: no clash with anything else
passed = 0
failed = 0
out_lock = threading.Lock()


def sid(name):
    return "py-%s-%s" % (RUN, name)


# ---- expectations (the contract in examples/server/platform_agents.hpp) ----

def echo_rest(params, n):
    rest = ""
    if params:
        rest = " [" + ", ".join("%s=%s" % (k, params[k]) for k in sorted(params)) + "]"
    return rest + " (task %d)" % n


def echo_text(text, params, n):
    """echo-agent's answer to `text` with these params, as its session's task n."""
    return "echo: " + text + echo_rest(params, n)


def echo_pieces(text, params, n):
    """The chunks echo-agent streams: "echo: ", each word with the spaces after it, the rest."""
    pieces = ["echo: "] + re.findall(r"[^ ]+ *| +", text)
    return pieces + [echo_rest(params, n)]


# ---- checking ----

class Failure(Exception):
    pass


def eq(got, want, what):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def ok(cond, what):
    if not cond:
        raise Failure(what)


def check(name, fn):
    global passed, failed
    try:
        fn()
    except Failure as e:
        with out_lock:
            failed += 1
            print("FAILED - %s: %s" % (name, e), flush=True)
        return
    except grpc.RpcError as e:
        with out_lock:
            failed += 1
            print("FAILED - %s: unexpected rpc error %s: %s" % (name, e.code(), e.details()),
                  flush=True)
        return
    except Exception as e:  # a bug in the check itself still counts as a failure
        with out_lock:
            failed += 1
            print("FAILED - %s: %s: %s" % (name, type(e).__name__, e), flush=True)
        return
    with out_lock:
        passed += 1
        print("ok - %s" % name, flush=True)


def header(call, key="x-session-id"):
    """The value of an initial-metadata key of a finished call (None: absent)."""
    values = [m.value for m in (call.initial_metadata() or ()) if m.key == key]
    if len(values) > 1:
        raise Failure("%d %s headers: %r" % (len(values), key, values))
    return values[0] if values else None


def trailer(err, key="agentrt-error-code"):
    values = [m.value for m in (err.trailing_metadata() or ()) if m.key == key]
    return values[0] if len(values) == 1 else (values or None)


def task(session="", text="", params=None, task_id="", tool_ids=(), on_busy="", agent=AGENT):
    return pb.TaskRequest(task_id=task_id, agent_id=agent, input=text,
                          parameters=params or {}, tool_ids=list(tool_ids),
                          session_id=session, on_busy=on_busy)


def run_task(req, timeout=RPC_TIMEOUT, metadata=None):
    """ExecuteTask; returns (response, x-session-id header)."""
    resp, call = stub.ExecuteTask.with_call(req, timeout=timeout, metadata=metadata)
    return resp, header(call)


def expect_error(fn, code, error_code, what, session=None):
    """fn() must fail with gRPC status `code` and trailer agentrt-error-code `error_code`
    (None: not checked), and with the x-session-id header `session` if that is given."""
    try:
        got = fn()
    except grpc.RpcError as e:
        if e.code() != code:
            raise Failure("%s: got status %s (%s), want %s"
                          % (what, e.code(), e.details(), code))
        if error_code is not None:
            eq(trailer(e), error_code, what + ": trailer agentrt-error-code")
        ok(e.details(), what + ": an empty status message")
        if session is not None:
            eq(header(e), session, what + ": x-session-id header")
        return e
    raise Failure("%s: succeeded (%r), want status %s" % (what, got, code))


def expect_answer(resp, hdr, session, text, params, n, task_id=""):
    """A successful echo-agent answer as the session's task (and turn) n."""
    eq(resp.success, True, "success (error %r %r)" % (resp.error_code, resp.error))
    eq(resp.output, echo_text(text, params, n), "output")
    eq(resp.session_id, session, "session_id")
    eq(resp.turn, n, "turn")
    eq(resp.task_id, task_id, "task_id")
    eq(resp.error, "", "error")
    eq(resp.error_code, "", "error_code")
    md = resp.metadata
    eq(md.get("session_id"), session, "metadata session_id")
    eq(md.get("agent_id"), AGENT, "metadata agent_id")
    eq(md.get("task_number"), str(n), "metadata task_number")
    eq(md.get("replayed"), "false", "metadata replayed")
    ok(RFC3339_RE.match(md.get("processed_at", "")),
       "metadata processed_at is not RFC 3339: %r" % md.get("processed_at"))
    ok(md.get("call_id", "").isdigit(), "metadata call_id: %r" % md.get("call_id"))
    eq(sorted(md), ["agent_id", "call_id", "processed_at", "replayed", "session_id",
                    "task_number"], "metadata keys")
    eq(hdr, session, "x-session-id header")


def read_stream(req, timeout=RPC_TIMEOUT):
    """All chunks of a stream that ends OK, and its x-session-id header."""
    it = stub.ExecuteTaskStream(req, timeout=timeout)
    chunks = list(it)
    return chunks, header(it)


def expect_clean_stream(chunks, session, text, params, n, task_id=""):
    """started, one chunk per piece, completed: in order, all in `session`."""
    pieces = echo_pieces(text, params, n)
    want_output = echo_text(text, params, n)
    eq([c.kind for c in chunks], ["started"] + ["chunk"] * len(pieces) + ["completed"], "kinds")
    eq([c.seq for c in chunks], list(range(1, len(chunks) + 1)), "seq")
    eq({c.session_id for c in chunks}, {session}, "sessions of the chunks")
    eq({c.task_id for c in chunks}, {task_id}, "task ids of the chunks")
    eq({c.agent_id for c in chunks}, {AGENT}, "agents of the chunks")
    eq([c.is_final for c in chunks], [False] * (len(chunks) - 1) + [True], "is_final")
    eq([c.content for c in chunks[1:-1]], pieces, "chunk contents")
    eq(chunks[0].content, "", "content of started")
    last = chunks[-1]
    eq(last.content, "", "content of the final chunk (pieces were streamed)")
    eq(last.output, want_output, "final output")
    eq("".join(c.content for c in chunks), last.output, "concatenated contents vs output")
    eq((last.success, last.error, last.error_code, last.turn), (True, "", "", n),
       "final success/error/error_code/turn")


# ---- the checks ----

def t_context_kept():
    s = sid("ctx")
    r1, h1 = run_task(task(s, "hi", task_id="ctx-1"))
    expect_answer(r1, h1, s, "hi", {}, 1, task_id="ctx-1")
    eq(r1.output, "echo: hi (task 1)", "first output")
    r2, h2 = run_task(task(s, "again", task_id="ctx-2"))
    expect_answer(r2, h2, s, "again", {}, 2, task_id="ctx-2")
    eq(r2.output, "echo: again (task 2)", "second output")
    ok(r1.metadata["call_id"] != r2.metadata["call_id"],
       "both tasks have call_id %s" % r1.metadata["call_id"])


def t_header_names_session():
    s = sid("hdr")
    r1, h1 = run_task(task("", "one"), metadata=(("x-session-id", s),))
    expect_answer(r1, h1, s, "one", {}, 1)
    r2, h2 = run_task(task(s, "two"), metadata=(("x-session-id", s),))  # both, the same
    expect_answer(r2, h2, s, "two", {}, 2)


def t_one_shot():
    r, h = run_task(task("", "x", task_id="only-echoed"))
    ok(len(r.session_id) == 36 and UUID_RE.match(r.session_id),
       "minted session id is not a UUID: %r" % r.session_id)
    expect_answer(r, h, r.session_id, "x", {}, 1, task_id="only-echoed")
    r2, h2 = run_task(task("", "x"))
    ok(UUID_RE.match(r2.session_id), "second minted id: %r" % r2.session_id)
    ok(r2.session_id != r.session_id, "two one-shot tasks got the same session %s" % r.session_id)
    expect_answer(r2, h2, r2.session_id, "x", {}, 1)


def t_retry_replays():
    s = sid("retry")
    r1, h1 = run_task(task(s, "first", task_id="req-1"))
    expect_answer(r1, h1, s, "first", {}, 1, task_id="req-1")
    r2, h2 = run_task(task(s, "first", task_id="req-1"))
    eq(r2.metadata.get("replayed"), "true", "retry: metadata replayed")
    eq((r2.success, r2.output, r2.turn, r2.session_id, r2.task_id, r2.error_code),
       (True, "echo: first (task 1)", 1, s, "req-1", ""), "retry: the first outcome")
    eq(r2.metadata.get("task_number"), "1", "retry: metadata task_number")
    eq(h2, s, "retry: x-session-id header")
    r3, h3 = run_task(task(s, "next", task_id="req-2"))
    expect_answer(r3, h3, s, "next", {}, 2, task_id="req-2")  # task 2: the retry ran nothing


def t_fifty_streams():
    n = 50
    params = {"delay_ms": "40"}
    text = lambda i: "q%02da q%02db  q%02dc" % (i, i, i)  # two spaces: a piece keeps both
    token = re.compile(r"q(\d\d)[abc]")
    barrier = threading.Barrier(n, timeout=RPC_TIMEOUT)

    def one(i):
        barrier.wait()
        t0 = time.monotonic()
        it = stub.ExecuteTaskStream(task(sid("many-%02d" % i), text(i), params,
                                         task_id="many-%02d" % i), timeout=STREAM_TIMEOUT)
        chunks = []
        first = None
        for c in it:
            if first is None:
                first = time.monotonic()
            chunks.append(c)
        return chunks, header(it), t0, first, time.monotonic()

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        results = [f.result(timeout=STREAM_TIMEOUT + 5) for f in futures]
    for i, (chunks, hdr, _, _, _) in enumerate(results):
        s = sid("many-%02d" % i)
        try:
            expect_clean_stream(chunks, s, text(i), params, 1, task_id="many-%02d" % i)
            eq(hdr, s, "x-session-id header")
            for c in chunks:
                for field in (c.content, c.output, c.detail, c.session_id, c.task_id):
                    others = {m for m in token.findall(field) if int(m) != i}
                    ok(not others, "seq %d mentions stream(s) %s: %r"
                       % (c.seq, sorted(others), field))
        except Failure as e:
            raise Failure("stream %d: %s" % (i, e))
    # They ran at once: the most streams between their first chunk and their last.
    spans = [(first, end) for (_, _, _, first, end) in results]
    peak = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    print("# 50 streams: at most %d in flight at once, %.2f s in all"
          % (peak, max(e for _, e in spans) - min(r[2] for r in results)), flush=True)
    ok(peak >= 2, "the streams never overlapped (peak %d)" % peak)


def t_cancelled_stream():
    s = sid("cancel")
    words = "one two three four five six"
    it = stub.ExecuteTaskStream(task(s, words, {"delay_ms": "500"}), timeout=RPC_TIMEOUT)
    seen = []
    for c in it:
        seen.append(c)
        if c.kind == "chunk":
            break
    it.cancel()
    try:
        rest = list(it)
        raise Failure("the stream went on after cancel(): %r" % [c.kind for c in rest])
    except grpc.RpcError as e:
        eq(e.code(), grpc.StatusCode.CANCELLED, "status after cancel()")
    eq([(c.kind, c.content, c.seq) for c in seen], [("started", "", 1), ("chunk", "echo: ", 2)],
       "chunks before cancel()")
    eq(header(it), s, "x-session-id header")
    # 5 pieces (2.5 s) were left: the turn must have stopped, and committed nothing.
    t0 = time.monotonic()
    r, h = run_task(task(s, "after"), timeout=5.0)
    took = time.monotonic() - t0
    expect_answer(r, h, s, "after", {}, 1)  # task 1 and turn 1 again: nothing was committed
    ok(took < 2.0, "the next task took %.2f s (the cancelled turn kept running?)" % took)
    r, h = run_task(task(s, "then"))
    expect_answer(r, h, s, "then", {}, 2)


def t_tool_weather():
    s = sid("tool")
    resp, call = stub.ExecuteTool.with_call(
        pb.ToolRequest(tool_id="weather", parameters={"location": "Oslo", "days": "3"},
                       session_id=s, agent_id="py-client"), timeout=RPC_TIMEOUT)
    eq((resp.success, resp.error, resp.error_code, resp.session_id, resp.tool_id),
       (True, "", "", s, "weather"), "success/error/error_code/session_id/tool_id")
    eq(header(call), s, "x-session-id header")
    doc = json.loads(resp.result)
    eq(sorted(doc), ["days", "forecast", "location", "session_id"], "result keys")
    eq((doc["session_id"], doc["location"], doc["days"]), (s, "Oslo", 3),
       "result session_id/location/days")
    eq([d["day"] for d in doc["forecast"]], [1, 2, 3], "forecast days")
    for d in doc["forecast"]:
        eq(sorted(d), ["day", "high_c", "low_c", "summary"], "forecast entry keys")
        ok(isinstance(d["high_c"], int) and isinstance(d["low_c"], int)
           and d["low_c"] <= d["high_c"], "forecast temperatures: %r" % d)
        ok(d["summary"] in ("sunny", "cloudy", "rain", "windy", "snow"), "summary: %r" % d)
    # Deterministic per location; days defaults to 1.
    again = json.loads(stub.ExecuteTool(
        pb.ToolRequest(tool_id="weather", parameters={"location": "Oslo"}, session_id=s),
        timeout=RPC_TIMEOUT).result)
    eq(again["days"], 1, "default days")
    eq(again["forecast"], doc["forecast"][:1], "same location, same forecast")


def t_tool_minted_session():
    resp, call = stub.ExecuteTool.with_call(
        pb.ToolRequest(tool_id="weather", operation="forecast",
                       parameters={"location": "Lima", "days": "2"}), timeout=RPC_TIMEOUT)
    ok(UUID_RE.match(resp.session_id), "minted session id: %r" % resp.session_id)
    eq(resp.success, True, "success (%r %r)" % (resp.error_code, resp.error))
    doc = json.loads(resp.result)
    eq((doc["session_id"], doc["location"], doc["days"], len(doc["forecast"])),
       (resp.session_id, "Lima", 2, 2), "result session_id/location/days/forecast")
    eq(header(call), resp.session_id, "x-session-id header")


def t_tool_failed():
    s = sid("toolfail")
    for params, op, what in (({"days": "2"}, "", "no location"),
                             ({"location": "Oslo", "days": "9"}, "", "days 9"),
                             ({"location": "Oslo"}, "hindcast", "operation hindcast")):
        resp, call = stub.ExecuteTool.with_call(
            pb.ToolRequest(tool_id="weather", operation=op, parameters=params, session_id=s),
            timeout=RPC_TIMEOUT)
        eq((resp.success, resp.error_code, resp.result, resp.session_id, resp.tool_id),
           (False, "tool_failed", "", s, "weather"),
           what + ": success/error_code/result/session_id/tool_id")
        eq(resp.error, "the tool failed; the server log has the details", what + ": error")
        eq(header(call), s, what + ": x-session-id header")


def t_tool_refused():
    expect_error(lambda: stub.ExecuteTool(pb.ToolRequest(tool_id="no-such-tool",
                                                         session_id=sid("t")),
                                          timeout=RPC_TIMEOUT),
                 grpc.StatusCode.NOT_FOUND, "unknown_tool", "unknown tool", session=sid("t"))
    expect_error(lambda: stub.ExecuteTool(pb.ToolRequest(tool_id="",
                                                         parameters={"location": "Oslo"}),
                                          timeout=RPC_TIMEOUT),
                 grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument", "empty tool_id")
    expect_error(lambda: stub.ExecuteTool(pb.ToolRequest(tool_id="weather", session_id="a",
                                                         parameters={"location": "Oslo"}),
                                          timeout=RPC_TIMEOUT, metadata=(("x-session-id", "b"),)),
                 grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument",
                 "x-session-id differs from session_id")


def t_bad_requests():
    # (what, request, request metadata, status, trailer, x-session-id header (None: unchecked))
    cases = [
        ("empty agent_id", task(sid("bad1"), "x", agent=""), None,
         grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument", sid("bad1")),
        ("unknown agent", task(sid("bad2"), "x", agent="no-such-agent"), None,
         grpc.StatusCode.NOT_FOUND, "unknown_agent", sid("bad2")),
        ("malformed session id", task("bad id!", "x"), None,
         grpc.StatusCode.INVALID_ARGUMENT, "invalid_session_id", None),
        ("on_busy sometimes", task(sid("bad3"), "x", on_busy="sometimes"), None,
         grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument", sid("bad3")),
        ("unknown tool in tool_ids", task(sid("bad4"), "x", tool_ids=["nope"]), None,
         grpc.StatusCode.NOT_FOUND, "unknown_tool", sid("bad4")),
        ("tool_ids and a parameter tool_ids",
         task(sid("bad5"), "x", {"tool_ids": "weather"}, tool_ids=["weather"]), None,
         grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument", sid("bad5")),
        ("x-session-id differs from session_id", task(sid("bad6"), "x"),
         (("x-session-id", sid("other")),), grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument",
         None),
    ]
    for what, req, md, code, name, hdr in cases:
        expect_error(lambda: stub.ExecuteTask(req, timeout=RPC_TIMEOUT, metadata=md),
                     code, name, "ExecuteTask, " + what, session=hdr)
        # The stream refuses the same way: a status and no chunk.
        got = []

        def stream():
            for c in stub.ExecuteTaskStream(req, timeout=RPC_TIMEOUT, metadata=md):
                got.append(c)
        expect_error(stream, code, name, "ExecuteTaskStream, " + what, session=hdr)
        eq(got, [], "ExecuteTaskStream, %s: chunks of a refused task" % what)
    # None of them reached a session: the sessions named are fresh.
    r, h = run_task(task(sid("bad4"), "fine"))
    expect_answer(r, h, sid("bad4"), "fine", {}, 1)


def t_busy_reject():
    s = sid("busy")
    params = {"delay_ms": "200"}
    it = stub.ExecuteTaskStream(task(s, "slow one", params), timeout=RPC_TIMEOUT)
    first = next(it)
    eq(first.kind, "started", "first chunk of the running task")  # it runs: S is busy now
    expect_error(lambda: stub.ExecuteTask(task(s, "me too", on_busy="reject"),
                                          timeout=RPC_TIMEOUT),
                 grpc.StatusCode.ABORTED, "session_busy", "second task, on_busy reject",
                 session=s)
    chunks = [first] + list(it)
    expect_clean_stream(chunks, s, "slow one", params, 1)
    r, h = run_task(task(s, "next"))
    expect_answer(r, h, s, "next", {}, 2)  # the rejected task counted for nothing


def t_deadline():
    s = sid("deadline")
    t0 = time.monotonic()
    expect_error(lambda: stub.ExecuteTask(task(s, "too slow", {"delay_ms": "1000"}), timeout=0.3),
                 grpc.StatusCode.DEADLINE_EXCEEDED, None, "a 0.3 s deadline on a 4 s task")
    ok(time.monotonic() - t0 < 2.0, "the deadline took %.2f s" % (time.monotonic() - t0))
    t0 = time.monotonic()
    r, h = run_task(task(s, "after"), timeout=5.0)
    took = time.monotonic() - t0
    expect_answer(r, h, s, "after", {}, 1)  # the timed-out turn committed nothing
    ok(took < 2.0, "the next task took %.2f s (the timed-out turn kept running?)" % took)


def t_agent_failed():
    s = sid("fail")
    r, h = run_task(task(s, "x y", {"fail": "boom"}, task_id="f-1"))
    eq((r.success, r.error_code, r.session_id, r.turn, r.task_id),
       (False, "agent_failed", s, 1, "f-1"), "success/error_code/session_id/turn/task_id")
    call_id = r.metadata.get("call_id", "")
    ok(call_id.isdigit(), "metadata call_id: %r" % call_id)
    eq(r.error, "the agent failed; the server log has the details (call %s)" % call_id, "error")
    eq(h, s, "x-session-id header")
    # The same failure on a stream: its chunks, then a final "failed" chunk; status OK.
    chunks, hs = read_stream(task(s, "x y", {"fail": "boom"}))
    pieces = echo_pieces("x y", {"fail": "boom"}, 1)  # a failed turn commits nothing: task 1
    eq([c.kind for c in chunks], ["started"] + ["chunk"] * len(pieces) + ["failed"], "stream kinds")
    eq([c.content for c in chunks[1:-1]], pieces, "stream chunk contents")
    eq([c.seq for c in chunks], list(range(1, len(chunks) + 1)), "stream seq")
    last = chunks[-1]
    eq((last.is_final, last.success, last.error_code), (True, False, "agent_failed"),
       "final chunk is_final/success/error_code")
    ok(re.fullmatch(r"the agent failed; the server log has the details \(call \d+\)", last.error),
       "final chunk error: %r" % last.error)
    ok("boom" not in last.error + last.detail + r.error, "the agent's text reached the client")
    eq(hs, s, "stream x-session-id header")


def t_tool_ids_param():
    s = sid("tools")
    r, h = run_task(task(s, "use tools", tool_ids=["weather"]))
    expect_answer(r, h, s, "use tools", {"tool_ids": "weather"}, 1)
    eq(r.output, "echo: use tools [tool_ids=weather] (task 1)", "output")
    r, h = run_task(task(s, "and more", {"units": "c", "a": "1"}, tool_ids=["weather"]))
    eq(r.output, "echo: and more [a=1, tool_ids=weather, units=c] (task 2)", "output with params")
    chunks, hs = read_stream(task(s, "streamed", tool_ids=["weather"]))
    expect_clean_stream(chunks, s, "streamed", {"tool_ids": "weather"}, 3)


def main():
    global grpc, pb, pbg, stub
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()

    def overall_limit():
        with out_lock:
            print("FAILED - overall limit: the run took more than %.0f s" % TOTAL_TIMEOUT)
            print("%d passed, %d failed" % (passed, failed + 1), flush=True)
        os._exit(1)
    watchdog = threading.Timer(TOTAL_TIMEOUT, overall_limit)
    watchdog.daemon = True
    watchdog.start()

    sys.path.insert(0, args.stubs)
    import grpc as grpc_module
    import agent_platform_pb2
    import agent_platform_pb2_grpc
    grpc, pb, pbg = grpc_module, agent_platform_pb2, agent_platform_pb2_grpc

    target = "%s:%d" % (args.host, args.port)
    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT)
    except grpc.FutureTimeoutError:
        print("FAILED - connect: no gRPC server at %s" % target)
        print("0 passed, 1 failed")
        return 1
    stub = pbg.AgentServiceStub(channel)
    print("# gRPC server at %s" % target, flush=True)

    check("two tasks in one session keep context", t_context_kept)
    check("x-session-id request header names the session", t_header_names_session)
    check("one-shot task gets a minted session id", t_one_shot)
    check("task_id retry replays, the session does not advance", t_retry_replays)
    check("50 concurrent streams on 50 sessions stay apart", t_fifty_streams)
    check("cancelled stream commits nothing, session usable", t_cancelled_stream)
    check("ExecuteTool weather forecast", t_tool_weather)
    check("ExecuteTool weather with a minted session", t_tool_minted_session)
    check("ExecuteTool weather bad arguments: tool_failed", t_tool_failed)
    check("ExecuteTool unknown or empty tool_id refused", t_tool_refused)
    check("bad task requests get their status and trailer", t_bad_requests)
    check("busy session with on_busy reject: ABORTED", t_busy_reject)
    check("deadline shorter than the task: DEADLINE_EXCEEDED, session usable", t_deadline)
    check("agent failure: OK status, agent_failed, generic error", t_agent_failed)
    check("tool_ids reach the turn as param tool_ids", t_tool_ids_param)

    channel.close()
    watchdog.cancel()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
