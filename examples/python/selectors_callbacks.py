#!/usr/bin/python3
"""`loop.add_reader` and a callback — async · non-blocking, a reactor
(docs/python.md, seed 4), written on `selectors.DefaultSelector` (epoll on
Linux) so the loop is in plain sight.

Every connection is non-blocking and registered with a callback (epoll_ctl).
The loop sleeps in epoll_wait until some are readable, then calls their
callbacks: each reads what is there, and once its response is all in,
checks it and sends the next request. All connections are in flight at
once, the thread sleeps while they wait, and a response is noticed at once.
Open loop: a request not yet due waits in a heap of timers, and the loop's
epoll_wait timeout is the first one's time.

Mirrors: epoll
Quadrant: async-nonblocking
Expect: cpu=sleep

Run: build/release/iomodels run --exec "examples/python/selectors_callbacks.py" -c 8 -s 4KiB -l 5ms -r 50
"""
import heapq
import os
import selectors
import time

from iomodels_client import Closed, Pacer, request_bytes, run

sel = selectors.DefaultSelector()  # epoll_create1
timers = []  # a heap of (due_ns, index, client): open-loop requests not yet due


class Client:
    """One connection's state, and its callback."""

    def __init__(self, env, pace, conn):
        self.env, self.pace, self.conn, self.id, self.data = env, pace, conn, 0, b""

    def ask(self, now):  # send request self.id, or wait in the heap until it is due
        due = self.pace.scheduled_ns(self.id)
        if due > now:
            heapq.heappush(timers, (due, self.conn.index, self))
            return
        self.start = self.pace.start_ns(self.id, now)
        self.conn.send(request_bytes(self.conn, self.id))

    def on_readable(self):  # the callback: the loop saw the connection readable
        chunk = self.conn.recv(self.env.size - len(self.data))
        if not chunk:
            raise Closed(f"connection {self.conn.index}: closed by the peer")
        self.data += chunk
        if len(self.data) < self.env.size:
            return  # the rest comes later: back to the loop
        self.env.complete(self.conn, self.id, self.start, self.data)
        self.id, self.data = self.id + 1, b""
        if self.id < self.env.requests:
            self.ask(time.monotonic_ns())
        else:
            sel.unregister(self.conn)


def main(env):
    pace = Pacer(env.rate)
    for conn in env.conns:
        os.set_blocking(conn.fileno(), False)  # O_NONBLOCK: sock.setblocking(False)
        client = Client(env, pace, conn)
        sel.register(conn, selectors.EVENT_READ, client.on_readable)  # epoll_ctl(ADD)
        client.ask(time.monotonic_ns())
    while sel.get_map():  # until every connection is done
        timeout = max(0, timers[0][0] - time.monotonic_ns()) / 1e9 if timers else None
        for key, _ in sel.select(timeout):  # epoll_wait
            key.data()  # on_readable()
        now = time.monotonic_ns()
        while timers and timers[0][0] <= now:  # open loop: requests now due
            heapq.heappop(timers)[2].ask(now)


run(main)
