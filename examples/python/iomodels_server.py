#!/usr/bin/python3
"""The small server library behind the example servers: the parts of the
server role (docs/protocol.md, "The server role") every server needs, so
each example shows only its I/O.

    environment()          the checked environment: transport, size, offered,
                           and either conns (pipe, socketpair: one Conn each)
                           or listener (tcp: the socket systemd-style socket
                           activation passed as fd 3)
    accepted(sock)         an accepted tcp connection as a Conn, TCP_NODELAY on
    Requests()             reassembles 16-byte requests from reads of any size
    read_request(conn)     a blocking read of one request; None at EOF
    answer(request)        the response's bytes (Payload: microseconds for 4 KiB)
    serve_forever()        what a server does once its loops run by themselves:
                           wait for SIGTERM

A malformed request (size 0 or above 64 MiB) is one line on stderr
(connection, id, size) and exit status 1, from whichever thread finds it.
Standard library only (Python 3.11). Not an example itself.
"""
import os
import signal
import socket
import struct
import sys

from iomodels_client import Conn as ClientConn, Payload, die

REQUEST = struct.Struct("<IIQ")  # conn, size, id: 16 bytes, little-endian
MAX_SIZE = 64 << 20  # a larger response is a malformed request
SD_LISTEN_FDS_START = 3  # systemd's first passed descriptor


class Conn(ClientConn):
    """One connection: requests are read from `rfd`, responses written to
    `wfd`. `sock` is a socket.socket (socketpair, tcp: rfd == wfd) or None
    (a pipe connection: two raw descriptors). Its index is whatever its
    requests say, so it has none of its own."""

    def __init__(self, rfd, wfd, sock=None):
        super().__init__(None, None, rfd, wfd, sock)

    def close(self):
        if self.sock:
            self.sock.close()
        else:
            os.close(self.rfd)
            os.close(self.wfd)


def accepted(sock):
    """A connection accept() returned: responses leave in one write, but a
    large one in several, and Nagle's algorithm would hold back the last."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Conn(sock.fileno(), sock.fileno(), sock)


def bad_request(conn, size, id):
    print(f"{os.path.basename(sys.argv[0])}: connection {conn} request {id}: size {size} "
          f"is not 1..{MAX_SIZE} bytes", file=sys.stderr, flush=True)
    os._exit(1)  # from any thread or callback: the whole server stops


def parse(head):
    """(conn, size, id) of a 16-byte request; a malformed one ends the server."""
    conn, size, id = REQUEST.unpack(head)
    if not 0 < size <= MAX_SIZE:
        bad_request(conn, size, id)
    return conn, size, id


class Requests:
    """Requests from a byte stream that may cut them anywhere: feed() what a
    read returned, get the requests it completed."""

    def __init__(self):
        self.pending = b""

    def feed(self, data):
        data, done = self.pending + data, []
        whole = len(data) - len(data) % REQUEST.size
        for at in range(0, whole, REQUEST.size):
            done.append(parse(data[at:at + REQUEST.size]))
        self.pending = data[whole:]
        return done


def read_request(conn):
    """Blocks until a whole request is in: (conn, size, id); None when the
    connection is closed (iomodels is done with it) or broken."""
    head = b""
    try:
        while len(head) < REQUEST.size:
            chunk = conn.recv(REQUEST.size - len(head))
            if not chunk:
                return None
            head += chunk
    except ConnectionError:
        return None
    return parse(head)


_payloads = {}  # size -> Payload: every request asks for IOMODELS_SIZE, made once


def answer(request):
    """The response to (conn, size, id): bytes 0..size-1 of payload(conn, id)."""
    conn, size, id = request
    p = _payloads.get(size) or _payloads.setdefault(size, Payload(size))
    return p.expected(conn, id).to_bytes(size, "little")


def serve_forever():
    """Wait for SIGTERM, iomodels' word that the measurement is over (its
    default action ends the process: a clean end)."""
    while True:
        signal.pause()


class Env:
    """What environment() returns."""


def environment():
    """The server role's variables, checked (exit 2 if wrong)."""
    def var(name, parse=int, lo=0, hi=None):
        text = os.environ.get(name)
        try:
            value = parse(text)
            if value < lo or (hi is not None and value > hi) or value != value:
                raise ValueError
        except (TypeError, ValueError):
            die(f"{name}={text!r}: not a number in {lo}..{hi if hi else 'inf'} "
                "(run me under `iomodels run --exec ... --role server`)")
        return value

    if os.environ.get("IOMODELS_PROTOCOL") != "2" or os.environ.get("IOMODELS_ROLE") != "server":
        die(f"IOMODELS_PROTOCOL={os.environ.get('IOMODELS_PROTOCOL')!r}, "
            f"IOMODELS_ROLE={os.environ.get('IOMODELS_ROLE')!r}: this is a server of "
            "protocol version 2 (run me with --role server)")
    e = Env()
    e.transport = os.environ.get("IOMODELS_TRANSPORT")
    e.connections = var("IOMODELS_CONNECTIONS", lo=1, hi=10000)
    e.size = var("IOMODELS_SIZE", lo=1, hi=MAX_SIZE)
    e.offered = var("IOMODELS_OFFERED", float)
    e.arrivals = os.environ.get("IOMODELS_ARRIVALS")
    e.conns, e.listener = [], None
    answer((0, e.size, 0))  # the payload's tables made now, not at the first request
    if e.transport in ("socketpair", "pipe"):
        text = os.environ.get("IOMODELS_FDS", "")
        try:  # "R:W,R:W,...": a socket is one fd (R == W), a pipe connection two
            pairs = [tuple(map(int, entry.split(":"))) for entry in text.split(",")]
            if len(pairs) != e.connections or any(
                    len(p) != 2 or min(p) < 0 or (p[0] == p[1]) != (e.transport == "socketpair")
                    for p in pairs):
                raise ValueError
            for fd in {fd for p in pairs for fd in p}:
                os.fstat(fd)  # open?
            e.conns = [Conn(r, w, socket.socket(fileno=r) if r == w else None) for r, w in pairs]
        except (ValueError, OSError):
            die(f"IOMODELS_FDS={text!r}: not {e.connections} entries R:W of open fds "
                f"for {e.transport}")
    elif e.transport == "tcp":
        # sd_listen_fds(3): LISTEN_PID is ours, LISTEN_FDS counts from fd 3.
        if var("LISTEN_PID") != os.getpid() or var("LISTEN_FDS", lo=1) != 1:
            die("LISTEN_PID / LISTEN_FDS: no socket was passed to this process")
        fd = var("IOMODELS_LISTEN_FD", lo=SD_LISTEN_FDS_START, hi=SD_LISTEN_FDS_START)
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)  # not for our children (sd_listen_fds(1))
        try:
            e.listener = socket.socket(fileno=fd)
            if not e.listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                raise OSError(0, "not a listening socket")
        except OSError as err:
            die(f"fd {fd}: {err.strerror}")
    else:
        die(f"IOMODELS_TRANSPORT={e.transport!r}: not socketpair, pipe or tcp")
    return e
