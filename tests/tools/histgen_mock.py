#!/usr/bin/env python3
"""histgen_mock.py: a fake 3-node Vesper API on 127.0.0.1 for tests/tools/test_histgen.sh.

    histgen_mock.py MODE IP_LIST_OUT LIFETIME_S [SEED]

Binds three free ports, writes their URLs to IP_LIST_OUT (one per line, the
ip_list format), serves for LIFETIME_S seconds and exits. One shared store
behind a lock, so every answer is linearizable unless MODE says otherwise:

  good     node 0 leads; 1 and 2 answer not_leader with node 0's URL; ~3% of
           requests get no_leader. Writes of a value ending in "-3" are applied
           and answered "timeout"; those ending in "-5" are applied and answered
           after 1.5 s (past the client's timeout): histgen must record both as
           info, never ok or fail.
  stale    like good, but ~20% of reads return an old value: not linearizable.
  resend   node 0 answers the first request on a connection, then reads the
           second, applies it, drops the connection and closes its listener:
           libcurl's silent resend hits a closed port. The op must be info.
The seed makes the fault choices repeatable.
"""
import json
import os
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Store:
    def __init__(self, mode, seed):
        self.mode = mode
        self.data = {}
        self.lock = threading.Lock()
        self.rng = random.Random(seed)

    def roll(self):
        with self.lock:
            return self.rng.random()

    def apply(self, body):
        t, p = body["type"], body["payload"]
        k = p["key"]
        with self.lock:
            if t == "get":
                if k not in self.data:
                    return {"code": "fail", "error": "not_found"}
                return {"code": "success", "payload": {"key": k, "value": self.data[k]}}
            if t == "put":
                self.data[k] = p["value"]
                return {"code": "success"}
            if t == "delete":
                if self.data.pop(k, None) is None:
                    return {"code": "fail", "error": "not_found"}
                return {"code": "success"}
            if self.data.get(k) == p.get("expected"):
                self.data[k] = p["value"]
                return {"code": "success"}
            return {"code": "fail", "error": "cas_failed", "payload": {"key": k}}


def make_handler(store, urls, me):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, obj):
            data = json.dumps(obj).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout): expected in these tests

        def handle_request(self):
            n = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(n))
            r = store.roll()
            if r < 0.03:
                return self.reply({"code": "fail", "error": "no_leader"})
            if me != 0:
                return self.reply({"code": "fail", "error": "not_leader",
                                   "payload": {"key": body["payload"]["key"],
                                               "message": urls[0]}})
            if store.mode == "stale" and body["type"] == "get" and r > 0.8:
                return self.reply({"code": "success",
                                   "payload": {"key": body["payload"]["key"], "value": "c0-0"}})
            res = store.apply(body)
            value = body["payload"].get("value") or ""
            if value.endswith("-5"):
                time.sleep(1.5)
            elif value.endswith("-3"):
                res = {"code": "fail", "error": "timeout"}
            self.reply(res)

        do_GET = do_PUT = do_DELETE = do_POST = handle_request

    return Handler


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
            while len(body) < n:
                body += conn.recv(4096)
    return body


def serve_resend(listener):
    """Answers one request, swallows the second, then closes everything."""
    reply = b'{"code":"success","payload":{"key":"k","value":"v"}}'
    conn, _ = listener.accept()
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                 + str(len(reply)).encode() + b"\r\n\r\n" + reply)
    read_request(conn)
    listener.close()
    conn.close()


def main():
    mode, list_path, lifetime = sys.argv[1], sys.argv[2], float(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    listeners = []
    for _ in range(3 if mode != "resend" else 1):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        listeners.append(s)
    urls = ["http://127.0.0.1:%d" % s.getsockname()[1] for s in listeners]
    with open(list_path + ".tmp", "w") as f:
        f.write("\n".join(urls) + "\n")
    if mode == "resend":
        threading.Thread(target=serve_resend, args=(listeners[0],), daemon=True).start()
    else:
        store = Store(mode, seed)
        for i, s in enumerate(listeners):
            srv = ThreadingHTTPServer(s.getsockname(), make_handler(store, urls, i),
                                      bind_and_activate=False)
            srv.socket.close()
            srv.socket = s
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
    # Publish the list only once every node accepts connections.
    os.rename(list_path + ".tmp", list_path)
    time.sleep(lifetime)


if __name__ == "__main__":
    main()
