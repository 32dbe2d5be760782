#!/usr/bin/python3
"""`setblocking(False)` + `BlockingIOError` — sync · non-blocking
(docs/python.md, seed 2), with `time.sleep(0.1)` between tries.

One thread, every connection non-blocking. Each sweep it (1) sends the next
request on every connection whose previous response is all in (and, open
loop, whose next request is due), then (2) tries recv() on every connection
waiting for a response: the kernel answers EAGAIN, Python raises
BlockingIOError, and the loop goes on to the next connection. A sweep that
found nothing sleeps 0.1 s. It uses little CPU, but a response that comes
during the sleep waits for it: the peer sees a turnaround near 100 ms.
nonblocking_spin.py is this loop without the sleep.

Mirrors: polling-sleep --poll-interval 100ms
Quadrant: sync-nonblocking
Expect: cpu=sleep turnaround=100ms

Run: build/release/iomodels run --exec "examples/python/nonblocking_sleep.py" -c 8 -s 4KiB -l 5ms -r 10
"""
import os
import time

from iomodels_client import Closed, Pacer, request_bytes, run


def sweep(env, pause):
    for conn in env.conns:
        if conn.sock:
            conn.sock.setblocking(False)  # the seed's line: O_NONBLOCK
        else:
            os.set_blocking(conn.rfd, False)  # a pipe: the read side
    pace = Pacer(env.rate)
    next_id = [0] * len(env.conns)  # the next request to send, per connection
    start = [None] * len(env.conns)  # the start of the one in flight, or None
    data = [b""] * len(env.conns)  # its response so far
    left = len(env.conns)  # connections not yet done
    while left:
        now = time.monotonic_ns()
        for c in env.conns:  # 1. ask where the previous response is in
            i = c.index
            if start[i] is None and next_id[i] < env.requests and pace.scheduled_ns(next_id[i]) <= now:
                start[i] = pace.start_ns(next_id[i], now)
                c.send(request_bytes(c, next_id[i]))
        found = False
        for c in env.conns:  # 2. try recv() on every connection waiting
            i = c.index
            if start[i] is None:
                continue
            try:
                chunk = c.recv(env.size - len(data[i]))
            except BlockingIOError:  # read() returned EAGAIN: nothing there yet
                continue
            if not chunk:
                raise Closed(f"connection {i}: closed by the peer")
            found = True
            data[i] += chunk
            if len(data[i]) == env.size:
                env.complete(c, next_id[i], start[i], data[i])
                start[i], data[i] = None, b""
                next_id[i] += 1
                left -= next_id[i] == env.requests
        if not found and pause:
            time.sleep(pause)  # the seed's sleep between tries


if __name__ == "__main__":
    run(lambda env: sweep(env, pause=0.1))
