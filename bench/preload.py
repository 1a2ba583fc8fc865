#!/usr/bin/env python3
"""preload.py: writes keys k00001..kNNNNN once, so GET runs read keys that exist.

    bench/preload.py SYSTEM URL NKEYS VALUE_BYTES [CONNS]

SYSTEM is vesper or etcd (same request shapes as bench/wrk/kv.lua). Every
answer is checked; the first non-success answer aborts with exit 1, because a
GET benchmark over missing keys would measure not_found replies. wrk cannot
do this part: it cannot tell which request an answer belongs to. Bounded by
a per-request timeout and a 120 s overall deadline.
"""
import base64
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse


def put_request(system, key, value):
    if system == "etcd":
        body = {
            "key": base64.b64encode(key.encode()).decode(),
            "value": base64.b64encode(value.encode()).decode(),
        }
        return "POST", "/v3/kv/put", json.dumps(body)
    body = {"type": "put", "payload": {"key": key, "value": value}}
    return "PUT", "/request", json.dumps(body)


def succeeded(system, status, data):
    if status != 200:
        return False
    try:
        reply = json.loads(data)
    except ValueError:
        return False
    if system == "etcd":
        return "error" not in reply
    return reply.get("code") == "success"


def worker(system, url, keys, value, deadline, errors):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        # The benchmark's own development CA (VESPER_CACERT), as the CLI would use it.
        ctx = ssl.create_default_context(cafile=os.environ.get("VESPER_CACERT") or None)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = {"Content-Type": "application/json"}
    for key in keys:
        if errors or time.monotonic() > deadline:
            return
        method, path, body = put_request(system, key, value)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            errors.append(f"{key}: {e}")
            return
        if not succeeded(system, resp.status, data):
            errors.append(f"{key}: HTTP {resp.status} {data[:200]!r}")
            return


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    system, url = sys.argv[1], sys.argv[2]
    nkeys, vbytes = int(sys.argv[3]), int(sys.argv[4])
    conns = int(sys.argv[5]) if len(sys.argv) > 5 else 16
    value = ("p" * vbytes)[:vbytes]
    keys = [f"k{i:05d}" for i in range(1, nkeys + 1)]
    errors = []
    deadline = time.monotonic() + 120
    start = time.monotonic()
    threads = [
        threading.Thread(
            target=worker,
            args=(system, url, keys[i::conns], value, deadline, errors),
        )
        for i in range(conns)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - start
    if errors:
        print(f"preload: failed: {errors[0]}", file=sys.stderr)
        return 1
    if time.monotonic() > deadline:
        print("preload: deadline passed before all keys were written", file=sys.stderr)
        return 1
    print(f"preload: {nkeys} keys in {secs:.1f} s ({nkeys / secs:.0f} puts/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
