#!/usr/bin/env python3
"""stress.py: the client side of the stress scenario (tests/cluster/scen_stress.sh).

    stress.py IP_LIST SECONDS SEED HISTORY KEY_PREFIX

Hostile but bounded traffic at every node of IP_LIST (127.0.0.1 only) for SECONDS, from
one thread per kind of client, while the shell side transfers leadership and stops and
restarts nodes with SIGTERM:
  plain     HTTP/1.1 keep-alive ops, half with X-Vesper-Forward: 1 (relayed by a follower)
  hangup    a request, then close (sometimes with RST) before or while it is answered; at
            followers with X-Vesper-Forward: 1 this cuts a relay mid-flight
  h2        h2c (prior knowledge) connections carrying several concurrent streams, then read
            them all, RST_STREAM some mid-flight, or drop the connection
  pipeline  several HTTP/1.1 requests in one write, some with broken JSON or wrong types;
            a broken Content-Length, a lying one or a truncated request only last
  slow      a request written a few bytes at a time; a request head that never ends
  big       1 MB answers read slowly or cut mid-body, over HTTP/1.1 and HTTP/2 (no window
            updates: h2o holds the rest), and bodies over the value and body limits (413)
  (stress_slow.py holds the last two)
Every op on the keys KEY_PREFIX0..31 is recorded in HISTORY (tests/lib/lincheck.h format):
ok for a definite answer, fail for not_leader / no_leader / bad_request (not applied), info
for a write whose outcome is unknown (timeout, unavailable, no answer, hang-up). Reads
without a definite answer are left out.

Checks (exit 1, with the first offenders printed): every answer to a well-formed request is
JSON with a "code" of "success" or "fail" (and a string "error" on fail). Prints one summary
line "stress: ops=N ok=N fail=N info=N answers=N bad=N ...".
"""
import json
import random
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from stress_wire import (TIMEOUT, H2Conn, body_of, build_h1, fwd, h2_request,  # noqa: E402
                         h2_rst, now_us, read_h1)
from stress_slow import big, slow  # noqa: E402

NKEYS = 32
DEFINITE_FAIL = ("not_leader", "no_leader", "bad_request")


def pct(s):
    """lincheck field encoding: '-' is absent, other strings are percent-encoded."""
    if s is None:
        return "-"
    out = ""
    for b in s.encode():
        out += chr(b) if 0x21 <= b <= 0x7E and chr(b) not in '%"#-' else "%%%02X" % b
    return out or '""'  # the empty string


