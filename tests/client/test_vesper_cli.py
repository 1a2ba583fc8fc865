#!/usr/bin/env python3
"""test_vesper_cli.py: build/vesper against stub /request servers (no vesperd needed).

Each stub is a tiny HTTP server whose replies are scripted per test: leader,
follower redirect, election (no_leader), errors. The tests check what the CLI
sends on the wire (method, JSON body, headers, seq reuse across retries), what
it prints, and its exit status. Prints "N passed, N failed" for tests/run.sh.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VESPER = os.environ.get("VESPER", "build/vesper")


class Stub:
    """One fake node. script(req, n) -> (status, body[, content_type]); body is str or
    bytes, the content type application/json unless given; req has method, body, headers."""

    def __init__(self):
        self.requests = []
        self.script = lambda req, n: (200, '{"code":"success"}')
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length) if length else b""
                req = {"method": self.command, "path": self.path, "raw": raw,
                       "headers": dict(self.headers)}
                try:
                    req["body"] = json.loads(raw)
                except ValueError:
                    req["body"] = None
                stub.requests.append(req)
                answer = stub.script(req, len(stub.requests))
                status, body = answer[0], answer[1]
                data = body if isinstance(body, bytes) else body.encode()
                self.send_response(status)
                self.send_header("Content-Type",
                                 answer[2] if len(answer) > 2 else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def dead_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return "http://127.0.0.1:%d" % port


def vesper(*args, timeout=20):
    t0 = time.monotonic()
    p = subprocess.run([VESPER, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


@test
def v1_put_wire_format(a, b):
    rc, out, err, _ = vesper(a.url, "name", "Leslie Lamport")
    check(rc == 0, "exit %d %s" % (rc, err))
    check(out == '{"code":"success"}\n', "stdout %r" % out)
    r = a.requests[-1]
    check(r["method"] == "PUT" and r["path"] == "/request", "method/path %s %s" % (r["method"], r["path"]))
    body = r["body"]
    check(body["type"] == "put" and body["payload"] == {"key": "name", "value": "Leslie Lamport"},
          "body %r" % body)
    check(isinstance(body["client_id"], int) and body["seq"] == 1, "session %r" % body)
    check("Expect" not in r["headers"], "Expect header sent")
    check(r["headers"].get("Content-Type") == "application/json", "content type")


@test
def v1_get_prints_value(a, b):
    a.script = lambda req, n: (200, '{"code":"success","payload":{"key":"name","value":"L"}}')
    rc, out, _, _ = vesper(a.url, "name")
    check(rc == 0 and out == '{"code":"success","payload":{"key":"name","value":"L"}}\n', out)
    r = a.requests[-1]
    check(r["method"] == "GET" and r["body"] == {"type": "get", "payload": {"key": "name"}},
          "get body %r" % r["body"])


@test
def follows_leader_redirect(a, b):
    a.script = lambda req, n: (200, json.dumps(
        {"code": "fail", "error": "not_leader",
         "payload": dict(req["body"]["payload"], message=b.url)}, separators=(",", ":")))
    rc, out, _, _ = vesper(a.url, "k", "v")
    check(rc == 0 and out == '{"code":"success"}\n', "rc %d out %r" % (rc, out))
    check(len(a.requests) == 1 and len(b.requests) == 1, "request counts")
    check(a.requests[0]["raw"] == b.requests[0]["raw"], "same body at the leader")


@test
def retries_through_election_with_same_seq(a, b):
    a.script = lambda req, n: ((200, '{"code":"fail","error":"no_leader"}') if n <= 2
                               else (200, '{"code":"success"}'))
    rc, out, err, _ = vesper("put", "k", "v", "--endpoints", a.url, "--client-id", "77",
                             "--seq", "9")
    check(rc == 0, "rc %d %s" % (rc, err))
    check(len(a.requests) == 3, "attempts %d" % len(a.requests))
    bodies = {r["raw"] for r in a.requests}
    check(len(bodies) == 1, "retries must resend the same body")
    check(a.requests[0]["body"]["client_id"] == 77 and a.requests[0]["body"]["seq"] == 9, "ids")


@test
def fails_over_past_dead_node(a, b):
    rc, out, err, _ = vesper("get", "k", "--endpoints", dead_url() + "," + b.url)
    check(rc == 0 and len(b.requests) == 1, "rc %d %s" % (rc, err))


@test
def ip_list_file(a, b):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ip_list.txt")
        with open(path, "w") as f:
            f.write(dead_url() + "\n\n" + b.url + "\n")
        rc, _, err, _ = vesper("delete", "k", "--ip-list", path)
    check(rc == 0, "rc %d %s" % (rc, err))
    r = b.requests[-1]
    check(r["method"] == "PUT" and r["body"]["type"] == "delete", "delete body %r" % r["body"])


@test
def not_found_exits_1(a, b):
    a.script = lambda req, n: (200, '{"code":"fail","error":"not_found"}')
    rc, out, _, _ = vesper(a.url, "missing")
    check(rc == 1 and out == '{"code":"fail","error":"not_found"}\n', "rc %d %r" % (rc, out))
    check(len(a.requests) == 1, "no retry on a definite fail")


@test
def v1_server_plain_fail_exits_1(a, b):
    a.script = lambda req, n: (200, '{"code":"fail"}')
    rc, out, _, _ = vesper(a.url, "k")
    check(rc == 1 and out == '{"code":"fail"}\n' and len(a.requests) == 1, "rc %d" % rc)


@test
def bad_request_400_exits_1(a, b):
    a.script = lambda req, n: (400, '{"code":"fail","error":"bad_request","message":"x"}')
    rc, _, _, _ = vesper(a.url, "k", "v")
    check(rc == 1 and len(a.requests) == 1, "rc %d" % rc)


@test
def all_down_exits_2_by_deadline(a, b):
    rc, out, err, secs = vesper("get", "k", "--endpoints", dead_url() + "," + dead_url(),
                                "--timeout", "0.5")
    check(rc == 2 and out == "" and "deadline exceeded" in err, "rc %d err %r" % (rc, err))
    check(secs < 3, "took %.1fs" % secs)


@test
def endless_election_exits_1_at_deadline(a, b):
    a.script = lambda req, n: (200, '{"code":"fail","error":"no_leader"}')
    rc, out, _, secs = vesper(a.url, "k", "v", "--timeout", "0.6")
    check(rc == 1 and "no_leader" in out, "rc %d out %r" % (rc, out))
    check(1 < len(a.requests) < 40 and secs < 3, "attempts %d in %.1fs" % (len(a.requests), secs))


@test
def non_vesper_reply_is_retried_elsewhere(a, b):
    a.script = lambda req, n: (502, "<html>bad gateway</html>")
    rc, _, err, _ = vesper("get", "k", "--endpoints", a.url + "," + b.url)
    check(rc == 0 and len(b.requests) == 1, "rc %d %s" % (rc, err))


@test
def cas_and_stale_bodies(a, b):
    rc, _, _, _ = vesper("cas", "k", "old", "new", "--endpoints", a.url)
    check(rc == 0, "cas rc")
    check(a.requests[-1]["body"]["payload"] == {"key": "k", "value": "new", "expected": "old"},
          "cas payload %r" % a.requests[-1]["body"])
    rc, _, _, _ = vesper("cas", "--absent", "k", "new", "--endpoints", a.url)
    check(rc == 0 and a.requests[-1]["body"]["payload"] == {"key": "k", "value": "new",
                                                             "expected": None}, "cas absent")
    rc, _, _, _ = vesper("get", "k", "--stale", "--endpoints", a.url)
    check(rc == 0 and a.requests[-1]["body"]["payload"].get("consistency") == "stale", "stale")
    rc, _, _, _ = vesper("put", "k", "v", "--no-session", "--endpoints", a.url)
    check(rc == 0 and "seq" not in a.requests[-1]["body"], "no-session")


@test
def usage_errors_exit_2(a, b):
    for args in ([], ["get"], ["put", "k"], ["cas", "k", "v"],
                 [a.url, "k", "v", "extra"], ["get", "k", "--timeout", "x", "--endpoints", a.url],
                 ["get", "", "--endpoints", a.url], ["--bogus", a.url, "k"]):
        env = dict(os.environ)
        env.pop("VESPER_ENDPOINTS", None)
        p = subprocess.run([VESPER, *args], capture_output=True, text=True, env=env, timeout=10)
        check(p.returncode == 2, "args %r exit %d" % (args, p.returncode))
    check(len(a.requests) == 0, "usage errors must not send")
    p = subprocess.run([VESPER, "--", a.url, "-k", "-v"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and a.requests[-1]["body"]["payload"] == {"key": "-k", "value": "-v"},
          "-- ends options")


@test
def list_pages_with_after(a, b):
    pages = {None: ('[{"key":"p1","value":"1","create_revision":1,"mod_revision":1,"version":1}]',
                    "true"),
             "p1": ('[{"key":"p2","value":"2","create_revision":2,"mod_revision":3,"version":2}]',
                    "false")}

    def script(req, n):
        pl = req["body"]["payload"]
        kvs, more = pages[pl.get("after")]
        return 200, ('{"code":"success","payload":{"kvs":%s,"count":%d,"more":%s,"revision":%d}}'
                     % (kvs, 2 if pl.get("after") is None else 1, more, 3))
    a.script = script
    rc, out, err, _ = vesper("list", "p", "--limit", "1", "--all", "--endpoints", a.url)
    check(rc == 0, "list --all rc %d %s" % (rc, err))
    reply = json.loads(out)
    check([kv["key"] for kv in reply["payload"]["kvs"]] == ["p1", "p2"], "merged %r" % out)
    check(reply["payload"]["more"] is False and reply["payload"]["count"] == 2, "count %r" % out)
    check(len(a.requests) == 2 and a.requests[0]["method"] == "GET", "two GET pages")
    check(a.requests[0]["body"] == {"type": "range", "payload": {"prefix": "p", "limit": 1}},
          "first page %r" % a.requests[0]["body"])
    check(a.requests[1]["body"]["payload"]["after"] == "p1", "second page after the last key")
    rc, out, _, _ = vesper("list", "p", "--keys-only", "--stale", "--endpoints", a.url)
    check(rc == 0 and a.requests[-1]["body"]["payload"] == {"prefix": "p", "keys_only": True,
                                                             "consistency": "stale"}, "one page")


@test
def txn_and_revisions_bodies(a, b):
    payload = {"compare": [{"key": "k", "target": "version", "value": 0}],
               "success": [{"op": "put", "key": "k", "value": "v"}]}
    rc, _, err, _ = vesper("txn", json.dumps(payload), "--endpoints", a.url)
    check(rc == 0, "txn rc %d %s" % (rc, err))
    body = a.requests[-1]["body"]
    check(body["type"] == "txn" and body["payload"] == payload and body["seq"] >= 1,
          "txn body %r" % body)
    p = subprocess.run([VESPER, "txn", "--endpoints", a.url], input=json.dumps(payload),
                       capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and a.requests[-1]["body"]["payload"] == payload, "txn from stdin")
    n = len(a.requests)
    rc, _, _, _ = vesper("txn", "[1]", "--endpoints", a.url)
    check(rc == 2 and len(a.requests) == n, "a txn that is not an object is a usage error")
    rc, _, _, _ = vesper("get", "k", "-w", "--endpoints", a.url)
    check(rc == 0 and a.requests[-1]["body"].get("revisions") is True, "get -w")
    rc, _, _, _ = vesper("get", "k", "--endpoints", a.url)
    check(rc == 0 and "revisions" not in a.requests[-1]["body"], "plain get unchanged")


def vesper_in(cwd, *args, env_extra=None, timeout=20):
    """Runs the CLI in cwd without $VESPER_ENDPOINTS (unless env_extra sets it)."""
    env = dict(os.environ)
    env.pop("VESPER_ENDPOINTS", None)
    env.update(env_extra or {})
    p = subprocess.run([os.path.abspath(VESPER), *args], capture_output=True, text=True,
                       env=env, cwd=cwd,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@test
def misspelled_subcommand_is_a_usage_error(a, b):
    """Regression: `vesper --ip-list F snapshot save /tmp/x`, before `snapshot` was a
    command, was taken as the v1 form ADDRESS KEY VALUE and PUT key "save" = "/tmp/x"
    with exit 0. The same for any word that is not a command."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ip_list.txt")
        with open(path, "w") as f:
            f.write(a.url + "\n")
        for word, args in (("snapshots", ["--ip-list", path, "snapshots", "save", "/tmp/x"]),
                           ("backup", ["--ip-list", path, "backup", "save"]),
                           ("127.0.0.1:1", ["127.0.0.1:1", "k", "v"]),
                           ("gett", ["gett", "k", "--endpoints", a.url])):
            rc, out, err = vesper_in(d, *args)
            check(rc == 2, "args %r exit %d" % (args, rc))
            check("unknown command '%s'" % word in err and "get, put, delete, cas, status" in err,
                  "stderr %r" % err)
    check(len(a.requests) == 0, "a usage error must not send (%d requests)" % len(a.requests))
    rc, out, err, _ = vesper("HTTP://" + a.url[len("http://"):], "k", "v")
    check(rc == 0 and len(a.requests) == 1, "an upper-case scheme is still a URL: %d %s" % (rc, err))


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def backup_file(index=7, term=2, keys=3, state=b"S" * 3000):
    """A backup file as GET /admin/snapshot sends it (src/util/backup_file.h)."""
    addr = b"http://127.0.0.1:5000"
    members = struct.pack("<IIBH", 1, 0, 1, len(addr)) + addr
    head = struct.pack("<8sIIQQQQ", b"VSPRBKUP", 1, 48 + len(members), index, term, keys,
                       len(state)) + members
    body = head + state
    return body + struct.pack("<I", crc32c(body))


