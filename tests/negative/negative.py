#!/usr/bin/env python3
"""negative.py: malformed and hostile input against a live single-node vesperd.

Starts build/vesperd as node 0 of a one-line ip_list on NEG_PORT (default 17500)
with a temporary data directory, writes a sentinel key, and then sends every kind
of bad input: broken JSON, wrong types, deep nesting, huge numbers, invalid UTF-8,
NUL bytes, oversized bodies, wrong methods and paths, HTTP/1.0, pipelining, half
closed and reset connections, and forged peer batches on POST /raft (built by
build/neg-raftmsg with the real codec). Each case asserts a clear answer (a 4xx
whose body is JSON with "code":"fail" and an "error" field, or the documented
status for /raft) and then that the node still serves with the sentinel intact.

Cases that once exposed server bugs stay in as regressions (their docstrings say
which). Cases that could kill the node run last; the suite restarts it after them.
A second phase restarts the node with a cluster secret and replays the forged
peer messages with the secret, as a trusted but broken or malicious member would
send them: they reach the core, which must reject them without dying.

The node is build/vesperd-san (ASan+UBSan) unless VESPERD names another binary. It runs
with the sanitizers stopping at the first error (ASan and LSan write to their own files,
UBSan to the node log); every stop is a SIGTERM first (a clean exit runs the leak check),
and a last case, sanitizer_reports, fails on any report in those files or in the node log,
printing it.

Prints "ok NAME" / "FAIL NAME: why" per case and "N passed, N failed".
Environment: VESPERD (binary), RAFTMSG (helper), NEG_PORT.
"""
import atexit
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VESPERD = os.environ.get("VESPERD", os.path.join(ROOT, "build/vesperd-san"))
RAFTMSG = os.environ.get("RAFTMSG", os.path.join(ROOT, "build/neg-raftmsg"))
PORT = int(os.environ.get("NEG_PORT", "17500"))
HOST = "127.0.0.1"
SENTINEL_KEY = "neg-sentinel"
SENTINEL_VALUE = "intact \u00e9 value"

tmp = tempfile.mkdtemp(prefix="vesper-neg.")
SAN_DIR = os.path.join(tmp, "san")
SAN_REPORT = re.compile(r"ERROR: [A-Za-z]*Sanitizer|runtime error:|LeakSanitizer")
proc = None
PEER_SECRET = None  # set for the authenticated-peer phase


def cleanup():
    stop_node()
    shutil.rmtree(tmp, ignore_errors=True)


def on_signal(signum, frame):
    cleanup()
    sys.exit(1)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


# ---------- the node ----------

def start_node():
    global proc
    ip_list = os.path.join(tmp, "ip_list.txt")
    with open(ip_list, "w") as f:
        f.write("http://%s:%d\n" % (HOST, PORT))
    log = open(os.path.join(tmp, "vesperd.log"), "ab")
    env = dict(os.environ)
    env.pop("VESPER_CLUSTER_SECRET", None)
    os.makedirs(SAN_DIR, exist_ok=True)
    env["ASAN_OPTIONS"] = "log_path=%s/asan:halt_on_error=1:abort_on_error=1:detect_leaks=1" % SAN_DIR
    env["UBSAN_OPTIONS"] = "log_path=%s/ubsan:halt_on_error=1:abort_on_error=1:print_stacktrace=1" \
        % SAN_DIR
    if PEER_SECRET:
        env["VESPER_CLUSTER_SECRET"] = PEER_SECRET
    proc = subprocess.Popen([VESPERD, "0", ip_list, "--data-dir", os.path.join(tmp, "data"),
                             "--log-level", "warn"], stdout=log, stderr=log, env=env)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            st, _, body = request("GET", "/status")
            if st == 200 and json.loads(body).get("role") == "leader":
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError("vesperd did not become leader on port %d" % PORT)


def stop_node():
    """SIGTERM (a sanitized node checks for leaks on a clean exit), SIGKILL after 5 s."""
    global proc
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            print("     (vesperd ignored SIGTERM for 5 s; SIGKILL)")
            proc.kill()
            proc.wait()
    proc = None


