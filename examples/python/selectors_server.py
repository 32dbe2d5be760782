#!/usr/bin/python3
"""A reactor server on `selectors.DefaultSelector` (epoll on Linux), with a
callback per connection: the server side of selectors_callbacks.py, the
loop in plain sight.

One thread. Every descriptor is non-blocking and registered once
(epoll_ctl); the loop sleeps in epoll_wait until some are ready and calls
their handlers. The listener's handler accepts the connections that are
waiting; a connection's handler reads what is there, gathers 16-byte
requests from it, and writes each response. A response the socket cannot
take at once waits in the connection's buffer, and the connection is
watched for writing until it is gone. EOF: iomodels is done with the
connection, which is closed.

Role: server
Mirrors: epoll
Quadrant: async-nonblocking
Expect: cpu=sleep cpu_max=0.15

It sleeps in epoll_wait between requests; its CPU is its work per request
(a read, the payload made, a write) times the load: about 40 us and 2.75
syscalls a request, 0.08 core at 2000 requests/s over 8 socketpairs.

Run: build/release/iomodels run --exec "examples/python/selectors_server.py" --role server --offered 2000 -c 8 -s 4KiB -r 200
"""
import os
import selectors

from iomodels_server import Requests, accepted, answer, environment

sel = selectors.DefaultSelector()  # epoll_create1


class Connection:
    """One connection's state, and its handler."""

    def __init__(self, conn):
        self.conn, self.requests, self.out, self.writing = conn, Requests(), b"", False
        os.set_blocking(conn.rfd, False)  # O_NONBLOCK (the write side too: same socket)
        os.set_blocking(conn.wfd, False)
        sel.register(conn.rfd, selectors.EVENT_READ, self)  # epoll_ctl(ADD)

    def ready(self, events):  # the loop saw one of our descriptors ready
        if events & selectors.EVENT_READ:
            try:
                data = self.conn.recv(65536)
            except BlockingIOError:
                return
            except ConnectionError:
                data = b""
            if not data:
                return self.close()
            for request in self.requests.feed(data):
                self.out += answer(request)
        self.flush()

    def flush(self):  # write what the descriptor takes; watch it for the rest
        try:
            while self.out:
                self.out = self.out[os.write(self.conn.wfd, self.out):]
        except BlockingIOError:
            pass
        except ConnectionError:
            return self.close()
        self.watch_writes(bool(self.out))

    def watch_writes(self, on):
        if on == self.writing:
            return
        self.writing = on
        if self.conn.rfd == self.conn.wfd:  # a socket: one registration, both events
            sel.modify(self.conn.rfd, selectors.EVENT_READ | (selectors.EVENT_WRITE * on), self)
        elif on:  # a pipe connection: the write end is a descriptor of its own
            sel.register(self.conn.wfd, selectors.EVENT_WRITE, self)
        else:
            sel.unregister(self.conn.wfd)

    def close(self):
        self.watch_writes(False)
        sel.unregister(self.conn.rfd)
        self.conn.close()


class Acceptor:
    """The tcp listener's handler: accept every connection waiting."""

    def __init__(self, listener):
        self.listener = listener
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ, self)

    def ready(self, events):
        while True:
            try:
                sock, _ = self.listener.accept()  # accept4
            except BlockingIOError:
                return
            Connection(accepted(sock))


def main():
    env = environment()
    if env.listener:
        Acceptor(env.listener)
    for conn in env.conns:
        Connection(conn)
    while True:  # until SIGTERM
        for key, events in sel.select():  # epoll_wait
            key.data.ready(events)


if __name__ == "__main__":
    main()
