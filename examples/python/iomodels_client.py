#!/usr/bin/python3
"""The small client library behind the examples: the parts of
docs/protocol.md every client needs, so each example shows only its I/O.

    run(main)              main(env) with the checked environment (§1; tcp:
                           the N connects), then the latency report; a wrong
                           byte or an early EOF: one line on stderr, exit 1
    env.conns              the connections (Conn: index, rfd, wfd, sock)
    request_bytes(c, id)   the 16-byte request of §2
    Pacer(rate)            closed or open loop (§4): when a request starts
    read_exact(c, n)       a blocking read of exactly n bytes
    env.complete(c, id, start_ns, data)
                           a response is in: its latency reported (§5), every
                           byte checked (§3: Payload, microseconds for 4 KiB)

Standard library only (Python 3.11). Not an example itself: iomodels does
not mirror it.
"""
import os
import resource
import socket
import struct
import sys
import time

M64 = (1 << 64) - 1
PROG = os.path.basename(sys.argv[0])


def die(msg, status=2):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(status)


class Conn:
    """Connection `index`: responses are read from `rfd`, requests written to
    `wfd`. `sock` is a socket.socket (socketpair, tcp: rfd == wfd) or None
    (a pipe: two raw descriptors, used with os.read/os.write)."""

    def __init__(self, index, size, rfd, wfd, sock=None):
        self.index, self.size, self.rfd, self.wfd, self.sock = index, size, rfd, wfd, sock

    def fileno(self):  # what selectors watch: the side responses come from
        return self.rfd

    def send(self, data):
        if self.sock:
            return self.sock.sendall(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]

    def recv(self, n):  # what is there, up to n bytes; b"" at EOF
        return self.sock.recv(n) if self.sock else os.read(self.rfd, n)

    def recv_into(self, view):
        return self.sock.recv_into(view) if self.sock else os.readv(self.rfd, [view])


class Closed(Exception):
    """The peer closed a connection before the whole response came."""


class WrongByte(Exception):
    def __init__(self, conn, id, offset, expected, got):
        super().__init__(f"connection {conn} request {id}: wrong byte at offset {offset}: "
                         f"expected 0x{expected:02x}, got " + ("nothing" if got is None else f"0x{got:02x}"))


def request_bytes(conn, id):
    return struct.pack("<IIQ", conn.index, conn.size, id)