@test
def snapshot_save_follows_redirect_and_checks_the_file(a, b):
    good = backup_file()
    a.script = lambda req, n: (200, json.dumps(
        {"code": "fail", "error": "not_leader", "payload": {"message": b.url}}))
    # b's first answer is cut short (its header promises more), the retry is whole.
    b.script = lambda req, n: (200, good[:-100] if n == 1 else good, "application/octet-stream")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "b.vsb")
        rc, out, err, _ = vesper("snapshot", "save", path, "--endpoints", a.url,
                                 "--token", "tok", "--timeout", "5")
        check(rc == 0, "rc %d err %r" % (rc, err))
        check(open(path, "rb").read() == good and not os.path.exists(path + ".tmp"), "file")
        check("index    7" in out and "keys     3" in out, "out %r" % out)
        check(b.requests[0]["path"] == "/admin/snapshot" and b.requests[0]["method"] == "GET",
              "request %r" % b.requests[0]["path"])
        check(b.requests[0]["headers"].get("Authorization") == "Bearer tok", "token")
        check(len(b.requests) == 2 and "refused" in err, "retry after a short file: %r" % err)
        rc, out, err, _ = vesper("snapshot", "status", path)
        check(rc == 0 and "term     2" in out and "0=http://127.0.0.1:5000" in out, out)


