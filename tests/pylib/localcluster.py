"""localcluster.py: a cluster of vesperd processes on 127.0.0.1 for the Python suites
(tests/lease, tests/watch).

A Cluster owns its directory (ip_list.txt, one data directory and one log per node,
sanitizer reports under san/) and the processes it started; it signals only those.
Nodes run with the sanitizer options of tests/cluster/lib.sh: the first error stops
the node, and san_reports() lists the reports.
"""
import http.client
import json
import os
import signal
import subprocess
import time


class Cluster:
    def __init__(self, vesperd, vesper, top, name, n, port0, args=()):
        self.vesperd, self.vesper = vesperd, vesper
        self.dir = os.path.join(top, name)
        os.makedirs(os.path.join(self.dir, "san"))
        self.n, self.port0, self.args = n, port0, list(args)
        self.iplist = os.path.join(self.dir, "ip_list.txt")
        with open(self.iplist, "w") as f:
            for i in range(n):
                f.write("http://127.0.0.1:%d\n" % (port0 + i))
        self.procs = [None] * n
        self.env = dict(os.environ)
        self.env["ASAN_OPTIONS"] = "log_path=%s/san/asan:halt_on_error=1:detect_leaks=1" % self.dir
        self.env["UBSAN_OPTIONS"] = "log_path=%s/san/ubsan:halt_on_error=1:print_stacktrace=1" % self.dir

    def url(self, i):
        return "http://127.0.0.1:%d" % (self.port0 + i)

    def start(self, i):
        log = open(os.path.join(self.dir, "node%d.log" % i), "a")
        self.procs[i] = subprocess.Popen(
            [self.vesperd, str(i), self.iplist, "--data-dir", os.path.join(self.dir, "d%d" % i)]
            + self.args, stdout=log, stderr=log, env=self.env)

    def start_all(self):
        for i in range(self.n):
            self.start(i)

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def stop_all(self):
        """SIGTERM to every node still running (a paused one is resumed first); SIGKILL
        after 15 s."""
        for p in self.procs:
            if p and p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        for p in self.procs:
            if p:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def status(self, i):
        """GET /status of node i as a dict; None when it does not answer."""
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port0 + i, timeout=1)
            c.request("GET", "/status")
            d = json.loads(c.getresponse().read())
            c.close()
            return d
        except Exception:
            return None

    def leader(self, timeout=15, avoid=None):
        """The index of the node that says it leads (never avoid)."""
        end = time.time() + timeout
        while time.time() < end:
            for i in range(self.n):
                if i == avoid:
                    continue
                d = self.status(i)
                if d and d.get("role") == "leader":
                    return i
            time.sleep(0.05)
        raise RuntimeError("no leader")

    def request(self, body, node=None, timeout=3.0):
        """POST /request to node (default: the leader, found again after a failover).
        Returns the reply as a dict, or None without an answer."""
        try:
            i = self.leader(timeout=timeout) if node is None else node
            c = http.client.HTTPConnection("127.0.0.1", self.port0 + i, timeout=timeout)
            c.request("POST", "/request", json.dumps(body))
            d = json.loads(c.getresponse().read())
            c.close()
            return d
        except Exception:
            return None

    def cli(self, *args, timeout=20):
        """The vesper CLI against this cluster's ip_list (10 s request deadline)."""
        return subprocess.run([self.vesper] + list(args) + ["--ip-list", self.iplist, "--timeout", "10"],
                              capture_output=True, text=True, timeout=timeout)

    def san_reports(self):
        return os.listdir(os.path.join(self.dir, "san"))
