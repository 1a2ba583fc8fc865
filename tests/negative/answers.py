#!/usr/bin/env python3
"""answers.py: every client of vesperd gets a true answer, checked against one real
vesperd whose only peer is played by this script.

Node 0 is a real vesperd (ANS_PORT, default 17520) in a two-node ip_list; node 1
(ANS_PORT + 1) is a small HTTP server here that swallows node 0's peer traffic and,
for relays, answers /request itself. The script speaks for node 1 by posting peer
batches to node 0's POST /raft (built by build/neg-raftmsg with the real codec): it
grants votes, acknowledges appends, deposes node 0 with a higher-term append and
hands leadership back with TimeoutNow. That makes leader changes, truncated logs and
stuck commits exact instead of timing-dependent. The election timeout is 10 s, so
node 0 never starts an election on its own during a case.

Cases (each on a fresh node and data directory):
- write_passed_by_snapshot_is_timeout: a write waits at index i; node 1 takes over
  and installs a snapshot through i (holding the write: it committed through node
  1), then one more entry applies. The write's outcome is unknown to node 0 and
  must be answered timeout, never not_leader (checked by build/lincheck too).
- deposed_leader_regains_and_answers_applied_write: a deposed leader keeps writes
  waiting at indexes beyond the new leader's log end, leads again after a transfer
  and proposes a new write at a lower index. The new write applies and must be
  answered success, not not_leader. The client-visible history goes through
  build/lincheck, where not_leader counts as "did not apply".
- sigterm_answers_http2_waiter: a write waits on the log (node 1 never
  acknowledges); SIGTERM; the HTTP/2 client must get a JSON answer ("timeout",
  outcome unknown), not a dropped stream.
- sigterm_lets_relay_finish: node 0 is a follower relaying a write (X-Vesper-Forward)
  to node 1, which answers after 0.8 s; SIGTERM meanwhile; the client must get the
  leader's answer.
- hung_up_http1_clients_free_their_slots: --max-pending 3, three HTTP/1 clients
  send writes that cannot commit and hang up; an honest client must not be shed.

Prints "ok NAME" / "FAIL NAME: why" per case and "N passed, N failed".
Environment: VESPERD, RAFTMSG, MKSNAP, LINCHECK (binaries), ANS_PORT.
"""
import http.server
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
MKSNAP = os.environ.get("MKSNAP", os.path.join(ROOT, "build/neg-mksnap"))
LINCHECK = os.environ.get("LINCHECK", os.path.join(ROOT, "build/lincheck"))
PORT = int(os.environ.get("ANS_PORT", "17520"))
PEER_PORT = PORT + 1
HOST = "127.0.0.1"


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