@test
def snapshot_save_never_leaves_a_bad_file(a, b):
    bad = bytearray(backup_file())
    bad[100] ^= 1
    a.script = lambda req, n: (200, bytes(bad), "application/octet-stream")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "b.vsb")
        rc, out, err, _ = vesper("snapshot", "save", path, "--endpoints", a.url, "--timeout", "1")
        check(rc == 2 and "checksum" in err, "rc %d err %r" % (rc, err))
        check(os.listdir(d) == [], "left %r" % os.listdir(d))
        with open(path, "wb") as f:
            f.write(bytes(bad))
        rc, out, err, _ = vesper("snapshot", "status", path)
        check(rc == 2 and err.count("\n") == 1 and "checksum" in err, "status %d %r" % (rc, err))


@test
def default_endpoints_from_local_ip_list(a, b):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "ip_list.txt"), "w") as f:
            f.write(dead_url() + "\n" + a.url + "\n")
        rc, out, err = vesper_in(d, "get", "k", "-v")
        check(rc == 0 and len(a.requests) == 1, "rc %d %s" % (rc, err))
        check("endpoints from ./ip_list.txt:" in err, "stderr %r" % err)
        rc, out, err = vesper_in(d, "status", env_extra={"VESPER_ENDPOINTS": b.url})
        check(len(b.requests) == 1 and b.requests[0]["path"] == "/status",
              "$VESPER_ENDPOINTS beats ./ip_list.txt")


