"""stress_wire.py: the HTTP/1.1 and HTTP/2 (h2c, prior knowledge) wire code of stress.py,
and the small request helpers its workers share.

Raw sockets only (the standard library has no HTTP/2 client and the stress test needs to
cut connections at chosen points, send pipelines with broken parts and write slowly).

HTTP/1.1: build_h1() makes one request; read_h1() reads one response (Content-Length,
chunked or read-to-close bodies) and returns the bytes after it for the next one.

HTTP/2: the client side of RFC 7540 that the test needs and nothing more. Request headers
are HPACK "literal without indexing, new name" fields (no Huffman, no dynamic table), which
every decoder must accept. Of the response headers only :status is decoded, and only when
h2o sends it as an indexed static-table entry (200, 204, 206, 304, 400, 404, 500); any other
status is reported as None: the checks look at the body, which must be JSON either way.
"""
import json
import socket
import struct
import time

TIMEOUT = 5.0  # every socket's timeout


def now_us():
    """CLOCK_MONOTONIC in microseconds, the clock of the history file."""
    return time.monotonic_ns() // 1000


def body_of(op):
    return json.dumps(op).encode()


def fwd(rng):
    """Half the requests ask a follower to relay them to the leader."""
    return [("X-Vesper-Forward", "1")] if rng.random() < 0.5 else []


# ---------- HTTP/1.1 ----------


def build_h1(method, path, body=b"", host="127.0.0.1", headers=(), length=None):
    """One request. length overrides the Content-Length header (a string, to lie or break it)."""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n" % (method, path, host)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    head += "Content-Length: %s\r\n\r\n" % (len(body) if length is None else length)
    return head.encode() + body


def _fill(sock, buf, need):
    while len(buf) < need:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed mid-response")
        buf += chunk
    return buf


def read_h1(sock, buf=b""):
    """(status, body, rest). Raises EOFError when the peer closes before a whole response
    and socket.timeout / OSError as the socket does."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed before a response" if not buf else "closed mid-headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError("bad status line %r" % lines[0][:80])
    status = int(parts[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower()] = v.strip()
    if b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        rest = _fill(sock, rest, n)
        return status, rest[:n], rest[n:]
    if hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest = _fill(sock, rest, len(rest) + 1)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            rest = _fill(sock, rest, size + 2)
            body, rest = body + rest[:size], rest[size + 2:]
            if size == 0:
                return status, body, rest
    while True:  # no length: the body runs to the close
        chunk = sock.recv(65536)
        if not chunk:
            return status, rest, b""
        rest += chunk


# ---------- HTTP/2 ----------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0, 1, 3, 4, 6, 7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL = 0x8
STATIC_STATUS = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def _hpack_int(n):
    if n < 127:
        return bytes([n])
    out, n = [127], n - 127
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out + [n])


def hpack_literal(name, value):
    name, value = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(name)) + name + _hpack_int(len(value)) + value


def h2_request(stream, method, path, body, authority, headers=()):
    """HEADERS + DATA (END_STREAM) frames of one request on an odd stream id."""
    block = b"".join(hpack_literal(k, v) for k, v in
                     [(":method", method), (":scheme", "http"), (":path", path),
                      (":authority", authority), ("content-type", "application/json"),
                      ("content-length", str(len(body)))] + list(headers))
    return frame(HEADERS, END_HEADERS, stream, block) + frame(DATA, END_STREAM, stream, body)


def h2_rst(stream):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", CANCEL))


class H2Conn:
    """One client connection. Responses collect in .done {stream: (status, body)}."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.partial = {}  # stream -> [status, body]
        self.done = {}
        self.goaway = None  # last stream id the server said it will process
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, streams):
        """Reads frames until every stream in streams is answered or reset. Raises EOFError
        when the server closes first, socket.timeout at the socket's timeout."""
        while any(s not in self.done for s in streams):
            while len(self.buf) < 9 or len(self.buf) < 9 + struct.unpack(
                    ">I", b"\0" + self.buf[:3])[0]:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("h2 connection closed")
                self.buf += chunk
            n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
            ftype, flags = self.buf[3], self.buf[4]
            sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
            payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
            self._on_frame(ftype, flags, sid, payload)
            for s in streams:
                if self.goaway is not None and s > self.goaway:
                    self.done.setdefault(s, (None, None))  # the server will not process it

    def _on_frame(self, ftype, flags, sid, payload):
        if ftype == SETTINGS and not flags & ACK:
            self.sock.sendall(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            self.sock.sendall(frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            self.goaway = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
        elif ftype == RST_STREAM:
            self.partial.pop(sid, None)
            self.done.setdefault(sid, (None, None))
        elif ftype == HEADERS:
            st = self.partial.setdefault(sid, [None, b""])
            if st[0] is None and payload:
                st[0] = STATIC_STATUS.get(payload[0], -1)
        elif ftype == DATA:
            self.partial.setdefault(sid, [None, b""])[1] += payload
        if ftype in (HEADERS, DATA) and flags & END_STREAM and sid in self.partial:
            st = self.partial.pop(sid)
            self.done[sid] = (st[0], st[1])

    def close(self, reset=False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
