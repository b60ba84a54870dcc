#!/usr/bin/python3
"""Three agentrt-server nodes on one PostgreSQL database behind HAProxy, under load and faults.

Started by multi_node_test.sh, which checks what is installed, starts the PostgreSQL
cluster (scripts/pg_cluster.sh) and cleans up. This script starts HAProxy (its config made
from deploy/haproxy/agentrt.cfg with this test's ports) and three nodes (--postgres,
--node nodeK, --lease-ms 1000), then drives 24 sessions at once through the proxy: each a
sequence of requests with request ids <session>-<k>, every one retried with the SAME id
until acknowledged (421 -> after Retry-After through the proxy, or at once at
X-Agentrt-Owner, by session; 502/503/504 and connection errors -> through the proxy
again; no answer within HEDGE_S -> one more attempt beside the ones running, as an
impatient client does, alternately through the proxy and straight to a node, at most
MAX_PENDING at once). Meanwhile, in order: one node is frozen (SIGSTOP) for longer than its lease,
another is killed (SIGKILL) and restarted with the same name and port, and PostgreSQL is
restarted (-m immediate: a crash and recovery). Then the load stops and the database and
the history route are checked; the counts are printed, then a summary line.

Standard library only (Debian's /usr/bin/python3).
"""

import argparse
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

AGENT = "echo-agent"
SESSIONS = 24
LEASE_MS = 1000
DELAY_MS = 50            # per piece of echo-agent's output: 4 pieces, ~200 ms a turn
FREEZE_S = 2.5           # SIGSTOP: longer than the lease
KILLED_FOR_S = 2.0       # SIGKILL, then restart after this: longer than lease + health checks
HEDGE_S = 0.7            # a client with no answer after this sends the same request again
MAX_PENDING = 3          # attempts of one request id at once
ATTEMPT_TIMEOUT_S = 12.0  # one HTTP attempt
REQUEST_DEADLINE_S = 30.0  # one request id, until acknowledged
PROGRESS = 2 * SESSIONS  # acknowledged turns between two faults
PHASE_MAX_S = 15.0       # at most this long to see that progress


def log(*a):
    print("#", *a, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=2.0):
    """(status, body bytes) or (None, error text)."""
    u = urllib.parse.urlsplit(url)
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        c.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)


