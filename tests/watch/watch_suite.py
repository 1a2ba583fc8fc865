#!/usr/bin/env python3
"""watch_suite.py: watches against real vesperd processes on 127.0.0.1 (ports 17950-17959).

  python3 tests/watch/watch_suite.py        (VESPERD, VESPER name the binaries)

Scenario 1 (failover): three nodes; writers put, delete and run transactions through the
`vesper` CLI while watchers stream GET /watch from the leader and both followers (a prefix,
a narrower prefix, one key) and one `vesper watch` runs; the leader is killed with -9 and
restarted, then the new leader is paused with SIGSTOP and resumed. A watcher whose stream
breaks or stalls reconnects to another node with from = its last revision + 1. At the end
every node's history (a watch of every key from revision 1) must be the same; every
watcher's events must equal that history restricted to its range and start, in order,
without a gap or a duplicate; every acknowledged put must be in it; and replaying it must
give the final range.
Scenario 2 (bounds): three nodes with a small history window and lag bound: a watcher that
reads nothing is closed with {"type":"closed","reason":"slow_consumer"} once it falls
behind, and a watch from revision 1 after the window moved on is answered 410
{"error":"compacted","oldest":R}, while one from R streams (also as server-sent events).
Prints "ok N - name" / "FAIL N - name: why" and "N passed, N failed".
"""
import http.client
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VESPERD = os.environ.get("VESPERD", os.path.join(ROOT, "build", "vesperd-san"))
VESPER = os.environ.get("VESPER", os.path.join(ROOT, "build", "vesper"))
PORT0 = 17950

sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))
import localcluster  # noqa: E402


def Cluster(top, name, n, port0, args):
    return localcluster.Cluster(VESPERD, VESPER, top, name, n, port0, args)


class Watcher(threading.Thread):
    """Streams /watch, reconnecting to the next node with from = last + 1."""

    def __init__(self, cl, node, what, exact=False, start_from=None):
        super().__init__(daemon=True)
        self.cl, self.node, self.what, self.exact = cl, node, what, exact
        self.start_from = start_from  # None: from now (the first progress line says where)
        self.batches = []  # (revision, [event, ...])
        self.first = None  # the first revision this watcher owes
        self.progress = 0
        self.errors = []
        self.reconnects = 0
        self.done = False

    def range_has(self, key):
        return key == self.what if self.exact else key.startswith(self.what)

    def next_from(self):
        if self.batches:
            return self.batches[-1][0] + 1
        return self.first if self.first is not None else self.start_from

    def stream_once(self):
        q = "%s=%s" % ("key" if self.exact else "prefix", self.what)
        f = self.next_from()
        if f is not None:
            q += "&from=%d" % f
        c = http.client.HTTPConnection("127.0.0.1", self.cl.port0 + self.node, timeout=3)
        try:
            c.request("GET", "/watch?" + q)
            r = c.getresponse()
            if r.status != 200:
                self.errors.append("node %d answered %d %s" % (self.node, r.status, r.read()[:200]))
                return
            while not self.done:
                line = r.readline()
                if not line:
                    return
                d = json.loads(line)
                if d["type"] == "progress":
                    if self.first is None:
                        self.first = d["revision"] + 1
                    self.progress = d["revision"]
                elif d["type"] == "events":
                    if self.first is None:
                        self.first = d["revision"]
                    self.batches.append((d["revision"], d["events"]))
                    self.progress = max(self.progress, d["revision"])
                elif d["type"] == "closed":
                    return
        finally:
            c.close()

    def run(self):
        while not self.done:
            try:
                self.stream_once()
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if self.done:
                break
            self.reconnects += 1
            self.node = (self.node + 1) % self.cl.n
            time.sleep(0.1)


def history(cl, node, upto, timeout=20):
    """Every event of every key from revision 1 on node, up to revision upto."""
    w = Watcher(cl, node, "", start_from=1)
    w.start()
    end = time.time() + timeout
    while w.progress < upto and time.time() < end:
        time.sleep(0.1)
    w.done = True
    if w.progress < upto:
        raise RuntimeError("node %d did not reach revision %d (at %d)" % (node, upto, w.progress))
    return [b for b in w.batches if b[0] <= upto]


def restrict(hist, w, upto):
    out = []
    for rev, evs in hist:
        if rev < w.first or rev > upto:
            continue
        mine = [e for e in evs if w.range_has(e["key"])]
        if mine:
            out.append((rev, mine))
    return out