@test
def default_endpoints_for_the_compose_cluster(a, b):
    """No endpoints, no variable: the ports `make up` publishes (node i on 500i)."""
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = vesper_in(d, "get", "k", "-v", "--timeout", "0.2")
        want = "endpoints from the ports `make up` publishes: " + " ".join(
            "http://127.0.0.1:%d" % (5000 + i) for i in range(5))
        check(want in err, "stderr %r" % err[:300])
        with open(os.path.join(d, "ip_list.txt"), "w") as f:
            f.write("http://vesper0:5000\nhttp://vesper1:5000\nhttp://vesper2:5000\n")
        rc, out, err = vesper_in(d, "get", "k", "-v", "--timeout", "0.2")
        want = ("endpoints from ./ip_list.txt mapped to the ports compose publishes: "
                "http://127.0.0.1:5000 http://127.0.0.1:5001 http://127.0.0.1:5002\n")
        check(want in err, "stderr %r" % err[:300])


@test
def value_file_for_large_values(a, b):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "value")
        with open(path, "wb") as f:
            f.write(b"x" * (1 << 20))
        rc, _, err, _ = vesper(a.url, "big", "--value-file", path)
        check(rc == 0, "v1 form rc %d %s" % (rc, err))
        check(a.requests[-1]["body"]["payload"]["value"] == "x" * (1 << 20), "1 MiB value")
        check("Expect" not in a.requests[-1]["headers"], "no 100-continue for big bodies")
        rc, _, _, _ = vesper("cas", "k", "old", "--value-file", path, "--endpoints", a.url)
        check(rc == 0 and len(a.requests[-1]["body"]["payload"]["value"]) == 1 << 20, "cas file")
        p = subprocess.run([VESPER, "put", "k", "--value-file", "-", "--endpoints", a.url],
                           input="from stdin", capture_output=True, text=True, timeout=10)
        check(p.returncode == 0 and a.requests[-1]["body"]["payload"]["value"] == "from stdin",
              "stdin value")