class Run:
    def __init__(self, urls, seconds, seed, prefix):
        self.nodes = [(u.split("//")[1].split(":")[0], int(u.rsplit(":", 1)[1])) for u in urls]
        self.end = time.monotonic() + seconds
        self.seed = seed
        self.prefix = prefix
        self.lock = threading.Lock()
        self.hist = []
        self.count = {"ops": 0, "ok": 0, "fail": 0, "info": 0, "answers": 0, "bad": 0}
        self.kinds = {}
        self.errors = {}  # error string of fail answers -> count
        self.bad = []

    def running(self):
        return time.monotonic() < self.end

    def bump(self, kind):
        with self.lock:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def check_answer(self, what, status, body):
        """Counts one answer; a malformed one is remembered. Returns the parsed object."""
        obj = None
        try:
            obj = json.loads(body)
            good = isinstance(obj, dict) and (obj.get("code") == "success" or (
                obj.get("code") == "fail" and isinstance(obj.get("error"), str)))
        except (ValueError, UnicodeDecodeError, TypeError):
            good = False
        with self.lock:
            self.count["answers"] += 1
            if good and obj.get("code") == "fail":
                self.errors[obj["error"]] = self.errors.get(obj["error"], 0) + 1
            if not good:
                self.count["bad"] += 1
                self.bad.append("%s: status %s body %r" % (what, status, (body or b"")[:200]))
                obj = None
        return obj

    def record(self, op, proc, t0, answer):
        """answer: the parsed reply, or None when there was none (hang-up, reset, timeout)."""
        err = answer.get("error") if answer else None
        code = answer.get("code") if answer else None
        result = "-"
        if code == "success":
            outcome = "ok"
            if op["type"] == "get":
                result = pct((answer.get("payload") or {}).get("value"))
            elif op["type"] == "cas":
                result = "ok"
        elif err == "not_found" and op["type"] in ("get", "delete"):
            outcome = "ok"
        elif err == "cas_failed" and op["type"] == "cas":
            outcome, result = "ok", "failed"
        elif err in DEFINITE_FAIL:
            outcome = "fail"
        else:
            outcome = "info"
        if outcome == "info" and op["type"] == "get":
            return  # a read without a definite answer tells nothing
        t1 = now_us() if outcome != "info" else "-"
        p = op["payload"]
        line = "%d %s %s %s %s %d %s %s %s" % (
            proc, op["type"], pct(p["key"]), pct(p.get("value")),
            pct(p.get("expected")) if op["type"] == "cas" else "-", t0, t1, outcome, result)
        with self.lock:
            self.hist.append(line)
            self.count["ops"] += 1
            self.count[outcome] += 1

    def new_op(self, rng, proc, n):
        key = "%s%d" % (self.prefix, rng.randrange(NKEYS))
        value = "%d-%d" % (proc, n)
        t = rng.choice(["get", "get", "put", "put", "delete", "cas"])
        p = {"key": key}
        if t in ("put", "cas"):
            p["value"] = value
        if t == "cas":
            p["expected"] = rng.choice([None, "%d-%d" % (rng.randrange(8), rng.randrange(n + 1))])
        return {"type": t, "payload": p}


def plain(run, rng, proc):
    """Keep-alive HTTP/1.1 ops; some with a hang-up right after the write."""
    conns = {}
    n = 0
    while run.running():
        n += 1
        node = rng.randrange(len(run.nodes))
        op = run.new_op(rng, proc, n)
        hang = rng.random() < 0.1
        t0 = None
        try:
            if node not in conns or hang:
                conns[node] = socket.create_connection(run.nodes[node], timeout=TIMEOUT)
            s = conns[node]
            t0 = now_us()
            s.sendall(build_h1("POST", "/request", body_of(op), headers=fwd(rng)))
            if hang:
                run.bump("hangup")
                time.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02]))
                if rng.random() < 0.5:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                s.close()
                del conns[node]
                run.record(op, proc, t0, None)
                continue
            st, body, _ = read_h1(s)
            run.record(op, proc, t0, run.check_answer("h1 %s" % op["type"], st, body))
        except (OSError, EOFError, ValueError):
            conns.pop(node, None)
            if t0 is not None:
                run.record(op, proc, t0, None)
            time.sleep(0.05)


def h2(run, rng, proc):
    n = 0
    while run.running():
        host, port = run.nodes[rng.randrange(len(run.nodes))]
        ops = {}
        try:
            c = H2Conn(host, port, TIMEOUT)
        except OSError:
            time.sleep(0.05)
            continue
        mode = rng.choice(["read", "read", "rst", "drop"])
        run.bump("h2_" + mode)
        try:
            data = b""
            for i in range(rng.randint(1, 6)):
                n += 1
                sid = 2 * i + 1
                op = run.new_op(rng, proc, n)
                ops[sid] = (op, now_us())
                data += h2_request(sid, "POST", "/request", body_of(op), "%s:%d" % (host, port),
                                   [(k.lower(), v) for k, v in fwd(rng)])
            c.send(data)
            if mode == "drop":
                time.sleep(rng.choice([0, 0.002, 0.01]))
                c.close(reset=rng.random() < 0.5)
            else:
                if mode == "rst":
                    time.sleep(rng.choice([0, 0.001, 0.01]))
                    cut = [s for s in ops if rng.random() < 0.5]
                    c.send(b"".join(h2_rst(s) for s in cut))
                    for s in cut:  # no answer is owed any more; one may still come
                        c.done.setdefault(s, (None, None))
                c.read_until(list(ops))
        except (OSError, EOFError, ValueError):
            pass
        for sid, (op, t0) in ops.items():
            st, body = c.done.get(sid, (None, None))
            ans = run.check_answer("h2 %s" % op["type"], st, body) if body is not None else None
            run.record(op, proc, t0, ans)
        c.close()