def sanitizer_reports():
    """Every sanitizer report so far (sanitizer files and the node log), from its first line,
    at most 60 lines each."""
    out = []
    for path in sorted(glob.glob(os.path.join(SAN_DIR, "*"))) + [os.path.join(tmp, "vesperd.log")]:
        try:
            with open(path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        first = next((i for i, line in enumerate(lines) if SAN_REPORT.search(line)), None)
        if first is not None:
            out.append("%s:\n%s" % (os.path.basename(path), "\n".join(lines[first:first + 60])))
    return out


def print_log_tail(n=4):
    try:
        with open(os.path.join(tmp, "vesperd.log"), "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return
    for line in lines[-n:]:
        print("     | " + line[:300])


def node_alive():
    return proc is not None and proc.poll() is None


# ---------- HTTP over raw sockets ----------

def connect(timeout=5.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    return s


def read_response(s, buf=b""):
    """Reads one response from s (buf holds bytes already read). Returns
    (status, headers, body, rest) or raises EOFError when the peer closed first."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed before a response" if not buf else "closed mid-headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed mid-body")
            rest += chunk
        return status, headers, rest[:n], rest[n:]
    while True:  # no length: the body runs to the close
        chunk = s.recv(65536)
        if not chunk:
            return status, headers, rest, b""
        rest += chunk


def raw(data, timeout=5.0):
    s = connect(timeout)
    try:
        s.sendall(data)
        status, headers, body, _ = read_response(s)
        return status, headers, body
    finally:
        s.close()


def build(method, path, body=None, version="HTTP/1.1", extra=""):
    if isinstance(body, str):
        body = body.encode()
    req = "%s %s %s\r\nHost: %s:%d\r\n%s" % (method, path, version, HOST, PORT, extra)
    if body is not None:
        req += "Content-Length: %d\r\n" % len(body)
    return req.encode() + b"\r\n" + (body or b"")


def request(method, path, body=None, **kw):
    return raw(build(method, path, body, **kw))


def kv(method, obj):
    body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
    return request(method, "/request", body)


def expect_fail(resp, statuses, error=None):
    """A 4xx whose body is JSON {"code":"fail","error":...}."""
    status, headers, body = resp
    check(status in statuses, "status %d, want %s (body %r)" % (status, statuses, body[:200]))
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Fail("status %d body is not JSON: %r" % (status, body[:200]))
    check(isinstance(obj, dict) and obj.get("code") == "fail", "no code:fail in %r" % obj)
    check(isinstance(obj.get("error"), str), "no error field in %r" % obj)
    if error is not None:
        check(obj["error"] == error, "error %r, want %r" % (obj["error"], error))


def get_value(key, timeout=8.0):
    """The value of key, retrying through elections; None when not found."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            status, _, body = kv("POST", {"type": "get", "payload": {"key": key}})
            obj = json.loads(body.decode("utf-8"))
            if obj.get("code") == "success":
                return obj["payload"]["value"]
            if obj.get("error") == "not_found":
                return None
            last = obj
        except (OSError, EOFError, ValueError) as e:
            last = e
        time.sleep(0.1)
    raise Fail("node not serving reads: %r" % (last,))


def put(key, value, timeout=8.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            status, _, body = kv("PUT", {"payload": {"key": key, "value": value}})
            obj = json.loads(body.decode("utf-8"))
            if status == 200 and obj.get("code") == "success":
                return
            last = obj
        except (OSError, EOFError, ValueError) as e:
            last = e
        time.sleep(0.1)
    raise Fail("node not serving writes: %r" % (last,))


probe_n = 0


def assert_intact():
    """The node serves, the sentinel is unchanged, and a fresh write reads back."""
    global probe_n
    check(node_alive(), "vesperd died (exit %s)" % (proc.poll() if proc else "?"))
    v = get_value(SENTINEL_KEY)
    check(v == SENTINEL_VALUE, "sentinel is %r" % (v,))
    probe_n += 1
    put("neg-probe", "p%d" % probe_n)
    check(get_value("neg-probe") == "p%d" % probe_n, "probe write lost")
    st, _, body = request("GET", "/status")
    obj = json.loads(body)
    check(obj["commit_index"] <= obj["last_index"], "commit %d > last %d" % (
        obj["commit_index"], obj["last_index"]))


# ---------- forged peer messages ----------

def raftmsg(**fields):
    args = [RAFTMSG] + ["%s=%s" % (k, v) for k, v in fields.items()]
    return subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout


def status():
    return json.loads(request("GET", "/status")[2])


def post_raft(body):
    auth = "Authorization: Bearer %s\r\n" % PEER_SECRET if PEER_SECRET else ""
    return raw(build("POST", "/raft", body, extra=auth))


# ---------- cases ----------

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


@case
def truncated_json():
    for body in ['{"type":"put","payload":{"key":"a"', '{"type":"put","payload":{"key":"a","val',
                 '{', '"', '{"type":"put","payload":{"key":"a","value":"b"}}}', 'nul', '{}x']:
        expect_fail(kv("POST", body), (400,), "bad_request")


@case
def empty_and_non_object_bodies():
    for body in ["", " ", "null", "[]", "42", '"put"', "true"]:
        expect_fail(kv("POST", body), (400,), "bad_request")


@case
def wrong_types():
    bad = [
        {"type": 5, "payload": {"key": "a", "value": "b"}},
        {"type": "put", "payload": []},
        {"type": "put", "payload": "key=a"},
        {"type": "put", "payload": {"key": 7, "value": "b"}},
        {"type": "put", "payload": {"key": "a", "value": {"x": 1}}},
        {"type": "put", "payload": {"key": "a", "value": None}},
        {"type": "put", "payload": {"key": "a", "value": ["b"]}},
        {"type": "put", "payload": {"key": "", "value": "b"}},
        {"type": "cas", "payload": {"key": "a", "value": "b", "expected": 3}},
        {"type": "cas", "payload": {"key": "a", "value": "b"}},
        {"type": "put", "payload": {"key": "a", "value": "b"}, "client_id": "7", "seq": 1},
        {"type": "put", "payload": {"key": "a", "value": "b"}, "client_id": 7, "seq": 0},
        {"type": "put", "payload": {"key": "a", "value": "b"}, "client_id": 7},
        {"type": "put", "payload": {"key": "a", "value": "b"}, "client_id": -1, "seq": 1},
        {"type": "put", "payload": {"key": "a", "value": "b"}, "client_id": 1.5, "seq": 1},
        {"type": "get", "payload": {"key": "a", "consistency": 1}},
        {"type": "put", "payload": {"key": "a", "value": "b", "consistency": "stale"}},
        {"type": "frobnicate", "payload": {"key": "a"}},
        {"payload": {"key": "a"}},
    ]
    for obj in bad:
        try:
            expect_fail(kv("POST", obj), (400,), "bad_request")
        except Fail as e:
            raise Fail("%s: %s" % (json.dumps(obj), e))
    expect_fail(kv("GET", {"type": "put", "payload": {"key": "a", "value": "b"}}), (400,))


@case
def range_and_txn_malformed():
    bad = [
        {"type": "range", "payload": {}},
        {"type": "range", "payload": {"prefix": "a", "start": "a"}},
        {"type": "range", "payload": {"prefix": "a", "limit": 0}},
        {"type": "range", "payload": {"prefix": "a", "limit": 10001}},
        {"type": "range", "payload": {"prefix": "a", "after": 3}},
        {"type": "range", "payload": {"prefix": "a", "count_only": "yes"}},
        {"type": "txn", "payload": {"compare": "x"}},
        {"type": "txn", "payload": {"compare": [{"key": "a", "target": "size", "value": 1}]}},
        {"type": "txn", "payload": {"compare": [{"key": "a", "target": "exists", "op": ">",
                                                 "value": True}]}},
        {"type": "txn", "payload": {"compare": [{"key": "a", "target": "version",
                                                 "value": "1"}]}},
        {"type": "txn", "payload": {"success": [{"op": "put", "key": "a"}]}},
        {"type": "txn", "payload": {"success": [{"op": "get", "key": ""}]}},
        {"type": "txn", "payload": {"failure": [{"op": "scan", "key": "a"}]}},
        {"type": "txn", "payload": {"success": [{"op": "get", "key": "a"}] * 65}},
        {"type": "get", "payload": {"key": "a"}, "revisions": 1},
    ]
    for obj in bad:
        try:
            status, _, body = kv("POST", obj)
            expect_fail((status, _, body), (400,), "bad_request")
            check(json.loads(body).get("message"), "no message in %r" % body)
        except Fail as e:
            raise Fail("%s: %s" % (json.dumps(obj)[:120], e))
    expect_fail(kv("GET", {"type": "txn", "payload": {}}), (400,), "bad_request")
    big = [{"op": "put", "key": "k%d" % i, "value": "v" * 20000} for i in range(60)]
    expect_fail(kv("POST", {"type": "txn", "payload": {"success": big}}), (413,), "too_large")
    # The store still answers ranges and transactions.
    status, _, body = kv("POST", {"type": "txn", "payload": {
        "compare": [{"key": SENTINEL_KEY, "target": "value", "value": SENTINEL_VALUE}],
        "success": [{"op": "get", "key": SENTINEL_KEY}]}})
    obj = json.loads(body)
    check(status == 200 and obj["payload"]["succeeded"] is True, "txn %r" % obj)
    status, _, body = kv("GET", {"type": "range", "payload": {"prefix": SENTINEL_KEY}})
    obj = json.loads(body)
    check(status == 200 and obj["payload"]["kvs"][0]["value"] == SENTINEL_VALUE, "range %r" % obj)


@case
def deep_nesting_10000():
    for body in ["[" * 10000 + "]" * 10000, '{"a":' * 10000 + "1" + "}" * 10000,
                 '{"type":"put","payload":' + '{"k":' * 10000 + "}" * 10000 + "}",
                 "[" * 10000]:
        expect_fail(kv("POST", body), (400,), "bad_request")


@case
def huge_numbers():
    for num in ["1e400", "-1e400", "1.5", "0x10", "NaN", "Infinity", "-1"]:
        body = '{"type":"put","payload":{"key":"n","value":"v"},"client_id":%s,"seq":1}' % num
        try:
            expect_fail(kv("POST", body), (400,), "bad_request")
        except Fail as e:
            raise Fail("client_id %s: %s" % (num[:30], e))
    body = '{"type":"put","payload":{"key":"n","value":%s}}' % ("9" * 100000)
    expect_fail(kv("POST", body), (400,), "bad_request")
    # The largest legal id works.
    body = '{"type":"put","payload":{"key":"n","value":"v"},"client_id":%d,"seq":1}' % (2 ** 64 - 1)
    st, _, reply = kv("POST", body)
    check(st == 200 and json.loads(reply)["code"] == "success", "client_id 2^64-1: %r" % reply)


@case
def integers_past_uint64_rejected():
    """Regression (a server bug, fixed): json-c saturates out-of-range integers, and get_u64
    (src/api/api.c) takes the saturated value, so client_id 2^64 or 10^29 silently
    becomes another client's id (INT64_MAX / UINT64_MAX) instead of a 400."""
    accepted = []
    for num in ["18446744073709551616", "99999999999999999999999999999", "1" * 5000]:
        body = '{"type":"put","payload":{"key":"n","value":"v"},"client_id":%s,"seq":1}' % num
        if kv("POST", body)[0] != 400:
            accepted.append(num[:30])
    check(not accepted, "accepted client_id %s" % ", ".join(accepted))


@case
def invalid_utf8_rejected_or_round_trips():
    """A key with invalid UTF-8 is either refused with 400 or stored, and then every
    reply about it must still be valid JSON (RFC 8259 requires UTF-8)."""
    body = b'{"type":"put","payload":{"key":"bad-\xff\xfe-\xc3","value":"v\xed\xa0\x80"}}'
    status, _, reply = kv("POST", body)
    if status == 400:
        expect_fail((status, {}, reply), (400,), "bad_request")
        return
    check(status == 200, "status %d" % status)
    get = b'{"type":"get","payload":{"key":"bad-\xff\xfe-\xc3"}}'
    status, _, reply = kv("POST", get)
    try:
        json.loads(reply.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Fail("SERVER-BUG: reply to a get of an invalid-UTF-8 key is not valid JSON: %r"
                   % reply[:120])


@case
def nul_bytes_in_keys():
    # Escaped NUL: a legal JSON string; the key must round-trip byte for byte.
    put("nul\u0000key", "with-nul")
    check(get_value("nul\u0000key") == "with-nul", "escaped-NUL key did not round-trip")
    check(get_value("nul") is None, "key truncated at the NUL")
    # A raw NUL inside a string is not JSON.
    body = b'{"type":"put","payload":{"key":"raw\x00nul","value":"v"}}'
    expect_fail(kv("POST", body), (400,), "bad_request")
    # Raw control bytes are not JSON either; json-c accepts them (lenient, not strict
    # mode). Either answer is fine as long as the key is stored exactly as sent.
    body = b'{"type":"put","payload":{"key":"ctl\x01\x1f","value":"v"}}'
    if kv("POST", body)[0] == 200:
        check(get_value("ctl\x01\x1f") == "v", "raw control-byte key stored differently")
    # A NUL right after the JSON document is trailing garbage.
    body = b'{"type":"put","payload":{"key":"a","value":"b"}}\x00'
    expect_fail(kv("POST", body), (400,), "bad_request")


@case
def key_and_value_over_limits():
    expect_fail(kv("PUT", {"payload": {"key": "k" * 1025, "value": "v"}}), (413,), "too_large")
    expect_fail(kv("PUT", {"payload": {"key": "big", "value": "v" * (1024 * 1024 + 1)}}), (413,),
                "too_large")


def send_body_until_closed(total, chunk=1 << 20):
    """Announces total bytes and streams them. Returns the response, or None when the
    server closed the connection instead of answering."""
    s = connect(timeout=20)
    try:
        s.sendall(("PUT /request HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % total).encode())
        sent = 0
        block = b"{" + b" " * (chunk - 1)
        try:
            while sent < total:
                n = min(chunk, total - sent)
                s.sendall(block[:n])
                sent += n
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            status, headers, body, _ = read_response(s)
            return status, headers, body
        except (EOFError, ConnectionResetError, socket.timeout):
            return None
    finally:
        s.close()


@case
def body_100mb():
    resp = send_body_until_closed(100 * 1024 * 1024)
    if resp is not None:
        check(resp[0] == 413, "status %d for a 100 MB body" % resp[0])


@case
def body_just_over_max_body_bytes():
    resp = send_body_until_closed(4 * 1024 * 1024 + 1)
    if resp is not None:
        check(resp[0] == 413, "status %d for a 4 MiB + 1 body" % resp[0])


@case
def body_100mb_json_413():
    """Regression (a server bug, fixed): the 413 for an oversized body should be the protocol's
    {"code":"fail","error":"too_large"}, not h2o's plain-text page."""
    resp = send_body_until_closed(8 * 1024 * 1024)
    check(resp is not None, "connection closed without a response")
    expect_fail(resp, (413,), "too_large")


@case
def refused_body_written_whole_before_reading():
    """Regression (a server bug, fixed): after refusing an oversized body with 413, the
    server closed while the client was still sending, so a client that writes the whole
    body before reading got ECONNRESET/EPIPE instead of the answer. The rest of the body
    is now drained (bounded) before the close."""
    total = 8 * 1024 * 1024
    s = connect(timeout=20)
    try:
        data = (("PUT /request HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total)
                .encode() + b"{" + b" " * (total - 1))
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Fail("sending the refused body failed: %r" % e)
        status, headers, body, _ = read_response(s)
    finally:
        s.close()
    expect_fail((status, headers, body), (413,), "too_large")


@case
def connection_burst_accepted_in_one_turn():
    """Regression (a server bug, fixed): one connection was accepted per turn of the
    loop, and most turns hold an fsync, so a burst of connections waited behind many
    turns. While the node is stopped, 40 connections queue in the kernel; when it
    runs again it must take more than one of them in a single turn."""
    socks = []
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        for _ in range(40):
            socks.append(socket.create_connection(("127.0.0.1", PORT), timeout=5))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    time.sleep(0.3)
    for s in socks:
        s.close()
    st, _, body = request("GET", "/metrics")
    check(st == 200, "GET /metrics status %d" % st)
    m = re.search(rb"^vesper_connections_accept_batch_max (\d+)", body, re.M)
    check(m is not None, "no vesper_connections_accept_batch_max in /metrics")
    check(int(m.group(1)) > 1, "largest accept batch %s: one connection per turn" % m.group(1))


@case
def wrong_methods():
    for m in ["PATCH", "OPTIONS", "TRACE", "FOO"]:
        expect_fail(kv(m, {"type": "get", "payload": {"key": "a"}}), (405,), "method_not_allowed")
    st, _, _ = request("GET", "/raft")
    check(st == 405, "GET /raft status %d" % st)


@case
def head_requests():
    """HEAD answers headers only and never stops the node (h2o copied a bodiless
    response's buffers from a null pointer, which stops the sanitizer build)."""
    for path in ["/health", "/status", "/ui", "/metrics", "/request", "/nope"]:
        s = connect()
        try:
            s.sendall(build("HEAD", path))
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                check(chunk, "HEAD %s: closed before the headers" % path)
                buf += chunk
            st = int(buf.split(b"\r\n", 1)[0].split()[1])
            check(100 <= st < 600, "HEAD %s: status %d" % (path, st))
        finally:
            s.close()
        check(node_alive(), "node died after HEAD %s" % path)
    assert_intact()


@case
def unknown_paths_404_json():
    """Regression (a server bug, fixed): unknown paths answer h2o's text/plain "not found"."""
    for path in ["/nope", "/requestx", "/", "/%00", "/" + "a" * 4000]:
        try:
            expect_fail(request("GET", path), (404,))
        except Fail as e:
            raise Fail("%s: %s" % (path[:20], e))


@case
def http_1_0():
    st, _, body = raw(build("GET", "/status", version="HTTP/1.0"))
    check(st == 200 and json.loads(body)["role"] == "leader", "HTTP/1.0 /status: %d" % st)
    st, _, body = raw(build("PUT", "/request", '{"payload":{"key":"h10","value":"x"}}',
                            version="HTTP/1.0"))
    check(st == 200 and json.loads(body)["code"] == "success", "HTTP/1.0 PUT: %d %r" % (st, body))
    check(get_value("h10") == "x", "HTTP/1.0 write lost")
    st, _, body = raw(b"GET /status HTTP/0.9\r\n\r\n")
    check(400 <= st < 600 or st == 200, "HTTP/0.9: %d" % st)


@case
def pipelined_requests():
    reqs = (build("PUT", "/request", '{"payload":{"key":"pipe","value":"1"}}') +
            build("POST", "/request", '{"type":"get","payload":{"key":"pipe"}}') +
            build("POST", "/request", '{"type":"get","payload":{"key":"%s"}}' % SENTINEL_KEY) +
            build("POST", "/request", "{broken") +
            build("GET", "/status"))
    s = connect()
    try:
        s.sendall(reqs)
        rest = b""
        out = []
        for _ in range(5):
            st, _, body, rest = read_response(s, rest)
            out.append((st, body))
    finally:
        s.close()
    check(out[0][0] == 200 and json.loads(out[0][1])["code"] == "success", "put %r" % (out[0],))
    check(json.loads(out[1][1]).get("payload", {}).get("value") == "1", "get %r" % (out[1],))
    check(json.loads(out[2][1])["payload"]["value"] == SENTINEL_VALUE, "sentinel %r" % (out[2],))
    check(out[3][0] == 400, "broken %r" % (out[3],))
    check(out[4][0] == 200 and "role" in json.loads(out[4][1]), "status %r" % (out[4],))


@case
def half_closed_connections():
    # A whole request, then shutdown(SHUT_WR): the answer must still come (or a clean close).
    s = connect()
    s.sendall(build("POST", "/request", '{"type":"get","payload":{"key":"%s"}}' % SENTINEL_KEY))
    s.shutdown(socket.SHUT_WR)
    try:
        st, _, body, _ = read_response(s)
        check(st == 200, "status %d after half close" % st)
    except EOFError:
        pass
    s.close()
    # Half a request, then shutdown: the server must drop it.
    for partial in [b"PUT /request HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pay",
                    b"PUT /requ", b"POST /raft HTTP/1.1\r\nContent-Length: 9999\r\n\r\n\x01"]:
        s = connect()
        s.sendall(partial)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(15)
        try:
            while s.recv(65536):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()


@case
def reset_connections():
    linger = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {1, 0}: close sends RST
    for i in range(100):
        s = connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        body = b'{"type":"put","payload":{"key":"rst%d","value":"%s"}}' % (i, b"x" * 1000)
        cut = [10, 40, len(body) // 2, len(body) + 60][i % 4]
        s.sendall((build("PUT", "/request", body) + build("GET", "/status"))[:cut])
        s.close()


@case
def garbage_request_lines():
    for data in [b"\x00\x01\x02garbage\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"PUT /request HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"PUT /request HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                 b"PUT /request HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 b"GET /status HTTP/1.1\r\nX: " + b"a" * (8 << 20) + b"\r\n\r\n",
                 b"GET /status HTTP/1.1\r\n" + b"X: y\r\n" * 200000 + b"\r\n"]:
        try:
            st, _, _ = raw(data, timeout=10)
            check(400 <= st < 500, "status %d for %r" % (st, data[:40]))
        except (EOFError, ConnectionResetError, BrokenPipeError, socket.timeout):
            pass  # closing the connection is a fine answer to garbage


@case
def chunked_body_accepted():
    body = b'{"payload":{"key":"chunked","value":"ok"}}'
    data = (b"PUT /request HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    st, _, reply = raw(data)
    check(st == 200 and json.loads(reply)["code"] == "success", "%d %r" % (st, reply))
    check(get_value("chunked") == "ok", "chunked write lost")


# ----- POST /raft -----

@case
def raft_garbage_bodies():
    for body in [b"", b"\x00", b"\x02\x00\x00\x00\x00", b"\x01\xff\xff\x00\x00",
                 b"\x01\x01\x00\x00\x00" + b"\xff" * 40, os.urandom(4096),
                 b'{"type":"append"}']:
        st, _, _ = post_raft(body)
        check(st == 400, "status %d for %r" % (st, body[:16]))


@case
def raft_batch_count_lies():
    good = raftmsg(type="heartbeat", **{"from": 1}, to=0, term=1)
    lie = good[:1] + (2).to_bytes(4, "little") + good[5:]
    check(post_raft(lie)[0] == 400, "count 2 with one message accepted")
    check(post_raft(good + b"\x00")[0] == 400, "trailing byte accepted")


@case
def raft_wrong_recipient():
    st, _, _ = post_raft(raftmsg(type="append", **{"from": 1}, to=5, term=999, index=1,
                                 log_term=1, commit=99, entries=1, put="%s:HIJACK" % SENTINEL_KEY))
    check(st == 204, "status %d" % st)


@case
def raft_unknown_node_vote_higher_term():
    t = status()["term"]
    st, _, _ = post_raft(raftmsg(type="vote", **{"from": 9}, to=0, term=t + 1000, index=10 ** 9,
                                 log_term=t + 999))
    check(st == 204, "status %d" % st)


@case
def raft_unknown_node_stale_and_zero_terms():
    for term in [0, 1]:
        for typ in ["append", "heartbeat", "vote_resp", "append_resp", "heartbeat_resp",
                    "snapshot_resp", "timeout_now"]:
            st, _, _ = post_raft(raftmsg(type=typ, **{"from": 9}, to=0, term=term, index=1,
                                         commit=10 ** 6, granted=1))
            check(st == 204, "%s term %d: status %d" % (typ, term, st))


@case
def raft_append_wrong_indexes():
    s = status()
    t = s["term"]
    for prev in [10 ** 9, s["last_index"] + 1, 2 ** 64 - 2]:
        st, _, _ = post_raft(raftmsg(type="append", **{"from": 9}, to=0, term=t, index=prev,
                                     log_term=t, commit=2 ** 63, entries=2,
                                     put="%s:HIJACK" % SENTINEL_KEY))
        check(st == 204, "prev %d: status %d" % (prev, st))


@case
def raft_heartbeat_huge_commit_from_unknown_node():
    t = status()["term"]
    st, _, _ = post_raft(raftmsg(type="heartbeat", **{"from": 9}, to=0, term=t + 1,
                                 commit=2 ** 63, seq=5, count=50))
    check(st == 204, "status %d" % st)


@case
def raft_append_from_non_member_must_not_write():
    """Regression (a server bug, fixed): an APPEND from node 9 (not in the ip_list) with a
    higher term and a matching prev entry is accepted and applied, overwriting a key:
    any host that can reach /raft can write. Guarded by the cluster secret or, without
    one, by the membership check of m->from."""
    s = status()
    st, _, _ = post_raft(raftmsg(type="append", **{"from": 9}, to=0, term=s["term"] + 1,
                                 index=s["last_index"], log_term=s["term"],
                                 commit=s["last_index"] + 1, entries=1,
                                 put="%s:HIJACKED" % SENTINEL_KEY))
    check(st == 204, "status %d" % st)
    time.sleep(0.3)
    v = get_value(SENTINEL_KEY)
    if v != SENTINEL_VALUE:
        put(SENTINEL_KEY, SENTINEL_VALUE)  # repair so later cases test their own attack
        raise Fail("non-member APPEND overwrote the sentinel with %r" % v)


# Cases below may kill the node; the runner restarts it after each.

@case
def raft_garbage_snapshot_must_not_kill_node():
    """Regression (a server bug, fixed): a forged InstallSnapshot (any term above ours, done=1,
    64 garbage bytes) makes storage_snapshot_recv_finish return STORAGE_ECORRUPT,
    which storage.h documents as a rejected transfer, but the Ready loop passed
    it to check() -> node_fatal: the node exits 1. (A snapshot whose CRC holds but
    whose kv payload does not decode dies the same way when loaded.)"""
    t = status()["term"]
    try:
        post_raft(raftmsg(type="snapshot", **{"from": 9}, to=0, term=t + 2,
                          snap_index=10 ** 6, snap_term=t + 2, snap_size=64, offset=0,
                          len=64, done=1, conf=1))
    except (EOFError, ConnectionResetError):
        pass
    time.sleep(0.3)
    check(node_alive(), "vesperd exited on a garbage snapshot")


@case
def raft_garbage_conf_entry():
    """Regression (a server bug, fixed): a forged APPEND carrying a CONF entry whose bytes are
    not a configuration is accepted and committed; applying it is fatal
    (the Ready loop's "undecodable configuration entry"), and since the entry is
    in the WAL the node dies again at every restart."""
    s = status()
    try:
        post_raft(raftmsg(type="append", **{"from": 9}, to=0, term=s["term"] + 1,
                          index=s["last_index"], log_term=s["term"],
                          commit=s["last_index"] + 1, entries=1, entry_type="conf",
                          put="garbage:conf"))
    except (EOFError, ConnectionResetError):
        pass
    time.sleep(0.3)
    check(node_alive(), "vesperd died applying a garbage configuration entry")

@case
def raft_append_decreasing_entry_terms():
    """Regression (a server bug, fixed): tests/fuzz/corpus/raft/append-term-decreases on the
    wire. An APPEND whose entries' terms go down trips the assertion in
    raft__log_append (src/raft/log.c:69): one forged message aborts the node."""
    s = status()
    t = s["term"] + 1
    body = raftmsg(type="append", **{"from": 9}, to=0, term=t, index=s["last_index"],
                   log_term=s["term"], commit=0, entries=1, entry_term=t + 40)
    second = raftmsg(type="append", **{"from": 9}, to=0, term=t, index=s["last_index"] + 1,
                     log_term=t + 40, commit=0, entries=1, entry_term=t)
    # One batch with both messages, so no election can intervene.
    batch = b"\x01" + (2).to_bytes(4, "little") + body[5:] + second[5:]
    try:
        post_raft(batch)
    except (EOFError, ConnectionResetError):
        pass
    time.sleep(0.3)
    check(node_alive(), "vesperd aborted on an APPEND with decreasing entry terms")


@case
def raft_term_overflow():
    """Regression (a server bug, fixed): tests/fuzz/corpus/raft/term-overflow on the wire. A
    message with term 2^64-1 is adopted; the next election's term++ wraps to 0."""
    try:
        post_raft(raftmsg(type="heartbeat_resp", **{"from": 9}, to=0, term=2 ** 64 - 1))
    except (EOFError, ConnectionResetError):
        pass
    time.sleep(2.0)  # several election timeouts
    check(node_alive(), "vesperd died after a term-2^64-1 message")
    st = status()
    check(st["term"] != 0, "term wrapped to 0: %r" % st)
    check(st["role"] == "leader", "no leader after a term-2^64-1 message: %r" % st)


def main():
    for path in (VESPERD, RAFTMSG):
        if not os.access(path, os.X_OK):
            print("negative: %s missing (make build/vesperd-san build/neg-raftmsg)" % path)
            print("0 passed, 1 failed")
            return 1
    start_node()
    put(SENTINEL_KEY, SENTINEL_VALUE)
    passed = failed = 0
    p, f = run_cases(CASES)
    passed += p
    failed += f
    # Phase 2: an authenticated peer sends the same garbage; the membership filter
    # no longer stops it, so the core and the shell's own checks must.
    global PEER_SECRET
    stop_node()
    PEER_SECRET = "neg-secret"
    start_node()
    put(SENTINEL_KEY, SENTINEL_VALUE)
    st, _, _ = raw(build("POST", "/raft", b"x"))
    if st == 401:
        print("ok   raft_without_secret_is_401")
        passed += 1
    else:
        print("FAIL raft_without_secret_is_401: status %d" % st)
        failed += 1
    p, f = run_cases([c for c in CASES if c.__name__ in TRUSTED_PEER_CASES], "trusted_peer_")
    passed, failed = passed + p, failed + f
    stop_node()
    reports = sanitizer_reports()
    if reports:
        print("FAIL sanitizer_reports: %d report(s):" % len(reports))
        for r in reports:
            print("\n".join("     | " + line[:300] for line in r.splitlines()))
        failed += 1
    else:
        print("ok   sanitizer_reports (%s)" % os.path.basename(VESPERD))
        passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


TRUSTED_PEER_CASES = ("raft_garbage_snapshot_must_not_kill_node", "raft_garbage_conf_entry",
                      "raft_append_decreasing_entry_terms", "raft_term_overflow",
                      "raft_garbage_bodies", "raft_batch_count_lies",
                      "raft_append_wrong_indexes")


def run_cases(cases, prefix=""):
    passed = failed = 0
    for fn in cases:
        name = prefix + fn.__name__
        try:
            fn()
            assert_intact()
            print("ok   %s" % name)
            passed += 1
        except (Fail, OSError, EOFError, ValueError, KeyError, subprocess.CalledProcessError) as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
            if not node_alive():
                print("     (vesperd died, exit %s; its last log lines:)" % proc.poll())
                print_log_tail()
                stop_node()
                try:
                    start_node()
                except RuntimeError as e:
                    # The dead node left a data directory it cannot start from: note
                    # it, then continue on a fresh directory.
                    print("FAIL %s_restart: %s; log:" % (name, e))
                    print_log_tail()
                    failed += 1
                    stop_node()
                    shutil.rmtree(os.path.join(tmp, "data"), ignore_errors=True)
                    start_node()
                put(SENTINEL_KEY, SENTINEL_VALUE)
        sys.stdout.flush()
    return passed, failed


if __name__ == "__main__":
    sys.exit(main())