def writer(cl, wid, n_ops, acked, stop):
    for i in range(n_ops):
        if stop.is_set():
            return
        k = "w/%s%d" % ("ab"[i % 2], i % 5)
        v = "v%d-%d" % (wid, i)
        if i % 7 == 3:
            r = cl.cli("delete", k)
        elif i % 5 == 2:
            txn = {"success": [{"op": "put", "key": "w/k1", "value": v + "t"},
                               {"op": "put", "key": k, "value": v},
                               {"op": "delete", "key": "w/b0"}]}
            r = cl.cli("txn", json.dumps(txn))
            if r.returncode == 0:
                acked.append((k, v))
                acked.append(("w/k1", v + "t"))
            continue
        else:
            r = cl.cli("put", k, v)
            if r.returncode == 0:
                acked.append((k, v))


def final_range(cl):
    r = cl.cli("list", "w/", "--all")
    kvs = {}
    for line in r.stdout.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        for kv in (d.get("payload") or {}).get("kvs", []):
            kvs[kv["key"]] = kv["value"]
    return kvs


def scen_failover(top):
    cl = Cluster(top, "failover", 3, PORT0, ["--log-level", "warn"])
    cl.start_all()
    try:
        lead = cl.leader()
        f1, f2 = [i for i in range(3) if i != lead]
        cl.cli("put", "w/a0", "seed")
        watchers = [Watcher(cl, lead, "w/", start_from=1), Watcher(cl, f1, "w/a"),
                    Watcher(cl, f2, "w/k1", exact=True)]
        for w in watchers:
            w.start()
        cli_out = open(os.path.join(cl.dir, "cli-watch.out"), "w")
        cli_w = subprocess.Popen([VESPER, "watch", "w/", "--from", "1", "--ip-list", cl.iplist],
                                 stdout=cli_out, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        acked, stop = [], threading.Event()
        ws = [threading.Thread(target=writer, args=(cl, k, 60, acked, stop)) for k in range(2)]
        for t in ws:
            t.start()
        time.sleep(2)
        lead = cl.leader()
        cl.kill(lead)
        time.sleep(1.5)
        cl.start(lead)
        time.sleep(1)
        lead2 = cl.leader()
        cl.procs[lead2].send_signal(signal.SIGSTOP)
        time.sleep(4)  # past the watchers' 3 s stall limit
        cl.procs[lead2].send_signal(signal.SIGCONT)
        for t in ws:
            t.join(timeout=60)
        stop.set()
        lead = cl.leader()
        top_rev = cl.status(lead).get("revision")
        if top_rev is None:
            top_rev = int(json.loads(cl.cli("list", "w/", "--limit", "1").stdout)["payload"]["revision"])
        hists = [history(cl, i, top_rev) for i in range(3)]
        if not (hists[0] == hists[1] == hists[2]):
            return "the nodes' histories differ"
        hist = hists[0]
        revs = [b[0] for b in hist]
        if revs != sorted(set(revs)):
            return "history out of order"
        end = time.time() + 20
        while time.time() < end and any(w.progress < top_rev for w in watchers):
            time.sleep(0.1)
        for w in watchers:
            w.done = True
        for n_w, w in enumerate(watchers):
            if w.first is None:
                return "watcher %d never started" % n_w
            want = restrict(hist, w, top_rev)
            got = [b for b in w.batches if b[0] <= top_rev]
            if got != want:
                return "watcher %d (%s): %d batches, %d expected; first difference at %s" % (
                    n_w, w.what, len(got), len(want),
                    next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want))))
            if w.errors:
                return "watcher %d: %s" % (n_w, w.errors[0])
        if sum(w.reconnects for w in watchers) < 1:
            return "no watcher had to reconnect"
        puts = {(e["key"], e["value"]) for _, evs in hist for e in evs if e["type"] == "put"}
        missing = [a for a in acked if a not in puts]
        if missing:
            return "acknowledged writes missing from the history: %s" % missing[:3]
        state = {}
        for _, evs in hist:
            for e in evs:
                if e["type"] == "put":
                    state[e["key"]] = e["value"]
                else:
                    state.pop(e["key"], None)
        if {k: v for k, v in state.items() if k.startswith("w/")} != final_range(cl):
            return "replaying the history does not give the final range"
        time.sleep(1.5)
        cli_w.terminate()
        cli_w.wait()
        cli_out.close()
        with open(os.path.join(cl.dir, "cli-watch.out")) as f:
            cli_events = [json.loads(x) for x in f if x.strip()]
        want_cli = [e for _, evs in hist for e in evs if e["key"].startswith("w/")]
        if cli_events[:len(want_cli)] != want_cli:
            return "vesper watch printed %d events, %d expected" % (len(cli_events), len(want_cli))
        print("   revision %d, %d writes acknowledged, watcher reconnects %s" % (
            top_rev, len(acked), [w.reconnects for w in watchers]))
        return None
    finally:
        cl.stop_all()
        if cl.san_reports():
            print("   sanitizer reports: %s" % cl.san_reports())


