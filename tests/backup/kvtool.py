#!/usr/bin/env python3
"""kvtool.py: the data side of the backup suite (tests/backup/run.sh), stdlib only.

  kvtool.py fill IP_LIST STATE PREFIX FIRST COUNT VALUE_BYTES
      puts keys PREFIX<FIRST..FIRST+COUNT-1> through the leader (following the v1
      redirect) and records each acknowledged value in the JSON file STATE
      (created when missing). A put must be acknowledged: anything else exits 1.
  kvtool.py delete IP_LIST STATE KEY...
      deletes keys through the leader and records them as absent in STATE.
  kvtool.py check IP_LIST STATE [NODE...]
      on every node (or the ids given), a stale get of every key STATE names:
      the value must be exactly STATE's, and an absent key must be not_found.
      Prints one line and exits 1 on the first difference.
  kvtool.py count STATE
      prints how many keys STATE holds a value for.

STATE is {"key": value or null}; keys written later are recorded as null in the
state a restored cluster is compared against, so "every key" includes the ones
that must NOT be there.
"""
import http.client
import json
import os
import random
import sys
import time
import urllib.parse


def urls(ip_list):
    with open(ip_list) as f:
        return [line.strip() for line in f if line.strip()]


class Conn:
    """One keep-alive connection per URL, re-opened after any error."""

    def __init__(self):
        self.conns = {}

    def request(self, url, method, body, timeout=5):
        u = urllib.parse.urlparse(url)
        c = self.conns.get(u.netloc)
        for attempt in range(2):
            if c is None:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
                self.conns[u.netloc] = c
            try:
                c.request(method, "/request", body=json.dumps(body),
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                return json.loads(r.read() or b"{}")
            except (OSError, http.client.HTTPException, ValueError):
                c.close()
                c = None
                self.conns.pop(u.netloc, None)
                if attempt == 1:
                    return None
        return None


def through_leader(conn, nodes, body, deadline_s=15):
    """Sends body to the leader until success; returns the reply or exits 1."""
    end = time.time() + deadline_s
    target = nodes[0]
    i = 0
    last = None
    while time.time() < end:
        d = conn.request(target, "POST", body)
        last = d
        if d and d.get("code") == "success":
            return d
        if d and d.get("error") == "not_leader" and (d.get("payload") or {}).get("message"):
            target = d["payload"]["message"]
            continue
        i += 1
        target = nodes[i % len(nodes)]
        time.sleep(0.05)
    print("no acknowledged answer for %s: last %r" % (body, last))
    sys.exit(1)


def load(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def save(path, state):
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".tmp", path)


def fill(ip_list, state_path, prefix, first, count, value_bytes):
    nodes, conn, state = urls(ip_list), Conn(), load(state_path)
    for k in range(int(first), int(first) + int(count)):
        key = "%s%d" % (prefix, k)
        value = ("%s=" % key + "v" * int(value_bytes))[: max(int(value_bytes), len(key) + 1)]
        # a fresh exactly-once identity per put: a retry is never applied twice, and
        # no put is mistaken for the retry of an earlier one
        through_leader(conn, nodes, {"type": "put", "client_id": random.getrandbits(62) + 1,
                                     "seq": 1,
                                     "payload": {"key": key, "value": value}})
        state[key] = value
    save(state_path, state)


def delete(ip_list, state_path, keys):
    nodes, conn, state = urls(ip_list), Conn(), load(state_path)
    for key in keys:
        through_leader(conn, nodes, {"type": "delete", "payload": {"key": key}})
        state[key] = None
    save(state_path, state)


def check(ip_list, state_path, ids):
    nodes, conn, state = urls(ip_list), Conn(), load(state_path)
    ids = [int(i) for i in ids] or list(range(len(nodes)))
    for i in ids:
        for key, want in state.items():
            d = conn.request(nodes[i], "POST", {"type": "get", "consistency": "stale",
                                                "payload": {"key": key}})
            if d is None:
                print("node %d: no answer for %s" % (i, key))
                sys.exit(1)
            got = (d.get("payload") or {}).get("value") if d.get("code") == "success" else None
            if d.get("code") != "success" and d.get("error") != "not_found":
                print("node %d: %s answered %r" % (i, key, d))
                sys.exit(1)
            if got != want:
                print("node %d: key %s holds %r, expected %r" %
                      (i, key, None if got is None else got[:40],
                       None if want is None else want[:40]))
                sys.exit(1)
    print("%d keys match on node(s) %s" % (len(state), ",".join(map(str, ids))))


def main():
    a = sys.argv[1:]
    if len(a) == 7 and a[0] == "fill":
        fill(*a[1:])
    elif len(a) >= 4 and a[0] == "delete":
        delete(a[1], a[2], a[3:])
    elif len(a) >= 3 and a[0] == "check":
        check(a[1], a[2], a[3:])
    elif len(a) == 2 and a[0] == "count":
        print(sum(1 for v in load(a[1]).values() if v is not None))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