def wait_for(what, pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise Fail("timed out waiting for %s" % what)


# ---------- node 1, played here ----------

class Peer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    relay_delay = 0.0
    relay_seen = threading.Event()

    def log_message(self, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if body:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _handle(self):
        self._body()
        if self.path == "/raft":
            self._reply(204)  # node 0's messages to node 1 go nowhere
        elif self.path == "/request":
            Peer.relay_seen.set()
            time.sleep(Peer.relay_delay)
            self._reply(200, b'{"code":"success"}')
        else:
            self._reply(404)

    do_POST = do_PUT = do_GET = do_DELETE = _handle


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # node 0 resetting its peer connections (it stops) is expected


# ---------- node 0, the real vesperd ----------

class Node:
    def __init__(self, top, *opts):
        self.dir = tempfile.mkdtemp(dir=top)
        ip_list = os.path.join(self.dir, "ip_list.txt")
        with open(ip_list, "w") as f:
            f.write("http://%s:%d\nhttp://%s:%d\n" % (HOST, PORT, HOST, PEER_PORT))
        self.log = os.path.join(self.dir, "vesperd.log")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [VESPERD, "0", ip_list, "--data-dir", os.path.join(self.dir, "data"),
                 "--election-timeout-ms", "10000", "--log-level", "info"] + list(opts),
                stdout=log, stderr=log)
        wait_for("node 0 /status", lambda: self.status(quiet=True))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n=8):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()[-n:]
        except OSError:
            return []

    def status(self, quiet=False):
        try:
            st, body = http_request("GET", "/status", timeout=2)
            return json.loads(body) if st == 200 else None
        except (OSError, ValueError):
            if quiet:
                return None
            raise

    def raft(self, **fields):
        fields.setdefault("from", 1)
        fields.setdefault("to", 0)
        args = [RAFTMSG] + ["%s=%s" % (k, v) for k, v in fields.items()]
        body = subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout
        st, _ = http_request("POST", "/raft", body, timeout=2)
        check(st == 204, "POST /raft %s: status %d" % (fields.get("type"), st))

    def become_leader(self, term_now):
        """Node 1 hands leadership to node 0 (TimeoutNow) and grants its vote."""
        self.raft(type="timeout_now", term=term_now)
        s = wait_for("candidacy", lambda: (lambda s: s if s and s["role"] == "candidate"
                                           else None)(self.status()))
        self.raft(type="vote_resp", term=s["term"], granted=1)
        return wait_for("leadership", lambda: (lambda s: s if s and s["role"] == "leader"
                                               else None)(self.status()))

    def ack(self, term, index):
        """Node 1 acknowledges node 0's log through index."""
        self.raft(type="append_resp", term=term, index=index)


def http_request(method, path, body=b"", timeout=5.0, headers=None, port=PORT):
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\n" % (
            method, path, HOST, port, len(body))
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        s.sendall(head.encode() + b"\r\n" + body)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed before a response")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status = int(head.split(b"\r\n")[0].split()[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed mid-body")
            rest += chunk
        return status, rest[:length].decode("utf-8", "replace")
    finally:
        s.close()


def put_body(key, value):
    return json.dumps({"type": "put", "payload": {"key": key, "value": value}})


class Call(threading.Thread):
    """One client request in the background; .reply is the body, or "" when the
    connection ended without one. Times are for the history."""

    def __init__(self, method, body, headers=None):
        super().__init__(daemon=True)
        self.method, self.body, self.headers = method, body, headers
        self.reply = None
        self.invoke_us = self.complete_us = None
        self.start()

    def run(self):
        self.invoke_us = int(time.monotonic() * 1e6)
        try:
            _, self.reply = http_request(self.method, "/request", self.body, timeout=8,
                                         headers=self.headers)
        except (OSError, EOFError) as e:
            self.reply = ""
            self.error = str(e)
        self.complete_us = int(time.monotonic() * 1e6)

    def answer(self):
        self.join(10)
        try:
            return json.loads(self.reply) if self.reply else {}
        except ValueError:
            return {}


# ---------- the history, judged by build/lincheck ----------

DEFINITE_FAIL = ("not_leader", "no_leader", "bad_request", "stale_seq", "method_not_allowed",
                 "too_large")


def history_line(proc, op, key, value, call, result_value=None):
    a = call.answer()
    if a.get("code") == "success":
        outcome = "ok"
    elif a.get("error") == "not_found" and op == "get":
        outcome = "ok"
    elif a.get("error") in DEFINITE_FAIL:
        outcome = "fail"
    else:
        outcome = "info"
    result = "-"
    if op == "get" and outcome == "ok":
        result = (a.get("payload") or {}).get("value", "-")
    complete = call.complete_us if outcome != "info" else "-"
    return "%d %s %s %s - %d %s %s %s\n" % (proc, op, key, value, call.invoke_us, complete,
                                          outcome, result)


