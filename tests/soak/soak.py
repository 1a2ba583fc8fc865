#!/usr/bin/env python3
"""soak.py: the body of tests/soak/soak.sh (read its header for the knobs).

Runs three vesperd processes on 127.0.0.1 with a temporary data directory each and,
for SOAK_MINUTES, at the same time:
  - load: build/histgen (8 clients, 64 keys, put/get/delete/cas) in 60-second rounds
    with a fresh key prefix per round; its summary lines give the op counts;
  - checkers: 4 threads that each own one key and write 1, 2, 3, ... to it and read
    it back, classifying every answer. Expected during faults: timeout, no_leader,
    not_leader (followed), unavailable, connection refused/reset/closed. Anything
    else is an unexpected error, and so is a read older than the last acknowledged
    write (a lost write);
  - faults, one every ~SOAK_FAULT_SECONDS: kill -9 a random follower or the leader
    and restart it 2-5 s later, or SIGSTOP a random node for 2-8 s then SIGCONT;
  - sampling every SOAK_SAMPLE_SECONDS: VmRSS, the number of open fds and the role
    of each node into soak.csv (t_s,node,pid,rss_kb,fds,state; state is leader,
    follower, stopped or down).
At the end, over samples after the warm-up, separately for leader samples and for
follower samples of all nodes together: the last third's max RSS and fd count must
be within 1.5x of the max before it (fds: or within +16, small numbers jitter).
That is the leak signal: no new high-water mark late in the run. A strict
"last third vs first third" comparison is printed too but does not decide: at a
few MB, one catch-up of a follower after SIGSTOP or a restart (snapshot chunks,
pipelined appends) lifts glibc's high-water mark by more than 1.5x once, and where
that step lands relative to the thirds is chance. Roles are compared with
themselves because leadership moves and a leader legitimately holds more (client
connections, per-follower buffers). A restarted process starts from scratch, so
per-node ranges and pid counts are printed as well.
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VESPERD = os.path.join(ROOT, "build/vesperd")
HISTGEN = os.path.join(ROOT, "build/histgen")
MINUTES = float(os.environ.get("SOAK_MINUTES", "10"))
PORT0 = int(os.environ.get("SOAK_PORT", "17600"))
FAULT_S = float(os.environ.get("SOAK_FAULT_SECONDS", "20"))
SAMPLE_S = float(os.environ.get("SOAK_SAMPLE_SECONDS", "3"))
WARMUP_S = float(os.environ.get("SOAK_WARMUP_SECONDS", "30"))
SEED = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
N = 3
EXPECTED = {"timeout", "no_leader", "not_leader", "unavailable"}

rng = random.Random(SEED)
out_dir = os.environ.get("SOAK_OUT") or os.path.join(
    ROOT, "build", "soak-" + time.strftime("%Y%m%d-%H%M%S"))
os.makedirs(out_dir, exist_ok=True)
tmp = tempfile.mkdtemp(prefix="vesper-soak.")
ip_list = os.path.join(tmp, "ip_list.txt")
procs = [None] * N
stopped = [False] * N
lock = threading.Lock()
stop = threading.Event()
faults_log = open(os.path.join(out_dir, "faults.log"), "w")


def log_fault(msg):
    line = "%8.1f %s" % (time.time() - t0, msg)
    faults_log.write(line + "\n")
    faults_log.flush()


# ---------- cluster ----------

def start(i):
    log = open(os.path.join(tmp, "node%d.log" % i), "ab")
    procs[i] = subprocess.Popen([VESPERD, str(i), ip_list, "--data-dir",
                                 os.path.join(tmp, "data%d" % i), "--log-level", "warn"],
                                stdout=log, stderr=log)
    stopped[i] = False


def kill(i):
    p = procs[i]
    if p is not None and p.poll() is None:
        if stopped[i]:
            os.kill(p.pid, signal.SIGCONT)
        p.kill()
        p.wait()


def status(i, timeout=1.0):
    c = http.client.HTTPConnection("127.0.0.1", PORT0 + i, timeout=timeout)
    try:
        c.request("GET", "/status")
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def leader():
    for i in range(N):
        if stopped[i]:
            continue
        try:
            st = status(i)
            if st.get("role") == "leader":
                return i
        except (OSError, ValueError):
            pass
    return None


def wait_leader(timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        l = leader()
        if l is not None:
            return l
        time.sleep(0.1)
    return None


# ---------- checkers ----------

class Stats:
    def __init__(self):
        self.ops = 0
        self.ok = 0
        self.expected = {}
        self.unexpected = []

    def add_expected(self, what):
        self.expected[what] = self.expected.get(what, 0) + 1


stats = Stats()


def call(node, body, timeout=3.0):
    """One request; returns the parsed reply or raises OSError/ValueError."""
    c = http.client.HTTPConnection("127.0.0.1", PORT0 + node, timeout=timeout)
    try:
        c.request("POST", "/request", body=json.dumps(body))
        r = c.getresponse()
        data = r.read()
        return r.status, json.loads(data.decode("utf-8"))
    finally:
        c.close()


def checker(idx):
    key = "soak-check-%d" % idx
    acked = 0      # highest write acknowledged
    attempted = 0  # highest write sent (ambiguous ones included)
    node = idx % N
    while not stop.is_set():
        write = rng.random() < 0.5
        if write:
            attempted += 1
            body = {"type": "put", "payload": {"key": key, "value": str(attempted)}}
        else:
            body = {"type": "get", "payload": {"key": key}}
        try:
            st, reply = call(node, body)
        except (ConnectionError, OSError) as e:
            with lock:
                stats.ops += 1
                stats.add_expected("conn:" + type(e).__name__)
            node = rng.randrange(N)
            time.sleep(0.05)
            continue
        except ValueError as e:
            with lock:
                stats.ops += 1
                stats.unexpected.append("unparseable reply: %s" % e)
            continue
        with lock:
            stats.ops += 1
            if reply.get("code") == "success":
                stats.ok += 1
                if write:
                    acked = attempted
                else:
                    v = int(reply["payload"]["value"])
                    if v < acked or v > attempted:
                        stats.unexpected.append("%s read %d, acked %d, attempted %d" % (
                            key, v, acked, attempted))
                continue
            err = reply.get("error")
            if err == "not_found" and not write and acked == 0:
                stats.ok += 1
                continue
            if err in EXPECTED:
                stats.add_expected(err)
            else:
                stats.unexpected.append("%s: HTTP %d %r" % (key, st, reply))
        if err == "not_leader":
            url = (reply.get("payload") or {}).get("message", "")
            m = re.search(r":(\d+)", url)
            if m and 0 <= int(m.group(1)) - PORT0 < N:
                node = int(m.group(1)) - PORT0
            else:
                node = rng.randrange(N)
        else:
            node = rng.randrange(N)
            time.sleep(0.05)


# ---------- load ----------

histgen_totals = {"ops": 0, "ok": 0, "fail": 0, "info": 0, "rounds": 0}


def load(deadline):
    r = 0
    while not stop.is_set():
        left = deadline - time.time()
        if left < 5:
            break
        r += 1
        out = subprocess.run([HISTGEN, "-c", "8", "-k", "64", "-x", "-t", "2000",
                              "-d", str(int(min(60, left))), "-p", "soak%d" % r,
                              "-o", os.path.join(tmp, "history%d.txt" % r), ip_list],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"ops=(\d+) ok=(\d+) fail=(\d+) info=(\d+)", out.stdout)
        if m:
            for k, v in zip(("ops", "ok", "fail", "info"), m.groups()):
                histgen_totals[k] += int(v)
            histgen_totals["rounds"] += 1
        else:
            print("histgen round %d: %s" % (r, out.stdout.strip()[-300:]))


# ---------- sampling ----------

samples = []  # (t, node, pid, rss_kb, fds, state)


def sample_once(csv):
    t = time.time() - t0
    for i in range(N):
        p = procs[i]
        if p is None or p.poll() is not None:
            csv.write("%.1f,%d,,,,down\n" % (t, i))
            continue
        try:
            with open("/proc/%d/status" % p.pid) as f:
                rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            fds = len(os.listdir("/proc/%d/fd" % p.pid))
        except (OSError, AttributeError):
            continue
        state = "stopped"
        if not stopped[i]:
            try:
                state = status(i, timeout=0.5).get("role", "unknown")
            except (OSError, ValueError):
                state = "unknown"
        samples.append((t, i, p.pid, rss, fds, state))
        csv.write("%.1f,%d,%d,%d,%d,%s\n" % (t, i, p.pid, rss, fds, state))
    csv.flush()


def sampler():
    with open(os.path.join(out_dir, "soak.csv"), "w") as csv:
        csv.write("t_s,node,pid,rss_kb,fds,state\n")
        while not stop.is_set():
            sample_once(csv)
            stop.wait(SAMPLE_S)


# ---------- faults ----------

fault_counts = {}


def one_fault():
    l = leader()
    kind = rng.choice(["kill_follower", "kill_leader", "stop_node"])
    if kind == "kill_leader" and l is None:
        kind = "kill_follower"
    if kind == "stop_node":
        i = rng.randrange(N)
        secs = rng.uniform(2, 8)
        log_fault("SIGSTOP node %d for %.1fs (leader %s)" % (i, secs, l))
        os.kill(procs[i].pid, signal.SIGSTOP)
        stopped[i] = True
        stop.wait(secs)
        os.kill(procs[i].pid, signal.SIGCONT)
        stopped[i] = False
    else:
        if kind == "kill_leader":
            i = l
        else:
            i = rng.choice([k for k in range(N) if k != l])
        down = rng.uniform(2, 5)
        log_fault("kill -9 node %d (%s), restart in %.1fs" % (i, kind, down))
        kill(i)
        stop.wait(down)
        start(i)
    fault_counts[kind] = fault_counts.get(kind, 0) + 1
    log_fault("done %s; leader now %s" % (kind, wait_leader(10)))


def faults(deadline):
    while not stop.is_set() and time.time() < deadline - 10:
        stop.wait(rng.uniform(0.7 * FAULT_S, 1.3 * FAULT_S))
        if stop.is_set() or time.time() >= deadline - 10:
            break
        one_fault()


# ---------- verdict ----------

def bounded(role):
    pts = [s for s in samples if s[5] == role and s[0] >= WARMUP_S]
    if len(pts) < 6:
        return True, "too few %s samples" % role
    third = len(pts) // 3
    first, before, last = pts[:third], pts[:-third], pts[-third:]
    r1, rb, r3 = (max(p[3] for p in x) for x in (first, before, last))
    f1, fb, f3 = (max(p[4] for p in x) for x in (first, before, last))
    ok = r3 <= 1.5 * rb and (f3 <= 1.5 * fb or f3 <= fb + 16)
    strict = r3 <= 1.5 * r1 and (f3 <= 1.5 * f1 or f3 <= f1 + 16)
    return ok, ("rss max before last third %d KB, in it %d KB; fds %d -> %d; "
                "vs first third only (%d KB, %d fds): %s" % (
                    rb, r3, fb, f3, r1, f1, "within 1.5x" if strict else "OVER 1.5x"))


def main():
    global t0
    for path in (VESPERD, HISTGEN):
        if not os.access(path, os.X_OK):
            print("soak: %s missing" % path)
            return 2
    with open(ip_list, "w") as f:
        for i in range(N):
            f.write("http://127.0.0.1:%d\n" % (PORT0 + i))
    t0 = time.time()
    deadline = t0 + MINUTES * 60
    for i in range(N):
        start(i)
    if wait_leader() is None:
        print("soak: no leader after start")
        return 2
    print("soak: %.1f min, seed %d, output %s" % (MINUTES, SEED, out_dir))
    threads = [threading.Thread(target=sampler), threading.Thread(target=load, args=(deadline,))]
    threads += [threading.Thread(target=checker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        faults(deadline)
        while time.time() < deadline and threads[1].is_alive():
            time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join()
        for i in range(N):
            kill(i)
    lines = ["soak: %.1f min, seed %d, faults %s" % (MINUTES, SEED, fault_counts),
             "histgen: rounds=%(rounds)d ops=%(ops)d ok=%(ok)d fail=%(fail)d info=%(info)d"
             % histgen_totals,
             "checkers: ops=%d ok=%d expected errors %s unexpected=%d" % (
                 stats.ops, stats.ok, stats.expected, len(stats.unexpected))]
    verdict = not stats.unexpected
    for i in range(N):
        pts = [s for s in samples if s[1] == i]
        if pts:
            lines.append("node %d: rss %d-%d KB, fds %d-%d, pids %d" % (
                i, min(p[3] for p in pts), max(p[3] for p in pts), min(p[4] for p in pts),
                max(p[4] for p in pts), len(set(p[2] for p in pts))))
    for role in ("leader", "follower"):
        ok, why = bounded(role)
        lines.append("%s samples bounded: %s (%s)" % (role, "yes" if ok else "NO", why))
        verdict = verdict and ok
    for u in stats.unexpected[:20]:
        lines.append("unexpected: " + u)
    lines.append("verdict: " + ("PASS" if verdict else "FAIL"))
    with open(os.path.join(out_dir, "summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    for i in range(N):
        shutil.copy(os.path.join(tmp, "node%d.log" % i), out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if verdict else 1


if __name__ == "__main__":
    def on_signal(signum, frame):
        stop.set()
        for i in range(N):
            kill(i)
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.exit(main())
