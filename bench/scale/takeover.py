#!/usr/bin/python3
"""How fast a dead node's sessions serve again on another node (docs: SCALE-OUT.md).

Starts a throwaway PostgreSQL cluster (scripts/pg_cluster.sh) and --nodes agentrt-server
nodes sharing it (--postgres, --lease-ms L) on free loopback ports; opens --sessions S
sessions on node A (one committed turn each, straight to A); waits --settle-ms (default: one
lease, so A has renewed them, as a node that has run a while has); SIGKILLs A; then calls every
session on node B (the same session id, a short pause between tries, retrying while B
answers 421 session_elsewhere or 503) and records, per session, the time from the kill to
its first acknowledged turn. That is what a client behind the proxy sees once the proxy
has moved A's sessions to B: A's leases must lapse (they were last renewed up to L/3
before the kill) before B may claim them.

Prints p50/p99/max of that takeover time and the target row `serve again within lease +
1 s` (met/missed, reported: nothing here fails on timing); checks that every session's
turn on B is 2 (the turn on A kept, nothing lost or doubled) in the replies and in the
database. Exits 1 if a check fails or a session never came back. Stops everything it
started, also when interrupted. Standard library only.

  takeover.py --server PATH [--nodes 3] [--sessions 200] [--lease-ms 2000]
              [--settle-ms LEASE] [--pause-ms 20] [--give-up-s 30] [--json FILE]
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_CLUSTER = os.path.join(REPO, "scripts", "pg_cluster.sh")


class Stop(Exception):
    """SIGTERM / SIGINT: unwind so that the finally blocks stop what was started."""


def on_signal(signum, _frame):
    raise Stop(f"signal {signum}")


def free_port():
    # The port is closed again before the server binds it: a small race, fine on loopback
    # (the server must know its port up front to advertise it).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class Cluster:
    """A throwaway PostgreSQL cluster: pg_cluster.sh start / stop, its directory removed."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="agentrt-takeover-pg.")
        self.started = False
        self.conninfo = None

    def start(self):
        r = subprocess.run([PG_CLUSTER, "start", self.dir], capture_output=True, text=True)
        self.started = True  # a failed start may have left a server running: stop it anyway
        if r.returncode != 0:
            raise RuntimeError(f"pg_cluster.sh start failed ({r.returncode}): {r.stderr.strip()}")
        self.conninfo = r.stdout.strip().splitlines()[-1]

    def stop(self):
        if self.started:
            subprocess.run([PG_CLUSTER, "stop", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    """One agentrt-server on the shared database, at its own port."""

    def __init__(self, server, name, conninfo, lease_ms, work):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path = os.path.join(work, f"{name}.out")
        self.err_path = os.path.join(work, f"{name}.err")
        self.proc = subprocess.Popen(
            [server, "--port", str(self.port), "--postgres", conninfo, "--node", name,
             "--advertise", self.url, "--lease-ms", str(lease_ms), "--access-log", "off",
             "--chat-page", "off"],
            stdout=open(self.out_path, "w"), stderr=open(self.err_path, "w"),
            stdin=subprocess.DEVNULL)

    def wait_listening(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with open(self.out_path) as f:
                if any(l.startswith("listening on http") for l in f):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(self.err_path) as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"{self.name} did not start (exit {self.proc.poll()}): {tail}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """POST /v1/agents/echo-agent/invoke on one node, over one kept-alive connection."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def invoke(self, session, request_id, text):
        body = json.dumps({"input": text, "session_id": session, "request_id": request_id})
        for attempt in range(2):  # once more on a connection the server closed
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request("POST", "/v1/agents/echo-agent/invoke", body,
                                  {"Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                try:
                    doc = json.loads(data) if data else {}
                except ValueError:
                    doc = {"raw": data[:200].decode(errors="replace")}
                return r.status, doc, r.getheader("X-Agentrt-Owner")
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def open_sessions(node, sessions, threads):
    """One committed turn per session on `node`; the sessions whose turn was not 1."""
    bad = []
    lock = threading.Lock()

    def lane(part):
        c = Client(node.port)
        for s in part:
            status, doc, _ = c.invoke(s, s + "-t1", "first")
            if status != 200 or doc.get("turn") != 1:
                with lock:
                    bad.append((s, status, doc))
        c.close()

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lane, [sessions[i::threads] for i in range(threads)]))
    return bad


def take_over(node, sessions, killed_at, pause, give_up, threads):
    """Calls each session on `node` until it answers; per session: (seconds since the kill,
    turn, tries, statuses seen, seconds since its last refusal), or None if it never
    answered within `give_up` s."""
    results = {}
    lock = threading.Lock()

    def lane(part):
        c = Client(node.port)
        pending = {s: {"tries": 0, "statuses": {}, "refused": killed_at} for s in part}
        while pending and time.monotonic() - killed_at < give_up:
            for s in list(pending):
                p = pending[s]
                p["tries"] += 1
                # The same request id on every try: a retry of a turn that was committed
                # but not acknowledged is answered, not run again.
                try:
                    status, doc, _ = c.invoke(s, s + "-t2", "second")
                except (ConnectionError, http.client.HTTPException, OSError) as e:
                    status, doc = f"io:{type(e).__name__}", {}
                now = time.monotonic()
                if status == 200:
                    with lock:
                        results[s] = (now - killed_at, doc.get("turn"), p["tries"], p["statuses"],
                                      now - p["refused"])
                    del pending[s]
                    continue
                p["refused"] = now
                p["statuses"][str(status)] = p["statuses"].get(str(status), 0) + 1
                if status not in (421, 503) and not str(status).startswith("io:"):
                    with lock:  # an answer other than "not here yet": do not hammer it
                        results[s] = (None, None, p["tries"], p["statuses"], None)
                    del pending[s]
            if pending:
                time.sleep(pause)
        with lock:
            for s, p in pending.items():
                results[s] = (None, None, p["tries"], p["statuses"], None)
        c.close()

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lane, [sessions[i::threads] for i in range(threads)]))
    return results


def stored_turns(conninfo, prefix):
    """session id -> turns in agentrt_sessions, by psql (None without psql)."""
    psql = shutil.which("psql")
    if not psql:
        return None
    r = subprocess.run([psql, conninfo, "-AtF", "\t", "-c",
                        "SELECT session_id, turns FROM agentrt_sessions"
                        f" WHERE agent = 'echo-agent' AND session_id LIKE '{prefix}%'"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql: {r.stderr.strip()}")
    return {l.split("\t")[0]: int(l.split("\t")[1]) for l in r.stdout.splitlines() if l}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, help="the agentrt-server binary")
    ap.add_argument("--nodes", type=int, default=3, choices=(2, 3))
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--lease-ms", type=int, default=2000)
    ap.add_argument("--settle-ms", type=int, help="from opening to the kill (default: the lease)")
    ap.add_argument("--pause-ms", type=int, default=20, help="between a session's tries")
    ap.add_argument("--give-up-s", type=float, default=30)
    ap.add_argument("--threads", type=int, default=16, help="client threads")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cluster, nodes = Cluster(), []
    work = tempfile.mkdtemp(prefix="agentrt-takeover.")
    try:
        cluster.start()
        for i in range(a.nodes):
            nodes.append(Node(a.server, f"takeover-{'ABC'[i]}-{os.getpid()}", cluster.conninfo,
                              a.lease_ms, work))
        for n in nodes:
            n.wait_listening()
        return measure(a, cluster, nodes)
    except Stop as e:
        print(f"takeover.py: stopped by {e}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for n in nodes:
            n.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def measure(a, cluster, nodes):
    node_a, node_b = nodes[0], nodes[1]
    prefix = f"takeover{int(time.time())}-{os.getpid()}-"
    sessions = [f"{prefix}{i}" for i in range(a.sessions)]
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f};"
          f" {a.nodes} nodes, lease {a.lease_ms} ms, {a.sessions} sessions")
    t0 = time.monotonic()
    bad = open_sessions(node_a, sessions, a.threads)
    print(f"opened {a.sessions - len(bad)} sessions on A in {time.monotonic() - t0:.2f} s")
    if bad:
        for s, status, doc in bad[:5]:
            print(f"  {s}: {status} {doc}")
        print(f"FAILED: {len(bad)} sessions did not open on A with turn 1")
        return 1
    # Sessions claimed a moment ago have a whole lease left; after a lease, A has renewed
    # them (every lease/3), and the kill lands at some phase of that cycle, as a crash does.
    time.sleep((a.lease_ms if a.settle_ms is None else a.settle_ms) / 1000)
    killed_at = time.monotonic()
    node_a.kill()
    results = take_over(node_b, sessions, killed_at, a.pause_ms / 1000, a.give_up_s, a.threads)

    served = sorted(r[0] for r in results.values() if r[0] is not None)
    never = [s for s, r in results.items() if r[0] is None]
    wrong = [(s, r[1]) for s, r in results.items() if r[0] is not None and r[1] != 2]
    statuses = {}
    for r in results.values():
        for k, v in r[3].items():
            statuses[k] = statuses.get(k, 0) + v
    tries = sum(r[2] for r in results.values())
    # How sharp each time is: the session was refused that long before its answer (the
    # load on the machine sets how often each session can be tried).
    gaps = sorted(r[4] for r in results.values() if r[0] is not None)
    stored = stored_turns(cluster.conninfo, prefix)
    stored_wrong = ([s for s in sessions if stored.get(s) != 2] if stored is not None else [])

    limit = a.lease_ms / 1000 + 1
    p50, p99, worst = (percentile(served, q) for q in (0.5, 0.99, 1.0))
    met = not never and served and worst <= limit
    print(f"takeover on B (s from the kill to the first acknowledged turn), {len(served)} of"
          f" {a.sessions} sessions: p50 {p50:.3f}  p99 {p99:.3f}  max {worst:.3f}"
          f"  (min {served[0] if served else float('nan'):.3f})")
    print(f"  tries on B: {tries} ({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items())) or 'no refusals'}"
          f" before the answer); a session's last refusal came a median"
          f" {percentile(gaps, 0.5) * 1000:.0f} ms (max {percentile(gaps, 1.0) * 1000:.0f} ms)"
          f" before its answer")
    print(f"  target serve again within lease + 1 s   {worst:.2f} s of {limit:.2f} s   "
          + ("met" if met else "MISSED") + "   (report)")
    check = "ok"
    if never or wrong or stored_wrong:
        check = (f"FAILED: {len(never)} never served, {len(wrong)} with a turn other than 2,"
                 f" {len(stored_wrong)} stored with turns other than 2")
        for s in never[:3]:
            print(f"  never served: {s}: {results[s][3]}")
        for s, t in wrong[:3]:
            print(f"  {s}: turn {t}")
        for s in stored_wrong[:3]:
            print(f"  {s}: stored turns {stored.get(s)}")
    print(f"  checked (turn 2 on B in every reply"
          + ("" if stored is None else " and in agentrt_sessions") + f"): {check}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"benchmark": "takeover",
                       "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                                   "loadavg_at_end": os.getloadavg()[0]},
                       "config": {"nodes": a.nodes, "sessions": a.sessions,
                                  "lease_ms": a.lease_ms, "pause_ms": a.pause_ms,
                                  "settle_ms": a.lease_ms if a.settle_ms is None else a.settle_ms},
                       "served": len(served), "p50_s": p50, "p99_s": p99, "max_s": worst,
                       "min_s": served[0] if served else None, "tries": tries,
                       "last_refusal_to_answer_p50_s": percentile(gaps, 0.5) if gaps else None,
                       "refusals": statuses,
                       "target": {"text": "serve again within lease + 1 s", "limit_s": limit,
                                  "met": bool(met)},
                       "never_served": len(never), "wrong_turn": len(wrong),
                       "stored_wrong": len(stored_wrong), "verified": check == "ok"},
                      f, indent=2)
            f.write("\n")
    return 0 if check == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