# Malformed parts that keep the connection in step: h2o hands them to vesperd, which must
# answer 400 with JSON.
BROKEN_BODIES = [b"{broken", b"", b"[]", b'{"type":"put","payload":{"key":5}}',
                 b'{"type":"nope","payload":{"key":"a"}}', b'{"type":"get"}', b"\xff\xfe{"]
# Parts after which the stream is out of step or cut: only ever last, answers not judged.
LAST_PARTS = [b"PUT /request HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
              b"PUT /request HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}",
              b"PUT /request HTTP/1.1\r\nContent-Length: 3\r\n\r\n{\"type\":\"get\"}",
              b"PUT /request HTTP/1.1\r\nContent-Length: 400\r\n\r\n{\"pay",
              b"POST /requ", b"\x00\x01garbage\r\n\r\n"]


def pipeline(run, rng, proc):
    n = 0
    while run.running():
        host, port = run.nodes[rng.randrange(len(run.nodes))]
        parts = []  # (op or None, bytes)
        for _ in range(rng.randint(2, 6)):
            if rng.random() < 0.3:
                parts.append((None, build_h1("POST", "/request", rng.choice(BROKEN_BODIES))))
            else:
                n += 1
                op = run.new_op(rng, proc, n)
                parts.append((op, build_h1("POST", "/request", body_of(op), headers=fwd(rng))))
        tail = rng.choice(LAST_PARTS) if rng.random() < 0.4 else b""
        slow_reader = rng.random() < 0.2
        run.bump("pipeline_slow_reader" if slow_reader else "pipeline")
        t0 = now_us()
        answered = 0
        try:
            s = socket.create_connection((host, port), timeout=TIMEOUT)
            s.sendall(b"".join(p for _, p in parts) + tail)
            if slow_reader:
                time.sleep(rng.uniform(0.2, 1.0))
            rest = b""
            for op, _ in parts:
                st, body, rest = read_h1(s, rest)
                ans = run.check_answer("pipeline %s" % (op["type"] if op else "broken"), st, body)
                if op is not None:
                    run.record(op, proc, t0, ans)
                elif ans is not None and ans.get("code") != "fail":
                    with run.lock:
                        run.bad.append("broken part answered %s %r" % (st, body[:200]))
                        run.count["bad"] += 1
                answered += 1
            if tail:
                s.settimeout(0.5)  # the server may rightly wait for the rest of a cut request
                try:
                    read_h1(s, rest)
                except (OSError, EOFError, ValueError):
                    pass
            s.close()
        except (OSError, EOFError, ValueError):
            for op, _ in parts[answered:]:
                if op is not None:
                    run.record(op, proc, t0, None)
            time.sleep(0.05)


def main():
    if len(sys.argv) != 6:
        print(__doc__.split("\n\n")[1])
        return 2
    ip_list, seconds, seed, out, prefix = sys.argv[1:]
    urls = [line.strip() for line in open(ip_list) if line.strip()]
    if not all(u.startswith("http://127.0.0.1:") for u in urls):
        print("stress: every URL must be http://127.0.0.1:PORT")
        return 2
    run = Run(urls, float(seconds), int(seed), prefix)
    workers = [plain, plain, plain, h2, h2, pipeline, slow, big]
    threads = [threading.Thread(target=w, args=(run, random.Random(int(seed) * 100 + i), i))
               for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        f.write("\n".join(run.hist) + "\n")
    print("stress: %s %s seed=%s" % (" ".join("%s=%d" % kv for kv in run.count.items()),
                                     " ".join("%s=%d" % kv for kv in sorted(run.kinds.items())),
                                     seed))
    print("stress: fail answers: %s" % " ".join("%s=%d" % kv for kv in sorted(run.errors.items())))
    for line in run.bad[:10]:
        print("stress: BAD ANSWER " + line)
    return 1 if run.count["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