@test
def watch_reconnects_from_the_last_revision(a, b):
    def ev(rev, *keys):
        return json.dumps({"type": "events", "revision": rev, "events": [
            {"type": "put", "key": k, "value": "v", "create_revision": rev, "mod_revision": rev,
             "version": 1} for k in keys]}) + "\n"
    a.script = lambda req, n: (200, ev(5, "p/x") + '{"type":"progress","revision":6}\n' +
                               ev(7, "p/y", "p/z")) if n == 1 else (
        410, '{"code":"fail","error":"compacted","oldest":20}')
    b.script = lambda req, n: (200, ev(7, "p/y", "p/z") + ev(8, "p/w") +
                               '{"type":"closed","reason":"compacted","oldest":20}\n')
    rc, out, err, _ = vesper("watch", "p/", "--from", "5", "--endpoints", a.url + "," + b.url)
    check(rc == 1, "exit %d %s" % (rc, err))
    keys = [json.loads(x)["key"] for x in out.splitlines()]
    check(keys == ["p/x", "p/y", "p/z", "p/w"], "printed %r" % keys)
    check(a.requests[0]["path"] == "/watch?prefix=p%2F&from=5", "first %s" % a.requests[0]["path"])
    check(b.requests[0]["path"].endswith("&from=8"), "second %s" % b.requests[0]["path"])
    check(a.requests[1]["path"].endswith("&from=9"), "third %s" % a.requests[1]["path"])


@test
def lease_commands_and_put_ttl(a, b):
    def script(req, n):
        t = req["body"]["type"] if req["body"] else ""
        if t == "lease_grant":
            return 200, '{"code":"success","payload":{"id":42,"ttl":%d}}' % req["body"]["payload"]["ttl"]
        if t == "lease_keepalive" and n >= 5:
            return 200, '{"code":"fail","error":"lease_not_found"}'
        if t == "lease_keepalive":
            return 200, '{"code":"success","payload":{"id":42,"ttl":1}}'
        return 200, '{"code":"success"}'
    a.script = script
    rc, out, err, _ = vesper("--endpoints", a.url, "put", "k", "v", "--ttl", "7")
    check(rc == 0 and out.splitlines() == ['{"code":"success"}', "lease 42"], "put --ttl %r %r" % (out, err))
    check(a.requests[0]["body"]["payload"] == {"ttl": 7}, "grant %r" % a.requests[0]["body"])
    check(a.requests[1]["body"]["payload"] == {"key": "k", "value": "v", "lease": 42},
          "put %r" % a.requests[1]["body"])
    check(a.requests[0]["body"]["seq"] + 1 == a.requests[1]["body"]["seq"], "one session")
    rc, out, err, t = vesper("--endpoints", a.url, "lease", "keepalive", "42", "--forever")
    check(rc == 1 and out.count("\n") == 3 and "lease_not_found" in out, "forever %r" % out)
    check(t >= 0.6, "renewed every ttl/3: %.2f s for two renewals" % t)
    rc, out, err, _ = vesper("--endpoints", a.url, "lease", "info", "42", "--keys")
    body = a.requests[-1]["body"]
    check(rc == 0 and body["type"] == "lease_info" and body["payload"] == {"id": 42, "keys": True}
          and "seq" not in body and a.requests[-1]["method"] == "GET", "info %r" % body)
    rc, out, err, _ = vesper("help")
    check(rc == 0 and "vesper lease keepalive ID [--forever]" in out and "--ttl" in out, "help")
    for args in (["lease", "grant", "0"], ["lease", "bogus", "1"], ["get", "k", "--ttl", "3"]):
        rc, out, err, _ = vesper("--endpoints", a.url, *args)
        check(rc == 2, "%s: exit %d" % (args, rc))


def main():
    passed = failed = 0
    only = sys.argv[1] if len(sys.argv) > 1 else None
    for fn in TESTS:
        if only and only not in fn.__name__:
            continue
        a, b = Stub(), Stub()
        try:
            fn(a, b)
            print("ok   " + fn.__name__)
            passed += 1
        except Exception as e:  # a failing check or a crashed CLI
            print("FAIL %s: %s" % (fn.__name__, e))
            failed += 1
        finally:
            a.close()
            b.close()
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