def mix64(x):
    x ^= x >> 30; x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27; x = (x * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


class Payload:
    """Checks responses of S bytes. The payload, read as one little-endian
    integer, is (key * Rep) ^ T: Rep has a 1 in every word (key lands in each
    word without carries) and T holds the words k * 0x9e3779b97f4a7c15, both
    made once. A check is then a few big-int operations: microseconds."""

    def __init__(self, size):
        words = (size + 7) // 8
        self.size, self.mask = size, (1 << (8 * size)) - 1
        self.rep = int.from_bytes(b"\1\0\0\0\0\0\0\0" * words, "little")
        self.t = int.from_bytes(b"".join(struct.pack("<Q", (k * 0x9e3779b97f4a7c15) & M64)
                                         for k in range(words)), "little") & self.mask

    def expected(self, conn, id):
        key = mix64((conn << 40) ^ id ^ 0x6a09e667f3bcc909)
        return ((key * self.rep) & self.mask) ^ self.t

    def check(self, conn, id, data):
        want = self.expected(conn, id)
        if len(data) == self.size and int.from_bytes(data, "little") == want:
            return
        want = want.to_bytes(self.size, "little")  # the slow path: find the first wrong byte
        o = next((o for o in range(self.size) if o >= len(data) or data[o] != want[o]))
        raise WrongByte(conn, id, o, want[o], data[o] if o < len(data) else None)


def read_exact(conn, n):
    """Blocks until n bytes are in; raises Closed at EOF."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = conn.recv_into(view[got:])
        if k == 0:
            raise Closed(f"connection {conn.index}: closed after {got} of {n} bytes")
        got += k
    return buf


class Pacer:
    """§4. Closed loop (rate 0): a request starts when it is sent. Open loop:
    request id is scheduled at t0 + id/rate and its latency counts from then."""

    def __init__(self, rate):
        self.rate, self.t0 = rate, time.monotonic_ns()

    def scheduled_ns(self, id):  # closed loop: 0, always due
        return self.t0 + int(id * 1e9 / self.rate) if self.rate else 0

    def start_ns(self, id, now):  # the start of a request sent at `now`
        return self.scheduled_ns(id) if self.rate else now

    def wait(self, id):
        """Blocking clients: sleep until request id is due; its start."""
        while (left := self.scheduled_ns(id) - time.monotonic_ns()) > 0:
            time.sleep(left / 1e9)
        return self.start_ns(id, time.monotonic_ns())


class Latencies:
    """§5: (conn, id, latency_ns) kept in a list (append is thread-safe),
    written as lines in one go at the end."""

    def __init__(self, fd):
        self.fd, self.lines = fd, []

    def record(self, conn, id, latency_ns):
        self.lines.append((conn, id, latency_ns))

    def close(self):
        data = memoryview("".join("%d %d %d\n" % line for line in self.lines).encode())
        while data:
            data = data[os.write(self.fd, data):]
        os.close(self.fd)


class Env:
    """What environment() returns: transport, conns, size, requests, rate,
    payload (a Payload) and report (Latencies)."""

    def complete(self, conn, id, start_ns, data):
        """A response is all in: report its latency, then check every byte."""
        self.report.record(conn.index, id, time.monotonic_ns() - start_ns)
        self.payload.check(conn.index, id, data)


def environment():
    """The variables of docs/protocol.md §1, checked (exit 2 if wrong)."""
    def var(name, parse=int, lo=0, hi=None):
        text = os.environ.get(name)
        if text is None:
            die(f"{name} is not set: run me under `iomodels run --exec` (docs/protocol.md)")
        try:
            value = parse(text)
            if value < lo or (hi is not None and value > hi) or value != value:
                raise ValueError
        except ValueError:
            die(f"{name}={text!r}: not a number in {lo}..{hi if hi else 'inf'}")
        return value

    if os.environ.get("IOMODELS_PROTOCOL") != "1":
        die(f"IOMODELS_PROTOCOL={os.environ.get('IOMODELS_PROTOCOL')!r}: "
            "this client speaks version 1 only")
    e = Env()
    e.transport = os.environ.get("IOMODELS_TRANSPORT")
    n = var("IOMODELS_CONNECTIONS", lo=1, hi=10000)
    e.size = var("IOMODELS_SIZE", lo=1, hi=1 << 20)
    e.requests = var("IOMODELS_REQUESTS", lo=1)
    e.rate = var("IOMODELS_RATE", float)
    e.report = Latencies(var("IOMODELS_REPORT_FD"))
    e.payload = Payload(e.size)
    if e.transport in ("socketpair", "pipe"):
        text = os.environ.get("IOMODELS_FDS", "")
        try:  # "R:W,R:W,...": a socket is one fd (R == W), a pipe connection two
            pairs = [tuple(map(int, entry.split(":"))) for entry in text.split(",")]
            if len(pairs) != n or any(len(p) != 2 or min(p) < 0 or (p[0] == p[1]) != (
                    e.transport == "socketpair") for p in pairs):
                raise ValueError
            for fd in {fd for p in pairs for fd in p}:
                os.fstat(fd)  # open?
            e.conns = [Conn(i, e.size, r, w, socket.socket(fileno=r) if r == w else None)
                       for i, (r, w) in enumerate(pairs)]
        except (ValueError, OSError):
            die(f"IOMODELS_FDS={text!r}: not {n} entries R:W of open fds for {e.transport}")
    elif e.transport == "tcp":
        text = os.environ.get("IOMODELS_ADDRESS", "")
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            die(f"IOMODELS_ADDRESS={text!r}: not HOST:PORT")
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # room for N sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        e.conns = []
        for i in range(n):  # connection i is the i-th to connect
            try:
                s = socket.create_connection((host, int(port)))
            except OSError as err:
                die(f"connecting to {text} ({i + 1} of {n}): {err.strerror}", 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # 16-byte requests: no Nagle
            e.conns.append(Conn(i, e.size, s.fileno(), s.fileno(), s))
    else:
        die(f"IOMODELS_TRANSPORT={e.transport!r}: not socketpair, pipe or tcp")
    return e


def run(main):
    """main(env), then the latency report; a wrong byte or an early EOF:
    one line on stderr and exit 1."""
    env = environment()
    try:
        main(env)
    except (WrongByte, Closed, ConnectionError) as err:
        die(str(err), 1)
    env.report.close()
