#!/usr/bin/env python3
"""forward.py: request forwarding, peer connections and peer trust, on live vesperd
processes on 127.0.0.1 (ports FWD_PORT.., default 17600-17609).

Each case starts its own small cluster in a fresh directory (node i on FWD_PORT+i)
and asserts one property:
  - a follower relays the client's bearer token with a forwarded request;
  - forwarded requests never reach an old leader after a leader change (kept-alive
    relay connections belong to the leader they were opened to);
  - forwarded requests use a bounded number of connections to the leader, and a full
    relay queue answers 503 "unavailable" with Retry-After;
  - peers are not locked out of a leader whose client connections are at the limit;
  - an advertised client URL from a peer is validated before it appears in replies,
    and every reply stays valid JSON.

Prints "ok NAME" / "FAIL NAME: why" per case and "N passed, N failed".
Environment: VESPERD (binary), RAFTMSG (build/neg-raftmsg), FWD_PORT.
Binds TCP ports: run it under `flock /tmp/vesper-ports.lock`.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VESPERD = os.environ.get("VESPERD", os.path.join(ROOT, "build/vesperd"))
RAFTMSG = os.environ.get("RAFTMSG", os.path.join(ROOT, "build/neg-raftmsg"))
PORT0 = int(os.environ.get("FWD_PORT", "17600"))
HOST = "127.0.0.1"


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


# ---------- HTTP over raw sockets ----------

def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed before a response")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed mid-body")
        rest += chunk
    return status, headers, rest[:n]


def http(port, method, path, body=b"", headers=None, timeout=10.0):
    """One request on its own connection: (status, headers, body bytes)."""
    if isinstance(body, str):
        body = body.encode()
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    data = ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\n%s\r\n" %
            (method, path, HOST, port, len(body), extra)).encode() + body
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s.sendall(data)
        return read_response(s)
    finally:
        s.close()


def as_json(body):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Fail("reply is not JSON: %r" % body[:200])


def put_via(port, key, value, headers=None):
    h = {"X-Vesper-Forward": "1"}
    h.update(headers or {})
    return http(port, "PUT", "/request", json.dumps({"payload": {"key": key, "value": value}}), h)


# ---------- clusters ----------

class Cluster:
    def __init__(self, n, args=(), env=None, ip_list_n=None):
        self.dir = tempfile.mkdtemp(prefix="vesper-fwd.")
        self.n = n
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.pop("VESPER_CLIENT_TOKEN", None)
        self.env.pop("VESPER_CLUSTER_SECRET", None)
        self.env.update(env or {})
        self.procs = [None] * n
        self.ip_list = os.path.join(self.dir, "ip_list.txt")
        with open(self.ip_list, "w") as f:
            for i in range(ip_list_n or n):
                f.write("http://%s:%d\n" % (HOST, PORT0 + i))

    def port(self, i):
        return PORT0 + i

    def start(self, i, ip_list=None, port=None, extra=(), data="data"):
        log = open(os.path.join(self.dir, "node%d.log" % i), "ab")
        self.procs[i] = subprocess.Popen(
            [VESPERD, str(i), ip_list or self.ip_list, "--data-dir",
             os.path.join(self.dir, "%s%d" % (data, i)),
             "--listen", "%s:%d" % (HOST, port or self.port(i)), "--log-level", "info"] +
            self.args + list(extra), stdout=log, stderr=log, env=self.env)

    def start_all(self):
        for i in range(self.n):
            self.start(i)

    def kill(self, i):
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.kill()
            p.wait()
        self.procs[i] = None

    def stop(self):
        for i in range(self.n):
            self.kill(i)
        shutil.rmtree(self.dir, ignore_errors=True)

    def status(self, i):
        try:
            st, _, body = http(self.port(i), "GET", "/status", timeout=1.0)
            return json.loads(body) if st == 200 else None
        except (OSError, EOFError, ValueError):
            return None

    def leader(self, timeout=10.0, exclude=()):
        """A leader every other live node agrees on."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            sts = {i: self.status(i) for i in range(self.n)
                   if i not in exclude and self.procs[i] is not None}
            leads = [i for i, s in sts.items() if s and s["role"] == "leader"]
            if len(leads) == 1 and all(s and s["leader"] == leads[0] for s in sts.values()):
                return leads[0]
            time.sleep(0.05)
        raise Fail("no agreed leader within %.0f s" % timeout)

    def log_tail(self, i, lines=8):
        try:
            with open(os.path.join(self.dir, "node%d.log" % i), "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return []


def established_to(port):
    """Established IPv4 TCP connections whose remote end is 127.0.0.1:port."""
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            rem, state = fields[2], fields[3]
            if state == "01" and rem == "0100007F:%04X" % port:
                count += 1
    return count


def run_parallel(n, fn):
    results = [None] * n

    def one(k):
        try:
            results[k] = fn(k)
        except Exception as e:  # noqa: BLE001 - reported as the result
            results[k] = e

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    return threads, results


# ---------- cases ----------

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


@case
def forwarded_request_keeps_client_token():
    """Regression: a forwarded request reached the leader without the client's
    Authorization header and got 401 whenever a client token was set."""
    c = Cluster(3, env={"VESPER_CLIENT_TOKEN": "fwd-token"})
    try:
        c.start_all()
        lead = c.leader()
        f = (lead + 1) % 3
        auth = {"Authorization": "Bearer fwd-token"}
        st, _, body = put_via(c.port(f), "tok", "v1", auth)
        check(st == 200 and as_json(body).get("code") == "success",
              "forwarded PUT with the token: %d %r" % (st, body))
        st, _, body = put_via(c.port(f), "tok", "v2")
        check(st == 401, "forwarded PUT without the token: %d %r" % (st, body))
    finally:
        c.stop()


@case
def relay_connections_bounded_and_queue_sheds():
    """Regression: every forwarded request opened its own connection to the leader
    (hundreds for a burst). Relays are capped per follower; the rest wait, and past
    the queue the answer is 503 unavailable with Retry-After."""
    cap = 4
    c = Cluster(3, args=["--forward-max-conns", str(cap), "--forward-queue", "1000"])
    try:
        c.start_all()
        lead = c.leader()
        f = (lead + 1) % 3
        threads, results = run_parallel(150, lambda k: put_via(c.port(f), "b%d" % k, "v"))
        peak = 0
        while any(t.is_alive() for t in threads):
            peak = max(peak, established_to(c.port(lead)))
            time.sleep(0.002)
        for t in threads:
            t.join()
        bad = [r for r in results
               if isinstance(r, Exception) or r[0] != 200 or as_json(r[2])["code"] != "success"]
        check(not bad, "%d of 150 forwarded PUTs failed, e.g. %r" % (len(bad), bad[:1]))
        # The two followers' peer connections (2 in flight each at most) plus the cap.
        check(peak <= cap + 4, "%d connections to the leader at once (cap %d)" % (peak, cap))
    finally:
        c.stop()
    c = Cluster(3, args=["--forward-max-conns", "1", "--forward-queue", "2"])
    try:
        c.start_all()
        lead = c.leader()
        f = (lead + 1) % 3
        threads, results = run_parallel(60, lambda k: put_via(c.port(f), "q%d" % k, "v"))
        for t in threads:
            t.join()
        shed = [r for r in results if not isinstance(r, Exception) and r[0] == 503]
        ok = [r for r in results if not isinstance(r, Exception) and r[0] == 200]
        check(shed, "no 503 with a relay queue of 2 and 60 concurrent requests")
        check(ok, "nothing got through")
        for st, h, body in shed:
            check(h.get("retry-after") == "1", "503 without Retry-After: %r" % h)
            check(as_json(body).get("error") == "unavailable", "503 body %r" % body)
    finally:
        c.stop()


@case
def forward_never_reaches_old_leader():
    """Regression: re-pointing the relay pool to a new leader while relays to the old
    one were in flight let their kept-alive sockets return into the new pool; later
    forwarded requests then went to the old leader (a follower now: not_leader)."""
    c = Cluster(3, args=["--election-timeout-ms", "300"])
    try:
        c.start_all()
        old = c.leader()
        a, b = (old + 1) % 3, (old + 2) % 3
        c.procs[old].send_signal(signal.SIGSTOP)
        time.sleep(0.05)
        # In flight to the stopped leader from both followers until it resumes; the one
        # that does not become the next leader is the relaying follower under test.
        threads, _ = run_parallel(8, lambda k: put_via(c.port(a if k % 2 else b), "i%d" % k, "v"))
        deadline = time.time() + 5
        new = None
        while time.time() < deadline and new is None:
            for i in (a, b):
                s = c.status(i)
                if s and s["role"] == "leader":
                    new = i
            time.sleep(0.02)
        check(new is not None, "no new leader while the old one was stopped")
        f = b if new == a else a
        st, _, body = put_via(c.port(f), "after", "1")  # the relay pool now follows `new`
        c.procs[old].send_signal(signal.SIGCONT)
        for t in threads:
            t.join()
        check(st == 200, "first PUT after the change: %d %r" % (st, body))
        c.leader()
        bad = []
        for k in range(20):
            st, _, body = put_via(c.port(f), "seq%d" % k, "v")
            obj = as_json(body)
            if obj.get("code") != "success":
                bad.append(obj)
        check(not bad, "%d of 20 forwarded PUTs failed after a leader change: %r"
              % (len(bad), bad[:2]))
    finally:
        c.stop()


@case
def peers_not_locked_out_by_client_connections():
    """Regression: peer traffic shares the listener and --max-connections with
    clients, so a leader whose client connections were at the limit refused the
    connections of restarted peers: it could no longer receive a single message."""
    c = Cluster(3, args=["--max-connections", "10", "--idle-timeout-ms", "60000"])
    idle = []
    try:
        c.start_all()
        full = c.leader()
        a, b = (full + 1) % 3, (full + 2) % 3
        c.kill(a)
        c.kill(b)
        time.sleep(0.2)
        for _ in range(15):  # 10 fill --max-connections; the rest are refused or reserved
            idle.append(socket.create_connection((HOST, c.port(full)), timeout=5))
        time.sleep(0.2)
        c.start(a)
        c.start(b)
        time.sleep(3.0)  # several election timeouts: a leader that hears nobody steps down
        for i in (a, b):
            st = c.status(i)
            check(st and st["leader"] == full,
                  "node %d follows %r, not node %d (client connections at the limit)"
                  % (i, st and st["leader"], full))
        idle.pop(0).close()  # one client slot for this test's own request
        time.sleep(0.2)
        st, _, body = http(c.port(full), "PUT", "/request",
                           json.dumps({"payload": {"key": "reach", "value": "v"}}))
        check(st == 200 and as_json(body).get("code") == "success", "PUT: %d %r" % (st, body))
        # A client request on a reserved connection is turned away with a clear answer.
        s = idle[-1]
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            st, h, body = read_response(s)
            check(st == 503 and as_json(body)["error"] == "unavailable",
                  "client request on a reserved connection: %d %r" % (st, body))
        except (EOFError, ConnectionResetError):
            pass  # refused at accept (reserve full): also fine
    finally:
        for s in idle:
            s.close()
        c.stop()


def raftmsg(**fields):
    args = [RAFTMSG] + ["%s=%s" % (k, v) for k, v in fields.items()]
    return subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout


@case
def advertised_url_checked_and_replies_escaped():
    """Regression: any /raft batch could set a node's advertised client URL (the
    first message's sender got it, whoever sent the rest), nothing validated it, and
    /admin replies put it into JSON unescaped. Node 0 runs alone with a three-node
    ip_list; forged heartbeats from node 1 make it a follower of 1."""
    c = Cluster(1, ip_list_n=3)
    try:
        c.start(0)
        deadline = time.time() + 10
        while c.status(0) is None and time.time() < deadline:
            time.sleep(0.05)
        term = [c.status(0)["term"] + 5]
        member_url = "http://%s:%d" % (HOST, PORT0 + 1)

        def batch(url, *msgs):
            body = b"\x01" + len(msgs).to_bytes(4, "little") + b"".join(m[5:] for m in msgs)
            st, _, _ = http(c.port(0), "POST", "/raft", body, {"X-Vesper-Client-URL": url})
            check(st == 204, "POST /raft: %d" % st)

        def heartbeat(sender=1):
            term[0] += 1
            return raftmsg(type="heartbeat", **{"from": sender}, to=0, term=term[0])

        def redirect_target():
            st, _, body = http(c.port(0), "PUT", "/request",
                               json.dumps({"payload": {"key": "k", "value": "v"}}))
            obj = as_json(body)
            check(obj.get("error") == "not_leader", "PUT on the follower: %r" % obj)
            return obj["payload"]["message"]

        evil = 'http://evil.example:80/"},"code":"success","x":{"a":"'
        batch(evil, heartbeat())
        check(redirect_target() == member_url, "an invalid advertised URL was accepted")
        batch(evil, heartbeat())
        st, _, body = http(c.port(0), "POST", "/admin/transfer", '{"to":1}')
        obj = as_json(body)
        check(obj.get("code") == "fail" and obj.get("error") == "not_leader" and
              obj["payload"]["message"] == member_url, "/admin/transfer: %r" % obj)
        # A batch from two senders names nobody.
        batch("http://127.0.0.1:9", heartbeat(), raftmsg(type="heartbeat_resp", **{"from": 2},
                                                         to=0, term=term[0]))
        check(redirect_target() == member_url, "a mixed-sender batch set node 1's URL")
        # A non-member's URL is not taken.
        batch("http://127.0.0.1:8", raftmsg(type="heartbeat_resp", **{"from": 9}, to=0,
                                            term=term[0]))
        # The sender's own valid URL is.
        batch("http://127.0.0.1:7", heartbeat())
        check(redirect_target() == "http://127.0.0.1:7", "a valid advertised URL was ignored")
    finally:
        c.stop()


@case
def member_readded_with_new_url_is_reached_there():
    """Regression: the transport could only add peers, so a member removed and added
    again under the same id with a new URL was still contacted at the old one and
    never heard from the leader."""
    c = Cluster(3)
    try:
        c.start_all()
        lead = c.leader()
        r = (lead + 1) % 3
        st, _, body = http(c.port(lead), "POST", "/admin/members",
                           json.dumps({"op": "remove", "id": r}))
        check(st == 200 and as_json(body).get("code") == "success", "remove: %d %r" % (st, body))
        c.kill(r)
        new_port = PORT0 + 5
        new_url = "http://%s:%d" % (HOST, new_port)
        moved = os.path.join(c.dir, "ip_list_moved.txt")
        with open(moved, "w") as f:
            for i in range(3):
                f.write("%s\n" % (new_url if i == r else "http://%s:%d" % (HOST, PORT0 + i)))
        c.start(r, ip_list=moved, port=new_port, extra=["--join"], data="moved")
        st, _, body = http(c.port(lead), "POST", "/admin/members",
                           json.dumps({"op": "add", "id": r, "url": new_url}))
        check(st == 200 and as_json(body).get("code") == "success", "add: %d %r" % (st, body))
        deadline = time.time() + 8
        seen = None
        while time.time() < deadline:
            try:
                seen = json.loads(http(new_port, "GET", "/status", timeout=1.0)[2])
            except (OSError, EOFError, ValueError):
                seen = None
            if seen and seen.get("leader") == lead:
                break
            time.sleep(0.05)
        check(seen and seen.get("leader") == lead,
              "node %d re-added at %s never heard from leader %d: %r" % (r, new_url, lead, seen))
    finally:
        c.stop()


def main():
    for path in (VESPERD, RAFTMSG):
        if not os.access(path, os.X_OK):
            print("forward: %s missing (make build/vesperd build/neg-raftmsg)" % path)
            print("0 passed, 1 failed")
            return 1
    only = sys.argv[1:]
    passed = failed = 0
    for fn in CASES:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
            print("ok   %s" % fn.__name__)
            passed += 1
        except (Fail, OSError, EOFError, ValueError, KeyError) as e:
            print("FAIL %s: %s" % (fn.__name__, e))
            failed += 1
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