def wait_for(cond, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


class Processes:
    """What this script started; every pid also goes to WORK/pids for the shell's trap."""

    def __init__(self, work):
        self.work = work
        self.procs = []

    def add(self, p):
        self.procs.append(p)
        with open(os.path.join(self.work, "pids"), "a") as f:
            f.write("%d\n" % p.pid)

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.terminate()
                except OSError:
                    pass
        end = time.monotonic() + 3
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Node:
    def __init__(self, name, server, conninfo, work, procs):
        self.name = name
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.server = server
        self.conninfo = conninfo
        self.work = work
        self.procs = procs
        self.proc = None
        self.starts = 0
        self.err_path = os.path.join(work, name + ".err")

    def start(self):
        self.starts += 1
        out_path = os.path.join(self.work, "%s.%d.out" % (self.name, self.starts))
        cmd = [self.server, "--bind", "127.0.0.1", "--port", str(self.port),
               "--postgres", self.conninfo, "--node", self.name,
               "--lease-ms", str(LEASE_MS), "--drain-ms", "500", "--idle-timeout-s", "5"]
        with open(out_path, "wb") as out, open(self.err_path, "ab") as err:
            err.write(("--- start %d: %s\n" % (self.starts, " ".join(cmd))).encode())
            err.flush()
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.procs.add(self.proc)

        def listening():
            with open(out_path) as f:
                return f.read().startswith("listening on ")
        up = wait_for(lambda: listening() or self.proc.poll() is not None, 10)
        if not up or self.proc.poll() is not None:
            raise RuntimeError("node %s did not start (exit %s); its stderr:\n%s"
                               % (self.name, self.proc.poll(), self.tail()))
        if not wait_for(lambda: http_get(self.url + "/ready", 1)[0] == 200, 10):
            raise RuntimeError("node %s is not ready; its stderr:\n%s" % (self.name, self.tail()))

    def tail(self, n=30):
        try:
            with open(self.err_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# -- HAProxy -----------------------------------------------------------------------------

def haproxy_config(repo, port, stats_port, nodes):
    """deploy/haproxy/agentrt.cfg with this test's addresses: the HTTP frontend and backend
    as shipped, the gRPC part left out (these nodes serve no gRPC), a stats page added."""
    with open(os.path.join(repo, "deploy", "haproxy", "agentrt.cfg")) as f:
        text = f.read()
    cut = text.find("# gRPC (")
    if cut < 0:
        raise RuntimeError("deploy/haproxy/agentrt.cfg has no '# gRPC (' section to cut")
    text = text[:text.rfind("# ----", 0, cut)]
    lines, out, servers_done = text.splitlines(), [], False
    binds = 0
    for line in lines:
        s = line.strip()
        if re.match(r"maxconn \d+$", s) and not servers_done and binds == 0:
            # The global limit: HAProxy wants two descriptors a connection, and a test
            # runner's descriptor limit may be low.
            out.append(line.replace(s, "maxconn 1000"))
        elif s.startswith("bind :8080"):
            out.append(line.replace("bind :8080", "bind 127.0.0.1:%d" % port))
            binds += 1
        elif re.match(r"server node\d ", s):
            if not servers_done:
                indent = line[:len(line) - len(line.lstrip())]
                for n in nodes:
                    out.append("%sserver %s 127.0.0.1:%d" % (indent, n.name, n.port))
                servers_done = True
        else:
            out.append(line)
    if binds != 1 or not servers_done:
        raise RuntimeError("deploy/haproxy/agentrt.cfg: no 'bind :8080' or no 'server nodeK' lines")
    out += ["", "listen stats", "    bind 127.0.0.1:%d" % stats_port, "    stats enable",
            "    stats uri /stats", ""]
    return "\n".join(out)


def haproxy_servers(stats_url):
    """{server name: status} of the agentrt_nodes backend, from the stats CSV."""
    code, body = http_get(stats_url + ";csv", 1)
    if code != 200:
        return {}
    rows = body.decode().splitlines()
    head = rows[0].lstrip("# ").split(",")
    px, sv, st = head.index("pxname"), head.index("svname"), head.index("status")
    out = {}
    for r in rows[1:]:
        c = r.split(",")
        if len(c) > st and c[px] == "agentrt_nodes" and c[sv] not in ("FRONTEND", "BACKEND"):
            out[c[sv]] = c[st]
    return out


# -- clients -----------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.acks = []         # every 200 answer: (session, k, request_id, turn, output, replayed, why)
        self.violations = []
        self.answers = []      # every non-200 answer: (session, request_id, status, code)

    def inc(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.c.get(key, 0)

    def violation(self, text):
        with self.lock:
            self.violations.append(text)
            shown = len(self.violations) <= 30
        if shown:
            log("VIOLATION:", text)


def post_invoke(base, session, rid, k):
    """One attempt: (status, headers dict lower-cased, parsed JSON or None) or (None, error, None)."""
    u = urllib.parse.urlsplit(base)
    body = json.dumps({"input": "msg %d" % k, "session_id": session, "request_id": rid,
                       "params": {"delay_ms": str(DELAY_MS)}}).encode()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=ATTEMPT_TIMEOUT_S)
        c.request("POST", "/v1/agents/%s/invoke" % AGENT, body=body,
                  headers={"Content-Type": "application/json", "X-Session-Id": session,
                           "Connection": "close"})
        r = c.getresponse()
        data = r.read()
        c.close()
        headers = {k.lower(): v for k, v in r.getheaders()}
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return r.status, headers, parsed
    except (OSError, http.client.HTTPException) as e:
        return None, type(e).__name__ + ": " + str(e), None


def expected_output(k, turn):
    return "echo: msg %d [delay_ms=%d] (task %d)" % (k, DELAY_MS, turn)


class Client(threading.Thread):
    """One session's requests, one after another, each until acknowledged."""

    def __init__(self, idx, proxy, node_urls, stats, stop):
        super().__init__(name="session-%02d" % idx, daemon=True)
        self.session = "s%02d" % idx
        # Half the sessions follow X-Agentrt-Owner on a 421, half wait Retry-After and go
        # through the proxy again; every third one also repeats some acknowledged request
        # ids on purpose (the repeat must be a replay of the same turn).
        self.follow_owner = idx % 2 == 1
        self.repeats = idx % 3 == 0
        self.proxy = proxy
        self.node_urls = node_urls
        self.hedges = idx  # where the next hedge goes: the proxy, then a node, in turn
        self.stats = stats
        self.stop = stop
        self.attempts = []     # attempt threads, joined at the end
        self.acked = 0
        self.failed = False

    def run(self):
        k = 0
        try:
            while not self.stop.is_set():
                k += 1
                if not self.until_acked(k, "first"):
                    self.failed = True
                    return
                self.acked = k
                if self.repeats and k % 4 == 0 and not self.until_acked(k, "repeat"):
                    self.failed = True
                    return
        except Exception as e:  # a bug here must fail the test, not hang it
            self.stats.violation("%s: client error %r" % (self.session, e))
            self.failed = True

    def launch(self, base, rid, k, q):
        self.stats.inc("attempts")

        def go():
            res = post_invoke(base, self.session, rid, k)
            q.put(res)
        t = threading.Thread(target=go, daemon=True)
        t.start()
        self.attempts.append(t)

    def until_acked(self, k, why):
        rid = "%s-%d" % (self.session, k)
        self.stats.inc("requests")
        q = queue.Queue()  # this request's answers, late ones included
        deadline = time.monotonic() + REQUEST_DEADLINE_S
        pending = 0
        target = self.proxy
        self.launch(target, rid, k, q)
        pending += 1
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stats.violation("%s: request %s not acknowledged within %.0f s"
                                     % (self.session, rid, REQUEST_DEADLINE_S))
                return False
            try:
                status, headers, body = q.get(
                    timeout=min(left, HEDGE_S) if pending < MAX_PENDING else left)
            except queue.Empty:
                if pending < MAX_PENDING:
                    # No answer yet (the node may be frozen, or the database slow): the same
                    # request again, beside the running attempts; every other time straight
                    # to a node, as a client that knows several addresses would.
                    self.hedges += 1
                    h = self.hedges % (2 * len(self.node_urls))
                    hedge = self.proxy if h % 2 == 0 else self.node_urls[h // 2]
                    self.stats.inc("hedges")
                    self.launch(hedge, rid, k, q)
                    pending += 1
                continue
            pending -= 1
            if status == 200 and isinstance(body, dict) and not body.get("error"):
                self.record_ack(k, rid, body, why)
                # Answers still on their way for this id are checked by the drainer.
                self.drain_later(k, rid, q, pending)
                return True
            code = None
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                code = body["error"].get("code")
            with self.stats.lock:
                self.stats.answers.append((self.session, rid, status, code))
            delay = 0.1
            if status is None:
                self.stats.inc("connection_errors")
            elif status == 421:
                self.stats.inc("elsewhere")
                if code != "session_elsewhere":
                    self.stats.violation("%s: 421 with code %r" % (rid, code))
                owner = headers.get("x-agentrt-owner", "")
                if not owner:
                    self.stats.inc("elsewhere_without_owner")
                try:
                    delay = float(headers.get("retry-after", "1"))
                except ValueError:
                    delay = 1.0
                if self.follow_owner and owner and owner != target:
                    target, delay = owner, 0.0
                    self.stats.inc("followed_owner")
                else:
                    target = self.proxy
            elif status == 503:
                self.stats.inc("unavailable_" + (code or "proxy"))
                target = self.proxy
            elif status in (502, 504):
                self.stats.inc("status_%d_%s" % (status, code or "proxy"))
                target = self.proxy
            else:
                self.stats.violation("%s: unexpected answer %s %s" % (rid, status, body))
                return False
            if pending > 0 and not (delay == 0 and pending < MAX_PENDING):
                continue  # another attempt of this id is still running: wait for it first
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            self.launch(target, rid, k, q)
            pending += 1

    def drain_later(self, k, rid, q, pending):
        if pending == 0:
            return

        def drain():
            for _ in range(pending):
                try:
                    status, headers, body = q.get(timeout=ATTEMPT_TIMEOUT_S + 5)
                except queue.Empty:
                    return
                if status == 200 and isinstance(body, dict) and not body.get("error"):
                    self.record_ack(k, rid, body, "late")
                else:
                    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
                    with self.stats.lock:
                        self.stats.answers.append((self.session, rid, status, code))
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        self.attempts.append(t)

    def record_ack(self, k, rid, body, why):
        turn, output, replayed = body.get("turn"), body.get("output"), bool(body.get("replayed"))
        with self.stats.lock:
            self.stats.acks.append((self.session, k, rid, turn, output, replayed, why))
        if replayed:
            self.stats.inc("replayed")
        if why == "first":
            self.stats.inc("acknowledged")
        if body.get("session_id") not in (None, self.session):
            self.stats.violation("%s: answer names session %r" % (rid, body.get("session_id")))
        if turn != k:
            self.stats.violation("%s (%s): acknowledged turn %r, expected %d" % (rid, why, turn, k))
        if output != expected_output(k, turn if isinstance(turn, int) else -1):
            self.stats.violation("%s (%s): output %r, expected %r"
                                 % (rid, why, output, expected_output(k, k)))
        if why == "repeat" and not replayed:
            self.stats.violation("%s: a repeat of an acknowledged id was not a replay" % rid)


# -- checks ------------------------------------------------------------------------------

def psql(conninfo, sql):
    r = subprocess.run(["psql", conninfo, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                        "-c", sql], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("psql failed: %s\n%s" % (sql, r.stderr))
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def history_outputs(base, session):
    """The assistant entries of the session's history, every page, asked at BASE; a 421 is
    followed once to X-Agentrt-Owner, as a client would. (outputs list or an error text,
    the URL that answered, whether it was sent elsewhere)."""
    out, start, sent = [], 0, False
    while True:
        url = "%s/v1/agents/%s/sessions/%s/history?from=%d&limit=100" % (base, AGENT, session, start)
        u = urllib.parse.urlsplit(url)
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            c.request("GET", u.path + "?" + u.query)
            r = c.getresponse()
            body = r.read()
            owner = r.getheader("X-Agentrt-Owner", "")
            c.close()
        except (OSError, http.client.HTTPException) as e:
            return "GET history -> %s" % e, base, sent
        if r.status == 421 and owner and not sent:
            base, sent, out, start = owner, True, [], 0
            continue
        if r.status != 200:
            return "GET history -> %s %s" % (r.status, body[:200]), base, sent
        page = json.loads(body)
        entries = page.get("entries", [])
        out += [e["content"] for e in entries if e.get("role") == "assistant"]
        start += len(entries)
        if not entries or start >= page.get("total", 0):
            return out, base, sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--pgdir", required=True)
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--haproxy", default="haproxy")
    a = ap.parse_args()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)

    started = time.monotonic()
    procs = Processes(a.work)
    nodes = [Node("node%d" % i, a.server, a.conninfo, a.work, procs) for i in (1, 2, 3)]
    stats = Stats()
    stop = threading.Event()
    clients = []
    failures = []
    try:
        for n in nodes:
            n.start()
        log("nodes:", ", ".join("%s %s" % (n.name, n.url) for n in nodes))

        hport, sport = free_port(), free_port()
        cfg = os.path.join(a.work, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_config(a.repo, hport, sport, nodes))
        chk = subprocess.run([a.haproxy, "-c", "-f", cfg], capture_output=True, text=True)
        if chk.returncode != 0:
            raise RuntimeError("haproxy -c refuses the generated config:\n" + chk.stdout + chk.stderr)
        hlog = open(os.path.join(a.work, "haproxy.log"), "wb")
        hp = subprocess.Popen([a.haproxy, "-db", "-f", cfg], stdout=hlog, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
        procs.add(hp)
        proxy = "http://127.0.0.1:%d" % hport
        stats_url = "http://127.0.0.1:%d/stats" % sport
        if not wait_for(lambda: list(haproxy_servers(stats_url).values()) == ["UP"] * 3, 15):
            with open(os.path.join(a.work, "haproxy.log"), errors="replace") as f:
                raise RuntimeError("HAProxy does not see three nodes UP: %s; its log:\n%s"
                                   % (haproxy_servers(stats_url), f.read()[-3000:]))
        log("HAProxy at", proxy, "(config from deploy/haproxy/agentrt.cfg)")

        for i in range(1, SESSIONS + 1):
            c = Client(i, proxy, [n.url for n in nodes], stats, stop)
            clients.append(c)
            c.start()

        def progress(n):
            target = stats.get("acknowledged") + n
            return wait_for(lambda: stats.get("acknowledged") >= target, PHASE_MAX_S)

        def step(what, ok):
            log("%s (%.1f s, acknowledged %d)" % (what, time.monotonic() - started,
                                                 stats.get("acknowledged")))
            if not ok:
                failures.append("no progress: " + what)

        step("load running", progress(PROGRESS))

        frozen = nodes[0]
        frozen.proc.send_signal(signal.SIGSTOP)
        step("%s frozen (SIGSTOP) for %.1f s" % (frozen.name, FREEZE_S), True)
        time.sleep(FREEZE_S)  # deliberate: longer than the lease
        frozen.proc.send_signal(signal.SIGCONT)
        step("%s continued (SIGCONT)" % frozen.name, progress(PROGRESS))

        killed = nodes[1]
        killed.proc.kill()
        killed.proc.wait()
        step("%s killed (SIGKILL)" % killed.name, True)
        time.sleep(KILLED_FOR_S)  # deliberate: down for longer than lease + health checks
        killed.start()
        step("%s restarted on the same port" % killed.name, progress(PROGRESS))

        r = subprocess.run([os.path.join(a.repo, "scripts", "pg_cluster.sh"), "restart", a.pgdir],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("pg_cluster.sh restart failed:\n" + r.stdout + r.stderr)
        step("PostgreSQL restarted (-m immediate)", progress(PROGRESS))

        stop.set()
        for c in clients:
            c.join(REQUEST_DEADLINE_S + 5)
            if c.is_alive():
                failures.append("client %s did not finish" % c.session)
        for c in clients:
            for t in c.attempts:
                t.join(ATTEMPT_TIMEOUT_S + 6)
        step("load stopped", True)
        for c in clients:
            if c.failed:
                failures.append("session %s gave up" % c.session)

        for n in nodes:
            if n.proc.poll() is not None:
                failures.append("node %s exited (%s) during the test" % (n.name, n.proc.poll()))

        # -- the database ----------------------------------------------------------------
        sessions = [c.session for c in clients]
        rows = psql(a.conninfo, "SELECT session_id, turn, epoch, node, coalesce(request_id, '')"
                                " FROM agentrt_turns WHERE agent = '%s' ORDER BY session_id, turn" % AGENT)
        srows = psql(a.conninfo, "SELECT session_id, turns, epoch, coalesce(node, '')"
                                 " FROM agentrt_sessions WHERE agent = '%s'" % AGENT)
        turns_of = {}
        for sid, turn, epoch, node, rid in rows:
            turns_of.setdefault(sid, []).append((int(turn), int(epoch), node, rid))
        session_row = {r[0]: (int(r[1]), int(r[2]), r[3]) for r in srows}
        v = stats.violation
        for sid in sessions:
            ts = turns_of.get(sid, [])
            n = len(ts)
            if [t[0] for t in ts] != list(range(1, n + 1)):
                v("%s: agentrt_turns has turns %s, not 1..%d" % (sid, [t[0] for t in ts], n))
            if sid not in session_row:
                v("%s: no agentrt_sessions row" % sid)
            elif session_row[sid][0] != n:
                v("%s: agentrt_sessions.turns = %d, agentrt_turns has %d" % (sid, session_row[sid][0], n))
            for a_, b_ in zip(ts, ts[1:]):
                if b_[1] < a_[1]:
                    v("%s: epoch goes back from %d (turn %d) to %d (turn %d)" % (sid, a_[1], a_[0], b_[1], b_[0]))
            if ts and sid in session_row and session_row[sid][1] < ts[-1][1]:
                v("%s: agentrt_sessions.epoch %d < the last turn's epoch %d" % (sid, session_row[sid][1], ts[-1][1]))
        by_rid = {}
        for sid, ts in turns_of.items():
            for turn, epoch, node, rid in ts:
                by_rid.setdefault((sid, rid), []).append(turn)
        acked_turn = {}
        for sid, k, rid, turn, output, replayed, why in stats.acks:
            prev = acked_turn.setdefault((sid, rid), (turn, output))
            if prev != (turn, output):
                v("%s acknowledged twice differently: %s and %s" % (rid, prev, (turn, output)))
        for (sid, rid), (turn, output) in acked_turn.items():
            got = by_rid.get((sid, rid), [])
            if got != [turn]:
                v("%s acknowledged as turn %s; agentrt_turns has it as %s" % (rid, turn, got))
        unacked = [key for key in by_rid if key not in acked_turn]
        for key in unacked:
            v("%s committed (turns %s) but never acknowledged" % (key[1], by_rid[key]))
        req_rows = psql(a.conninfo, "SELECT session_id, request_id, turn FROM agentrt_requests"
                                    " WHERE agent = '%s'" % AGENT)
        req_turn = {(r[0], r[1]): int(r[2]) for r in req_rows}
        req_missing = 0
        for (sid, rid), (turn, output) in acked_turn.items():
            if (sid, rid) in req_turn and req_turn[(sid, rid)] != turn:
                v("%s: agentrt_requests says turn %d, acknowledged %s" % (rid, req_turn[(sid, rid)], turn))
            if (sid, rid) not in req_turn:
                req_missing += 1  # the store may keep only the last ids of a session

        # -- the API: history through every node ---------------------------------------
        stale_reads = 0
        history_elsewhere = 0
        for sid in sessions:
            want = [expected_output(k, k) for k in range(1, len(turns_of.get(sid, [])) + 1)]
            acked = sorted({(k, out) for s, k, rid, t, out, r, w in stats.acks if s == sid})
            if [o for _, o in acked] != want:
                v("%s: acknowledged outputs are not turns 1..n in order" % sid)
            for n in nodes:
                got, answered, sent = history_outputs(n.url, sid)
                history_elsewhere += sent
                if got != want:
                    stale_reads += 1
                    by = [x.name for x in nodes if x.url == answered] or [answered]
                    row = session_row.get(sid)
                    v("%s: history asked at %s, answered by %s%s: %s; expected the %d acknowledged"
                      " outputs (last %r); the database: owner %s, epoch %s, last turn by %s"
                      % (sid, n.name, by[0], " (sent there by a 421)" if sent else "",
                         got if isinstance(got, str) else "%d outputs, last %r"
                         % (len(got), got[-1] if got else None), len(want),
                         want[-1] if want else None, row[2] if row else None,
                         row[1] if row else None,
                         turns_of[sid][-1][2] if turns_of.get(sid) else None))

        # -- refused stale commits --------------------------------------------------------
        lease_lost_answers = sum(1 for a_ in stats.answers if a_[3] == "lease_lost")
        log_lines = []
        for n in nodes:
            with open(n.err_path, errors="replace") as f:
                for line in f:
                    if "lease_lost" in line or "not committed" in line or "lease lost" in line:
                        log_lines.append("%s: %s" % (n.name, line.rstrip()))
        lease_lost = lease_lost_answers + len(log_lines)
        if lease_lost == 0:
            failures.append("no commit was refused as stale (no lease_lost answer, no such log line)")

        total_turns = len(rows)
        # Epochs come from one sequence (only their order means anything): a hand-off is a
        # change of epoch between a session's committed turns, a move a change of node.
        handoffs = sum(len({e for _, e, _, _ in ts}) - 1 for ts in turns_of.values())
        moves = sum(sum(1 for x, y in zip(ts, ts[1:]) if x[2] != y[2]) for ts in turns_of.values())
        moved = sum(1 for ts in turns_of.values() if len({nd for _, _, nd, _ in ts}) > 1)
        log("agentrt_turns rows: %d over %d sessions" % (total_turns, len(turns_of)))
        log("acknowledged: %d first answers, %d 200 answers in all (repeats and late ones included)"
            % (stats.get("acknowledged"), len(stats.acks)))
        log("answers other than 200 by (status, code):",
            json.dumps(count_by([(a_[2], a_[3]) for a_ in stats.answers])))
        log("counters:", json.dumps(dict(sorted(stats.c.items()))))
        log("lease_lost: %d answers to clients, %d node log lines" % (lease_lost_answers, len(log_lines)))
        for line in log_lines[:8]:
            log("  ", line[:300])
        log("epochs: %d hand-offs between committed turns (%d of them to another node, in %d"
            " sessions); agentrt_requests rows missing for %d acknowledged ids"
            % (handoffs, moves, moved, req_missing))
        log("history asked at every node: %d mismatches; %d answers were a 421 followed to the owner"
            % (stale_reads, history_elsewhere))
        log("nodes of the last turns:", json.dumps(count_by([ts[-1][2] for ts in turns_of.values() if ts])))
        print("sessions=%d turns=%d acknowledged=%d retries=%d replayed=%d lease_lost=%d elsewhere=%d "
              "handoffs=%d moves=%d violations=%d"
              % (len(sessions), total_turns, stats.get("acknowledged"),
                 stats.get("attempts") - stats.get("requests"),
                 stats.get("replayed"), lease_lost, stats.get("elsewhere"), handoffs, moves,
                 len(stats.violations)), flush=True)
    except Exception as e:
        failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        stop.set()
        procs.stop_all()
    failures += ["%d violations" % len(stats.violations)] if stats.violations else []
    log("took %.1f s" % (time.monotonic() - started))
    if failures:
        for f in failures:
            print("FAILED -", f)
        for n in nodes:
            print("# %s stderr (last 15 lines):" % n.name)
            print(n.tail(15), end="")
        print("0 passed, 1 failed")
        return 1
    print("ok - scale_multi_node")
    print("1 passed, 0 failed")
    return 0


def count_by(items):
    out = {}
    for i in items:
        key = str(i)
        out[key] = out.get(key, 0) + 1
    return out


if __name__ == "__main__":
    sys.exit(main())
