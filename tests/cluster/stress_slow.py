"""stress_slow.py: the workers of stress.py that are slow or move large bodies.

  slow  a recorded op written a few bytes at a time, then read; a request head that never
        ends, then a hang-up.
  big   keys KEY_PREFIX"big"0..2 hold values of about 1 MB (written here, not recorded: the
        recorded keys never see them). Pipelined GETs of them are read slowly, or cut after
        a few KB with a reset; over HTTP/2 the client never sends a WINDOW_UPDATE, so h2o
        holds all but the first 64 KB of each answer until the streams are reset or the
        connection is dropped. Bodies over --max-value-bytes (vesperd's 413) and over
        --max-body-bytes (h2o's 413) are sent, and the answer read if one comes.
Every answer read in full must be well-formed JSON (run.check_answer).
"""
import socket
import time

from stress_wire import TIMEOUT, H2Conn, body_of, build_h1, fwd, h2_request, h2_rst, now_us, read_h1

BIG = 1000 * 1000  # under the default --max-value-bytes (1 MiB)
RST = b"\1\0\0\0\0\0\0\0"  # struct linger {1, 0}: close() sends a reset


def slow(run, rng, proc):
    n = 0
    while run.running():
        host, port = run.nodes[rng.randrange(len(run.nodes))]
        try:
            s = socket.create_connection((host, port), timeout=TIMEOUT)
            if rng.random() < 0.3:  # a head that never ends, then a hang-up
                run.bump("slow_head")
                s.sendall(b"POST /request HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                for _ in range(rng.randint(1, 10)):
                    time.sleep(0.1)
                    s.sendall(b"a")
                s.close()
                continue
            run.bump("slow_writer")
            n += 1
            op = run.new_op(rng, proc, n)
            data = build_h1("POST", "/request", body_of(op), headers=fwd(rng))
            step = rng.randint(3, 40)
            t0 = now_us()
            for i in range(0, len(data), step):
                s.sendall(data[i:i + step])
                time.sleep(0.01)
            try:
                st, body, _ = read_h1(s)
                run.record(op, proc, t0, run.check_answer("slow %s" % op["type"], st, body))
            except (OSError, EOFError, ValueError):
                run.record(op, proc, t0, None)
            s.close()
        except OSError:
            time.sleep(0.05)



def big_put(run, rng, key, n):
    """Writes about 1 MB to key (unrecorded); the answer only has to be well-formed."""
    op = {"type": "put", "payload": {"key": key, "value": "%d-" % n + "b" * BIG}}
    host, port = run.nodes[rng.randrange(len(run.nodes))]
    try:
        s = socket.create_connection((host, port), timeout=TIMEOUT)
        s.sendall(build_h1("PUT", "/request", body_of(op), headers=[("X-Vesper-Forward", "1")]))
        st, body, _ = read_h1(s)
        run.check_answer("big put", st, body)
        s.close()
    except (OSError, EOFError, ValueError):
        pass


def big_gets(run, rng, keys):
    """Pipelined GETs of the big keys over HTTP/1.1: read slowly, or cut mid-answer."""
    host, port = run.nodes[rng.randrange(len(run.nodes))]
    reqs = [build_h1("POST", "/request", body_of({"type": "get", "payload": {"key": k}}),
                     headers=fwd(rng)) for k in keys]
    cut = rng.random() < 0.5
    run.bump("big_h1_cut" if cut else "big_h1_slow")
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        s.sendall(b"".join(reqs))
        if cut:
            time.sleep(rng.choice([0, 0.01, 0.1]))
            s.recv(rng.randint(1, 8192))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
            return
        time.sleep(rng.uniform(0.2, 1.0))
        rest = b""
        for _ in reqs:
            st, body, rest = read_h1(s, rest)
            run.check_answer("big get", st, body)
    finally:
        s.close()


def big_h2(run, rng, keys):
    """Big GETs over HTTP/2 with no WINDOW_UPDATE: h2o stalls; then reset or drop."""
    host, port = run.nodes[rng.randrange(len(run.nodes))]
    c = H2Conn(host, port, TIMEOUT)
    run.bump("big_h2")
    try:
        streams = []
        data = b""
        for i, k in enumerate(keys):
            sid = 2 * i + 1
            streams.append(sid)
            get = body_of({"type": "get", "payload": {"key": k}})
            data += h2_request(sid, "POST", "/request", get, "%s:%d" % (host, port),
                               [(h.lower(), v) for h, v in fwd(rng)])
        c.send(data)
        c.sock.settimeout(rng.choice([0.05, 0.3]))
        try:
            c.read_until(streams)  # cannot finish: the window runs out first
        except socket.timeout:
            pass
        if rng.random() < 0.5:
            c.send(b"".join(h2_rst(s) for s in streams))
            time.sleep(0.01)
    finally:
        c.close(reset=rng.random() < 0.5)


def too_large(run, rng):
    """A value over --max-value-bytes or a body over --max-body-bytes, then the answer."""
    host, port = run.nodes[rng.randrange(len(run.nodes))]
    over_body = rng.random() < 0.5
    run.bump("too_large_body" if over_body else "too_large_value")
    size = 5 * 1000 * 1000 if over_body else 1100 * 1000
    body = body_of({"type": "put", "payload": {"key": run.prefix + "huge", "value": "h" * size}})
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        s.sendall(build_h1("PUT", "/request", body, headers=fwd(rng)))
        st, answer, _ = read_h1(s)
        run.check_answer("too large", st, answer)
    except (OSError, EOFError, ValueError):
        pass  # closing on an oversized body is allowed; an answer must be JSON
    finally:
        s.close()


def big(run, rng, proc):
    keys = ["%sbig%d" % (run.prefix, i) for i in range(3)]
    n = 0
    for k in keys:
        n += 1
        big_put(run, rng, k, n)
    while run.running():
        try:
            r = rng.random()
            if r < 0.05:
                n += 1
                big_put(run, rng, rng.choice(keys), n)
            elif r < 0.45:
                big_gets(run, rng, [rng.choice(keys) for _ in range(rng.randint(1, 4))])
            elif r < 0.85:
                big_h2(run, rng, [rng.choice(keys) for _ in range(rng.randint(1, 4))])
            else:
                too_large(run, rng)
        except (OSError, EOFError, ValueError):
            time.sleep(0.05)
