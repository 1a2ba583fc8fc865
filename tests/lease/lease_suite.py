#!/usr/bin/env python3
"""lease_suite.py: TTL leases against real vesperd processes on 127.0.0.1 (ports 18100-18199).

  python3 tests/lease/lease_suite.py        (VESPERD, VESPER name the binaries)

Each scenario runs its own three-node cluster (election timeout 500 ms):
1. ttl: `vesper put KEY VALUE --ttl 2` prints the lease id; the key disappears about 2 s
   later and a watcher (on a follower) sees the delete; a revoke deletes every key of a
   lease at one revision, in one watch batch.
2. keepalive: a lease kept alive every 0.5 s (a client thread, following the leader)
   outlives 10 s and two kill -9 failovers of the leader, with its key; `vesper lease
   keepalive --forever` keeps another one alive meanwhile.
3. failover expiry: leases of 2 s that nobody renews, granted just before the leader is
   killed: each key goes no earlier than its TTL after the grant was sent, and outlives
   its lease (the grant's answer + TTL) by no more than TTL + 2 election timeouts, with
   no margin: the new leader keeps the deadline it counted from its own apply of the
   grant and adds one election timeout (counting from its election if the deadline
   passed during it). A lease kept alive throughout keeps its key.
4. bad input: ttl 0, negative, fractional, a string, too large, missing; unknown ids;
   a put with an unknown lease writes nothing; CLI usage errors.
Prints the measured timings, "ok N - name" / "FAIL N - name: why" and "N passed, N failed".
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VESPERD = os.environ.get("VESPERD", os.path.join(ROOT, "build", "vesperd-san"))
VESPER = os.environ.get("VESPER", os.path.join(ROOT, "build", "vesper"))
PORT0 = 18100
ELECTION_MS = 500

sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))
import localcluster  # noqa: E402


def Cluster(top, name, port0):
    return localcluster.Cluster(VESPERD, VESPER, top, name, 3, port0,
                                ["--election-timeout-ms", str(ELECTION_MS)])


def get(cl, key, node=None):
    return cl.request({"type": "get", "payload": {"key": key}}, node)


def exists(cl, key):
    """True/False by a linearizable get; None when no node answered."""
    d = get(cl, key)
    if d is None or d.get("error") in ("no_leader", "not_leader", "timeout", "unavailable"):
        return None
    return d.get("code") == "success"


def grant(cl, ttl, **kw):
    d = cl.request({"type": "lease_grant", "payload": dict(ttl=ttl, **kw)})
    if not d or d.get("code") != "success":
        raise RuntimeError("grant failed: %r" % d)
    return d["payload"]["id"]


def put(cl, key, value, lease=None):
    pl = {"key": key, "value": value}
    if lease is not None:
        pl["lease"] = lease
    return cl.request({"type": "put", "payload": pl})


class Watch(threading.Thread):
    """GET /watch?prefix=P on one node, collecting event batches."""

    def __init__(self, cl, node, prefix):
        super().__init__(daemon=True)
        self.cl, self.node, self.prefix = cl, node, prefix
        self.batches, self.ready, self.done = [], threading.Event(), False

    def run(self):
        for _ in range(100):  # the node may still be starting
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.cl.port0 + self.node, timeout=30)
                c.request("GET", "/watch?prefix=" + self.prefix)
                r = c.getresponse()
                break
            except OSError:
                time.sleep(0.1)
        else:
            return
        while not self.done:
            line = r.readline()
            if not line:
                return
            d = json.loads(line)
            if d["type"] == "progress":
                self.ready.set()
            elif d["type"] == "events":
                self.batches.append((time.time(), d["revision"], d["events"]))


class Keeper(threading.Thread):
    """Renews a lease every `every` seconds through whichever node leads."""

    def __init__(self, cl, lease, every=0.5):
        super().__init__(daemon=True)
        self.cl, self.lease, self.every = cl, lease, every
        self.done, self.ok, self.lost, self.fails = False, 0, None, 0

    def run(self):
        while not self.done:
            d = self.cl.request({"type": "lease_keepalive", "payload": {"id": self.lease}},
                                timeout=1.0)
            if d and d.get("code") == "success":
                self.ok += 1
            elif d and d.get("error") == "lease_not_found":
                self.lost = time.time()
                return
            else:
                self.fails += 1
                time.sleep(0.05)
                continue
            time.sleep(self.every)


def wait_gone(cl, key, limit_s):
    """Polls until key is absent; returns the time it was first seen absent, or None."""
    end = time.time() + limit_s
    while time.time() < end:
        if exists(cl, key) is False:
            return time.time()
        time.sleep(0.05)
    return None


def scen_ttl(top):
    cl = Cluster(top, "ttl", PORT0)
    cl.start_all()
    try:
        lead = cl.leader()
        follower = (lead + 1) % 3
        w = Watch(cl, follower, "t/")
        w.start()
        if not w.ready.wait(15):
            return "the watch on node %d did not start" % follower
        t0 = time.time()
        p = cl.cli("put", "t/a", "1", "--ttl", "2")
        t_ack = time.time()
        lines = p.stdout.strip().splitlines()
        if p.returncode != 0 or not lines or not lines[-1].startswith("lease "):
            return "put --ttl: rc %d out %r err %r" % (p.returncode, p.stdout, p.stderr)
        lease = int(lines[-1].split()[1])
        g = get(cl, "t/a")
        if not g or g.get("payload", {}).get("lease") != lease:
            return "get does not show the lease: %r" % g
        gone = wait_gone(cl, "t/a", 10)
        if gone is None:
            return "key outlived its 2 s lease by 8 s"
        time.sleep(0.5)
        dels = [(t, rev) for t, rev, evs in w.batches
                for e in evs if e["type"] == "delete" and e["key"] == "t/a"]
        print("# ttl 2 s: key gone %.2f s after the put was sent (%.2f s after its answer); "
              "watcher saw the delete %.2f s after the put" % (
                  gone - t0, gone - t_ack, dels[0][0] - t0 if dels else -1))
        if gone - t0 < 2.0:
            return "key gone %.2f s after the put, before its TTL" % (gone - t0)
        if not dels:
            return "the watcher on node %d saw no delete" % follower
        # A revoke deletes every key of the lease at one revision, in one batch.
        lid = grant(cl, 60)
        for k in ("t/r1", "t/r2", "t/r3"):
            if put(cl, k, "v", lid).get("code") != "success":
                return "put with lease %d failed" % lid
        info = cl.request({"type": "lease_info", "payload": {"id": lid, "keys": True}})
        if info["payload"].get("keys") != ["t/r1", "t/r2", "t/r3"]:
            return "lease_info keys: %r" % info
        p = cl.cli("lease", "revoke", str(lid))
        if p.returncode != 0:
            return "lease revoke: %r %r" % (p.stdout, p.stderr)
        rev = json.loads(p.stdout)["payload"]["revision"]
        time.sleep(0.5)
        batch = [evs for _, r, evs in w.batches if r == rev]
        if len(batch) != 1 or sorted(e["key"] for e in batch[0] if e["type"] == "delete") != \
                ["t/r1", "t/r2", "t/r3"]:
            return "revoke at %d: watch batches %r" % (rev, batch)
        w.done = True
        return None
    finally:
        cl.stop_all()


def scen_keepalive(top):
    cl = Cluster(top, "keepalive", PORT0 + 10)
    cl.start_all()
    try:
        cl.leader()
        lid = grant(cl, 2)
        put(cl, "k/alive", "1", lid)
        keeper = Keeper(cl, lid, 0.5)
        keeper.start()
        lid2 = grant(cl, 3)
        put(cl, "k/forever", "1", lid2)
        forever = subprocess.Popen([VESPER, "lease", "keepalive", str(lid2), "--forever",
                                    "--ip-list", cl.iplist, "--timeout", "10"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        failovers = []
        for _ in range(2):
            time.sleep(2.0)
            lead = cl.leader()
            tk = time.time()
            cl.kill(lead)
            new = cl.leader(avoid=lead)
            failovers.append(time.time() - tk)
            cl.start(lead)
        missing = 0
        while time.time() - t0 < 10.5:
            if exists(cl, "k/alive") is False or exists(cl, "k/forever") is False:
                missing += 1
            time.sleep(0.2)
        keeper.done = True
        forever.send_signal(signal.SIGINT)
        forever.wait(10)
        print("# keepalive: %d renewals (%d failed attempts) over %.1f s, failovers took %s s" % (
            keeper.ok, keeper.fails, time.time() - t0, ", ".join("%.2f" % f for f in failovers)))
        if keeper.lost is not None:
            return "lease %d expired while kept alive (%.1f s in)" % (lid, keeper.lost - t0)
        if missing:
            return "a kept-alive key was missing in %d reads" % missing
        ids = cl.request({"type": "lease_list", "payload": {}})["payload"]["ids"]
        if lid not in ids or lid2 not in ids:
            return "lease_list %r lacks %d or %d" % (ids, lid, lid2)
        return None
    finally:
        cl.stop_all()


def scen_failover_expiry(top):
    cl = Cluster(top, "expiry", PORT0 + 20)
    cl.start_all()
    try:
        cl.leader()
        keep = grant(cl, 2)
        put(cl, "e/kept", "1", keep)
        keeper = Keeper(cl, keep, 0.5)
        keeper.start()
        ttl, leases = 2, []
        for i in range(4):
            sent = time.time()
            lid = grant(cl, ttl)
            put(cl, "e/%d" % i, "v", lid)
            leases.append(("e/%d" % i, sent, time.time()))
        time.sleep(1.0)
        lead = cl.leader()
        cl.kill(lead)
        tk = time.time()
        cl.leader(avoid=lead)
        elected = time.time() - tk
        cl.start(lead)
        bound = ttl + 2 * ELECTION_MS / 1000.0  # how long a key may outlive its lease
        worst, errs = 0.0, []
        for key, sent, acked in leases:
            gone = wait_gone(cl, key, 15)
            if gone is None:
                errs.append("%s never deleted" % key)
                continue
            late = gone - (acked + ttl)
            worst = max(worst, late)
            if gone - sent < ttl:
                errs.append("%s deleted %.2f s after its grant was sent" % (key, gone - sent))
            if late > bound:
                errs.append("%s outlived its lease: %.2f s (bound %.2f)" % (key, late, bound))
        keeper.done = True
        kept = exists(cl, "e/kept")
        print("# failover expiry: new leader in %.2f s; keys of %d s leases outlived them by at "
              "most %.2f s (bound TTL + 2 election timeouts = %.2f s)" % (elected, ttl, worst, bound))
        if keeper.lost is not None or kept is False:
            errs.append("the kept-alive lease expired")
        return "; ".join(errs) or None
    finally:
        cl.stop_all()


def scen_bad_input(top):
    cl = Cluster(top, "bad", PORT0 + 30)
    cl.start_all()
    try:
        cl.leader()
        errs = []

        def expect(body, error, what):
            d = cl.request(body)
            if not d or d.get("error") != error:
                errs.append("%s: %r" % (what, d))
            return d

        for ttl in (0, -1, 2.5, "3", 10 ** 12, None):
            pl = {} if ttl is None else {"ttl": ttl}
            d = expect({"type": "lease_grant", "payload": pl}, "bad_request", "ttl %r" % (ttl,))
            if d and "ttl" not in d.get("message", ""):
                errs.append("ttl %r: message does not name the field: %r" % (ttl, d))
        expect({"type": "lease_revoke", "payload": {}}, "bad_request", "revoke without id")
        expect({"type": "lease_revoke", "payload": {"id": 0}}, "bad_request", "revoke id 0")
        expect({"type": "lease_revoke", "payload": {"id": 777}}, "lease_not_found", "revoke 777")
        expect({"type": "lease_keepalive", "payload": {"id": 777}}, "lease_not_found",
               "keepalive 777")
        expect({"type": "lease_info", "payload": {"id": 777}}, "lease_not_found", "info 777")
        expect({"type": "put", "payload": {"key": "b/x", "value": "1", "lease": 777}},
               "lease_not_found", "put with lease 777")
        expect({"type": "put", "payload": {"key": "b/x", "value": "1", "lease": "1"}},
               "bad_request", "put with a string lease")
        if exists(cl, "b/x") is not False:
            errs.append("a put with an unknown lease wrote its key")
        lid = grant(cl, 5, id=4242)
        if lid != 4242:
            errs.append("grant with id 4242 gave %r" % lid)
        expect({"type": "lease_grant", "payload": {"ttl": 5, "id": 4242}}, "lease_exists",
               "grant of an id in use")
        # Put without a lease detaches the key; deleting the lease leaves it.
        put(cl, "b/y", "1", lid)
        put(cl, "b/y", "2")
        d = cl.request({"type": "lease_info", "payload": {"id": lid, "keys": True}})
        if d["payload"].get("keys") != []:
            errs.append("a put without lease did not detach: %r" % d)
        plain = get(cl, "b/y")
        if plain != {"code": "success", "payload": {"key": "b/y", "value": "2"}}:
            errs.append("the v1 get reply of an unleased key changed: %r" % plain)
        for args in (["lease", "grant", "0"], ["lease", "grant", "x"], ["lease", "revoke"],
                     ["put", "k", "v", "--ttl", "0"], ["get", "k", "--ttl", "3"]):
            p = cl.cli(*args)
            if p.returncode != 2:
                errs.append("vesper %s: exit %d, want 2" % (" ".join(args), p.returncode))
        p = cl.cli("lease", "keepalive", "777")
        if p.returncode != 1 or "lease_not_found" not in p.stdout:
            errs.append("vesper lease keepalive 777: %d %r" % (p.returncode, p.stdout))
        return "; ".join(errs) or None
    finally:
        cl.stop_all()


def main():
    for b in (VESPERD, VESPER):
        if not os.access(b, os.X_OK):
            print("missing %s (make %s)" % (b, os.path.relpath(b, ROOT)))
            print("0 passed, 1 failed")
            return 1
    top = tempfile.mkdtemp(prefix="vesper-lease-")
    passed = failed = 0
    scenarios = [("ttl expiry and revoke", scen_ttl), ("keepalive through failovers", scen_keepalive),
                 ("expiry under leader failover", scen_failover_expiry),
                 ("bad input", scen_bad_input)]
    for n, (name, fn) in enumerate(scenarios, 1):
        t0 = time.time()
        try:
            why = fn(top)
        except Exception as e:  # a crash of the scenario is its failure
            why = "exception: %r" % (e,)
        san = [f for d in os.listdir(top) for f in os.listdir(os.path.join(top, d, "san"))]
        if why is None and san:
            why = "sanitizer reports: %s (in %s)" % (san, top)
        if why is None:
            passed += 1
            print("ok %d - %s (%.1f s)" % (n, name, time.time() - t0))
        else:
            failed += 1
            print("FAIL %d - %s: %s" % (n, name, why))
        sys.stdout.flush()
    if failed == 0:
        shutil.rmtree(top, ignore_errors=True)
    else:
        print("# logs kept in %s" % top)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
