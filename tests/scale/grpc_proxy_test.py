"""gRPC through deploy/haproxy/agentrt.cfg, driven by grpc_proxy_test.sh (which starts
PostgreSQL and generates the stubs): two nodes, the shipped config pointed at them, 20
sessions x 3 tasks through the proxy, then a node asked for a session the other holds."""

import argparse
import os
import re
import signal
import subprocess
import sys

# The helpers the multi-node test has (free ports, polling, psql), not copies of them.
from multi_node_test import free_port, psql, wait_for

AGENT = "echo-agent"
SESSIONS = 20
TASKS = 3


class Run:
    def __init__(self, a):
        self.a = a
        self.procs = []

    def spawn(self, cmd, name):
        out = open(os.path.join(self.a.work, name + ".out"), "wb")
        err = open(os.path.join(self.a.work, name + ".err"), "wb")
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        with open(os.path.join(self.a.work, "pids"), "a") as f:
            f.write("%d\n" % p.pid)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    def node(self, n):
        http, grpc = free_port(), free_port()
        self.spawn([self.a.server, "--bind", "127.0.0.1", "--port", str(http), "--grpc-port",
                    str(grpc), "--postgres", self.a.conninfo, "--node", "node%d" % n,
                    "--lease-ms", "5000", "--access-log", "off"], "node%d" % n)
        out = os.path.join(self.a.work, "node%d.out" % n)
        if not wait_for(lambda: "listening on http" in open(out).read(), 15):
            raise RuntimeError("node%d did not start: %s" % (n, open(out[:-4] + ".err").read()))
        return {"http": http, "grpc": grpc, "url": "http://127.0.0.1:%d" % http}

    def proxy(self, nodes):
        """The shipped config with the example addresses replaced by these nodes' ports, node3
        left out, the frontends on free loopback ports, and maxconn within a default fd limit."""
        cfg = open(os.path.join(self.a.repo, "deploy/haproxy/agentrt.cfg")).read()
        cfg = "".join(l for l in cfg.splitlines(keepends=True) if "10.0.0.3" not in l)
        for n, node in enumerate(nodes, 1):
            cfg = cfg.replace("10.0.0.%d:8080" % n, "127.0.0.1:%d" % node["http"])
            cfg = re.sub(r"10\.0\.0\.%d:50051(.*) port 8080" % n,
                         r"127.0.0.1:%d\1 port %d" % (node["grpc"], node["http"]), cfg)
        http, grpc = free_port(), free_port()
        cfg = cfg.replace("bind :8080", "bind 127.0.0.1:%d" % http)
        cfg = cfg.replace("bind :50051", "bind 127.0.0.1:%d" % grpc)
        cfg = cfg.replace("maxconn 20000", "maxconn 1000")
        if "10.0.0." in cfg or ":50051" in cfg:
            raise RuntimeError("the shipped config changed shape; this test cannot point it here")
        path = os.path.join(self.a.work, "haproxy.cfg")
        open(path, "w").write(cfg)
        subprocess.run([self.a.haproxy, "-c", "-q", "-f", path], check=True)
        self.spawn([self.a.haproxy, "-f", path], "haproxy")
        return grpc


def main():
    ap = argparse.ArgumentParser()
    for k in ("server", "repo", "work", "conninfo", "haproxy"):
        ap.add_argument("--" + k, required=True)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.work, "stubs"))
    import grpc
    import agent_platform_pb2 as pb
    import agent_platform_pb2_grpc as pbg

    run = Run(a)
    failures = []
    try:
        nodes = [run.node(1), run.node(2)]
        port = run.proxy(nodes)
        channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pbg.AgentServiceStub(channel)

        acknowledged = 0
        for i in range(SESSIONS):
            sid = "g%02d" % i
            for k in range(1, TASKS + 1):
                req = pb.TaskRequest(task_id="%s-%d" % (sid, k), agent_id=AGENT, input="hi",
                                     session_id=sid)
                resp, call = stub.ExecuteTask.with_call(req, timeout=10,
                                                        metadata=[("x-session-id", sid)])
                header = dict(call.initial_metadata()).get("x-session-id")
                if resp.success and "(task %d)" % k in resp.output and header == sid:
                    acknowledged += 1
                else:
                    failures.append("%s task %d: success=%s output=%r header=%r"
                                    % (sid, k, resp.success, resp.output, header))
        expected = SESSIONS * TASKS
        print("%s - %d of %d tasks through the proxy acknowledged, in order"
              % ("ok" if acknowledged == expected else "FAILED", acknowledged, expected))

        rows = psql(a.conninfo, "SELECT session_id, count(DISTINCT node), min(node), count(*)"
                                " FROM agentrt_turns WHERE agent = '%s' GROUP BY session_id" % AGENT)
        owner = {sid: node for sid, _, node, _ in rows}
        split = [sid for sid, nodes_, _, _ in rows if nodes_ != "1"]
        counts = {n: sum(1 for v in owner.values() if v == n) for n in ("node1", "node2")}
        ok = (len(rows) == SESSIONS and not split and all(c > 0 for c in counts.values())
              and all(t == str(TASKS) for _, _, _, t in rows))
        print("%s - each session's %d turns committed by one node; node1 %d sessions, node2 %d"
              % ("ok" if ok else "FAILED", TASKS, counts["node1"], counts["node2"]))
        if not ok:
            failures.append("sessions over nodes: %s" % rows)

        # A node asked directly for a session the other holds: UNAVAILABLE, with the owner.
        sid = "g00"
        holder = int(owner[sid][-1]) - 1
        other = nodes[1 - holder]
        direct = pbg.AgentServiceStub(grpc.insecure_channel("127.0.0.1:%d" % other["grpc"]))
        try:
            direct.ExecuteTask(pb.TaskRequest(agent_id=AGENT, input="x", session_id=sid),
                               timeout=10, metadata=[("x-session-id", sid)])
            failures.append("the node without the lease served %s" % sid)
        except grpc.RpcError as e:
            trailers = dict(e.trailing_metadata() or ())
            ok = (e.code() == grpc.StatusCode.UNAVAILABLE
                  and trailers.get("agentrt-error-code") == "session_elsewhere"
                  and trailers.get("agentrt-owner") == nodes[holder]["url"])
            print("%s - the other node answers UNAVAILABLE session_elsewhere, agentrt-owner %s"
                  % ("ok" if ok else "FAILED", trailers.get("agentrt-owner")))
            if not ok:
                failures.append("direct call: %s %s %s" % (e.code(), e.details(), trailers))
    except Exception as e:  # a failed step: report it, stop what started
        failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        run.stop()
    for f in failures:
        print("#  " + f)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