def raw_request(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/request", body=json.dumps(body))
    d = json.loads(c.getresponse().read())
    c.close()
    return d


def scen_bounds(top):
    cl = Cluster(top, "bounds", 3, PORT0 + 5,
                 ["--log-level", "warn", "--watch-max-lag", "20", "--watch-history-events", "2000"])
    cl.start_all()
    try:
        lead = cl.leader()
        port = cl.port0 + lead
        # A watcher that never reads: a tiny receive buffer, the request, then nothing.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /watch?prefix=big/ HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        big = "x" * 16384
        for i in range(60):
            ops = [{"op": "put", "key": "big/%d" % j, "value": big} for j in range(16)]
            d = raw_request(port, {"type": "txn", "payload": {"success": ops}})
            if d.get("code") != "success":
                return "txn %d: %s" % (i, d)
        # Still not reading: a slow consumer is one whose chunk stays unwritten for the
        # server's stall bound (1 s) while it is behind, however fast the writes were.
        time.sleep(2.5)
        s.settimeout(10)
        data = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            if b'"type":"closed"' in data and data.endswith(b"\r\n0\r\n\r\n"):
                break
        s.close()
        if b'{"type":"closed","reason":"slow_consumer"}' not in data:
            return "the slow watcher was not closed as a slow consumer (%d bytes read)" % len(data)
        for i in range(25):
            ops = [{"op": "put", "key": "small/%d" % j, "value": "v"} for j in range(50)]
            d = raw_request(port, {"type": "txn", "payload": {"success": ops}})
            if d.get("code") != "success":
                return "txn %d: %s" % (i, d)
        oldest = {}
        for node in range(3):
            c = http.client.HTTPConnection("127.0.0.1", cl.port0 + node, timeout=5)
            c.request("GET", "/watch?prefix=&from=1")
            r = c.getresponse()
            body = json.loads(r.read())
            c.close()
            if r.status != 410 or body.get("error") != "compacted" or body.get("oldest", 0) <= 1:
                return "node %d: a watch from 1 got %d %s" % (node, r.status, body)
            oldest[node] = body["oldest"]  # a follower may not have applied the last txn yet
        oldest = oldest[lead]
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/watch?prefix=&from=%d" % oldest)
        r = c.getresponse()
        first = json.loads(r.readline()) if r.status == 200 else None
        c.close()
        if not first or first.get("revision") != oldest:
            return "a watch from the oldest revision %d started with %s" % (oldest, first)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/watch?prefix=small/&from=%d" % oldest,
                  headers={"Accept": "text/event-stream"})
        r = c.getresponse()
        line, blank = r.readline(), r.readline()
        c.close()
        if (r.getheader("Content-Type") != "text/event-stream" or not line.startswith(b"data: {")
                or json.loads(line[6:]).get("type") != "events" or blank != b"\n"):
            return "server-sent events: %s %r %r" % (r.getheader("Content-Type"), line[:60], blank)
        print("   slow watcher read %d bytes before its close; oldest revision %d" % (len(data), oldest))
        return None
    finally:
        cl.stop_all()
        if cl.san_reports():
            print("   sanitizer reports: %s" % cl.san_reports())


def main():
    top = tempfile.mkdtemp(prefix="vesper-watch.")
    passed = failed = 0
    try:
        for n, (name, fn) in enumerate([("failover", scen_failover), ("bounds", scen_bounds)], 1):
            t0 = time.time()
            try:
                why = fn(top)
            except Exception as e:  # a crash of the scenario is its failure
                why = "%s: %s" % (type(e).__name__, e)
            if why is None and any(os.listdir(os.path.join(top, d, "san")) for d in os.listdir(top)):
                why = "sanitizer report"
            if why is None:
                passed += 1
                print("ok %d - %s (%.1f s)" % (n, name, time.time() - t0))
            else:
                failed += 1
                print("FAIL %d - %s: %s" % (n, name, why))
    finally:
        if os.environ.get("WATCH_KEEP") == "1":
            print("# kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
