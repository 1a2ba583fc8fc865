"""cluster.py: vesperd processes on 127.0.0.1 for the console suite.

A Cluster owns its directory (ip_list.txt, data dirs, node logs, sanitizer logs) and
its processes, and signals only the pids it started. Nodes run with the sanitizer
options of tests/cluster/lib.sh: the first error stops the node; reports go to
DIR/san and to the node's log, and san_reports() lists them.
"""
import glob
import http.client
import json
import os
import signal
import subprocess
import threading
import time

HOST = "127.0.0.1"


def request(port, method, path, body=None, headers=None, timeout=5.0):
    """One HTTP request: (status, headers as a lower-case dict, body bytes)."""
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


class Cluster:
    def __init__(self, vesperd, top, name, n, port0, env=None, advertise_host=None):
        self.vesperd = vesperd
        self.dir = os.path.join(top, name)
        self.n = n
        self.port0 = port0
        self.pids = [None] * n
        # Nodes advertise http://ADVERTISE_HOST:port to clients while their peers know
        # them by the ip_list's 127.0.0.1, as in the compose cluster (service names for
        # peers, published ports for clients).
        self.advertise_host = advertise_host
        os.makedirs(os.path.join(self.dir, "san"), exist_ok=True)
        self.ip_list = os.path.join(self.dir, "ip_list.txt")
        with open(self.ip_list, "w") as f:
            for i in range(n):
                f.write("http://%s:%d\n" % (HOST, port0 + i))
        self.env = dict(os.environ)
        self.env.update(env or {})
        san = os.path.join(self.dir, "san")
        self.env["ASAN_OPTIONS"] = ("log_path=%s/asan:halt_on_error=1:abort_on_error=1:"
                                    "detect_leaks=1" % san)
        self.env["UBSAN_OPTIONS"] = ("log_path=%s/ubsan:halt_on_error=1:abort_on_error=1:"
                                     "print_stacktrace=1" % san)

    def port(self, i):
        return self.port0 + i

    def url(self, i):
        return "http://%s:%d" % (HOST, self.port(i))

    def start(self, i, ip_list=None, extra=()):
        log = open(os.path.join(self.dir, "node%d.log" % i), "ab")
        self.pids[i] = subprocess.Popen(
            [self.vesperd, str(i), ip_list or self.ip_list, "--data-dir",
             os.path.join(self.dir, "data%d" % i), "--listen", "%s:%d" % (HOST, self.port(i)),
             *self.advertise_args(i), *extra], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        log.close()

    def advertise_args(self, i):
        if not self.advertise_host:
            return ()
        return ("--advertise-url", "http://%s:%d" % (self.advertise_host, self.port(i)))

    def client_url(self, i):
        return "http://%s:%d" % (self.advertise_host or HOST, self.port(i))

    def start_all(self):
        for i in range(self.n):
            self.start(i)

    def kill(self, i):
        p = self.pids[i]
        if p is not None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            self.pids[i] = None

    def stop(self):
        """SIGTERM to every running node (a sanitized node checks leaks on a clean exit),
        SIGKILL after 10 s. Returns the ids that exited with a non-zero status."""
        for p in self.pids:
            if p is not None:
                p.send_signal(signal.SIGTERM)
        bad = []
        for i, p in enumerate(self.pids):
            if p is None:
                continue
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            if rc != 0:
                bad.append(i)
            self.pids[i] = None
        return bad

    def status(self, i, timeout=2.0):
        try:
            st, _, body = request(self.port(i), "GET", "/status", timeout=timeout)
            return json.loads(body) if st == 200 else None
        except (OSError, ValueError):
            return None

    def leader(self, timeout_s=15.0, exclude=()):
        """The id of a leader that a majority of the cluster agrees on, or None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            votes = {}
            lead = None
            for i in range(self.n):
                if i in exclude or self.pids[i] is None:
                    continue
                s = self.status(i, timeout=1.0)
                if not s:
                    continue
                if s.get("leader") is not None:
                    key = (s["leader"], s["term"])
                    votes[key] = votes.get(key, 0) + 1
                if s.get("role") == "leader":
                    lead = (s["id"], s["term"])
            if lead and votes.get(lead, 0) > self.n // 2:
                return lead[0]
            time.sleep(0.1)
        return None

    def crashed(self):
        return [i for i, p in enumerate(self.pids) if p is not None and p.poll() is not None]

    def san_reports(self):
        out = glob.glob(os.path.join(self.dir, "san", "*"))
        for log in glob.glob(os.path.join(self.dir, "node*.log")):
            with open(log, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if "runtime error:" in text or "Sanitizer" in text:
                out.append(log)
        return out

    def log_tail(self, i, lines=6):
        try:
            with open(os.path.join(self.dir, "node%d.log" % i), "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


class Writer(threading.Thread):
    """A little write load in the background: one PUT every interval_s to whichever
    node leads, bounded by count and time. Counts the acknowledged writes."""

    def __init__(self, cluster, interval_s=0.05, max_writes=3000, max_s=180.0):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.interval_s = interval_s
        self.max_writes = max_writes
        self.max_s = max_s
        self.lead = None
        self.acked = 0
        self.halt = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.max_s
        for seq in range(self.max_writes):
            if self.halt.is_set() or time.monotonic() > deadline:
                return
            self.put(seq)
            self.halt.wait(self.interval_s)

    def put(self, seq):
        c = self.cluster
        if self.lead is None or c.pids[self.lead] is None:
            self.lead = c.leader(timeout_s=2.0)
            if self.lead is None:
                return
        body = json.dumps({"type": "put", "payload": {"key": "ui%d" % seq, "value": "v%d" % seq}})
        try:
            st, _, reply = request(c.port(self.lead), "PUT", "/request", body,
                                   {"Content-Type": "application/json"}, timeout=3.0)
            if st == 200 and json.loads(reply).get("code") == "success":
                self.acked += 1
            else:
                self.lead = None
        except (OSError, ValueError):
            self.lead = None

    def stop(self):
        self.halt.set()
        self.join(timeout=10)