def lincheck(lines, where):
    path = os.path.join(where, "history.txt")
    with open(path, "w") as f:
        f.writelines(lines)
    r = subprocess.run([LINCHECK, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode("utf-8", "replace")
    check(r.returncode == 0, "lincheck exit %d on %s:\n%s%s" % (
        r.returncode, path, "".join(lines), out[-600:]))


# ---------- cases ----------

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


@case
def deposed_leader_regains_and_answers_applied_write(node):
    s = node.become_leader(1)
    t1, base = s["term"], s["last_index"]
    node.ack(t1, base)
    wait_for("no-op applied", lambda: node.status()["applied_index"] >= base)
    # Four writes wait at base+1..base+4 in term t1; node 1 never acknowledges them.
    old = [Call("PUT", put_body("old%d" % i, "o%d" % i)) for i in range(1, 5)]
    wait_for("4 proposals", lambda: node.status()["last_index"] == base + 4)
    # Node 1 leads term t1+1 with one entry at base+1: node 0 truncates its own.
    node.raft(type="append", term=t1 + 1, index=base, log_term=t1, commit=base, entries=1,
              entry_term=t1 + 1, put="other:x")
    wait_for("node 0 follows", lambda: (lambda s: s["role"] == "follower" and
                                        s["last_index"] == base + 1)(node.status()))
    # ... and hands leadership back: node 0 leads term t1+2 with its no-op at base+2.
    s = node.become_leader(t1 + 1)
    t3 = s["term"]
    wait_for("no-op", lambda: node.status()["last_index"] == base + 2)
    new = []
    for i in range(5, 8):  # base+3, base+4, base+5: below the old waiters' indexes
        new.append(Call("PUT", put_body("new%d" % i, "n%d" % i)))
        wait_for("proposal", lambda: node.status()["last_index"] == base + 3 + len(new) - 1)
    node.ack(t3, base + 5)
    wait_for("all applied", lambda: node.status()["applied_index"] >= base + 5)
    lines = []
    for i, c in enumerate(old, 1):
        lines.append(history_line(i, "put", "old%d" % i, "o%d" % i, c))
    for i, c in zip(range(5, 8), new):
        lines.append(history_line(i, "put", "new%d" % i, "n%d" % i, c))
    reads = []
    for key in ["old%d" % i for i in range(1, 5)] + ["new%d" % i for i in range(5, 8)]:
        g = Call("GET", json.dumps({"type": "get", "payload": {"key": key,
                                                               "consistency": "stale"}}))
        g.answer()
        reads.append(history_line(9, "get", key, "-", g))
    lincheck(lines + reads, node.dir)
    for i, c in zip(range(5, 8), new):
        check(c.answer().get("code") == "success",
              "write new%d applied but answered %r" % (i, c.reply))


@case
def write_passed_by_snapshot_is_timeout(node):
    s = node.become_leader(1)
    t1, base = s["term"], s["last_index"]
    node.ack(t1, base)
    wait_for("no-op applied", lambda: node.status()["applied_index"] >= base)
    w = Call("PUT", put_body("snapped", "v1"))
    wait_for("proposal", lambda: node.status()["last_index"] == base + 1)
    # Node 1 committed the write in term t1, then leads term t1 + 1 and sends its
    # snapshot through base + 1 (holding snapped=v1) instead of log entries.
    members = "http://%s:%d,http://%s:%d" % (HOST, PORT, HOST, PEER_PORT)
    snap = os.path.join(node.dir, "snap.bin")
    with open(snap, "wb") as f:
        subprocess.run([MKSNAP, str(base + 1), str(t1), members, "snapped=v1"], check=True,
                       stdout=f)
    size = os.path.getsize(snap)
    node.raft(type="snapshot", term=t1 + 1, snap_index=base + 1, snap_term=t1, snap_size=size,
              offset=0, data=snap, done=1, members=members)
    wait_for("snapshot installed", lambda: node.status()["applied_index"] == base + 1)
    node.raft(type="append", term=t1 + 1, index=base + 1, log_term=t1, commit=base + 2,
              entries=1, entry_term=t1 + 1, put="other:x")
    wait_for("next entry applied", lambda: node.status()["applied_index"] == base + 2)
    g = Call("GET", json.dumps({"type": "get", "payload": {"key": "snapped",
                                                           "consistency": "stale"}}))
    lincheck([history_line(1, "put", "snapped", "v1", w),
              history_line(2, "get", "snapped", "-", g)], node.dir)
    a = w.answer()
    check(a.get("error") == "timeout", "write covered by the snapshot: %r, want timeout"
          % (w.reply,))


def curl_http2_put(key, value):
    return subprocess.Popen(
        ["curl", "-s", "--http2-prior-knowledge", "--max-time", "8", "-X", "PUT",
         "http://%s:%d/request" % (HOST, PORT), "-d", put_body(key, value)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@case
def sigterm_answers_http2_waiter(node):
    s = node.become_leader(1)
    base = s["last_index"]
    c = curl_http2_put("h2", "v")
    wait_for("proposal", lambda: node.status()["last_index"] == base + 1)
    node.proc.send_signal(signal.SIGTERM)
    out, err = c.communicate(timeout=10)
    node.proc.wait(10)
    check(node.proc.returncode == 0, "exit status %s" % node.proc.returncode)
    try:
        a = json.loads(out)
    except ValueError:
        raise Fail("HTTP/2 client got no answer (curl rc %d, %r)" % (c.returncode, err[-200:]))
    check(a.get("code") == "fail" and a.get("error") == "timeout",
          "answer %r, want timeout (outcome unknown)" % a)


@case
def sigterm_lets_relay_finish(node):
    node.raft(type="append", term=1, index=0, log_term=0, commit=0)
    wait_for("node 0 follows node 1", lambda: node.status()["leader"] == 1)
    Peer.relay_seen.clear()
    Peer.relay_delay = 0.8
    try:
        c = Call("PUT", put_body("relayed", "v"), headers={"X-Vesper-Forward": "1"})
        check(Peer.relay_seen.wait(5), "node 0 did not relay the write to node 1")
        node.proc.send_signal(signal.SIGTERM)
        a = c.answer()
    finally:
        Peer.relay_delay = 0.0
    node.proc.wait(10)
    check(a.get("code") == "success", "relayed write: got %r, want the leader's success"
          % (c.reply,))


@case
def hung_up_http1_clients_free_their_slots(node):
    s = node.become_leader(1)
    term, base = s["term"], s["last_index"]
    socks = []
    for i in range(3):
        sk = socket.create_connection((HOST, PORT), timeout=5)
        body = put_body("gone%d" % i, "v").encode()
        sk.sendall(b"PUT /request HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(body), body))
        socks.append(sk)
    wait_for("3 proposals", lambda: node.status()["last_index"] == base + 3)
    for sk in socks:
        sk.close()
    time.sleep(0.05)
    c = Call("PUT", put_body("honest", "v"))
    wait_for("honest proposal or shed", lambda: c.reply is not None or
             node.status()["last_index"] == base + 4)
    check(c.reply is None, "honest client shed: %r" % c.reply)
    node.ack(term, base + 4)
    check(c.answer().get("code") == "success", "honest write: %r" % c.reply)


def main():
    for path in (VESPERD, RAFTMSG, MKSNAP, LINCHECK):
        if not os.access(path, os.X_OK):
            print("answers: %s missing (make test builds it)"
                  % path)
            print("0 passed, 1 failed")
            return 1
    top = tempfile.mkdtemp(prefix="vesper-answers.")
    server = QuietServer((HOST, PEER_PORT), Peer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    want = sys.argv[1:]
    passed = failed = 0
    try:
        for fn in CASES:
            if want and fn.__name__ not in want:
                continue
            opts = ["--max-pending", "3"] if fn.__name__.startswith("hung_up") else []
            node = Node(top, *opts)
            try:
                fn(node)
                print("ok   %s" % fn.__name__)
                passed += 1
            except (Fail, OSError, EOFError, ValueError, KeyError, TypeError,
                    subprocess.SubprocessError) as e:
                print("FAIL %s: %s" % (fn.__name__, e))
                for line in node.log_tail():
                    print("     | " + line[:300])
                failed += 1
            finally:
                node.stop()
            sys.stdout.flush()
    finally:
        server.shutdown()
        shutil.rmtree(top, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
