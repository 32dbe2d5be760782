#!/usr/bin/python3
"""`sock.recv()` — sync · blocking (docs/python.md, seed 1), as a real client.

One thread. Round after round, it serves the connections in turn: send the
request, then block in recv() until the whole response is in, check it, go
on to the next connection. The thread sleeps in the kernel while it waits,
so it uses almost no CPU, but only one request is ever in flight: N
connections take N waits per round. The peer sees it answer at once
(turnaround: microseconds).

Mirrors: blocking
Quadrant: sync-blocking
Expect: cpu=sleep

Run: build/release/iomodels run --exec "examples/python/blocking.py" -c 8 -s 4KiB -l 5ms -r 50
"""
from iomodels_client import Pacer, read_exact, request_bytes, run


def main(env):
    pace = Pacer(env.rate)  # t0: before the first request
    for id in range(env.requests):
        for conn in env.conns:
            start = pace.wait(id)  # open loop: sleep until it is due
            conn.send(request_bytes(conn, id))  # sock.sendall(req)
            data = read_exact(conn, env.size)  # data = sock.recv(n), until all n are in
            env.complete(conn, id, start, data)  # latency, then every byte checked


run(main)
