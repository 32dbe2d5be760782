#!/usr/bin/python3
"""`ThreadPoolExecutor(...).result()` — async · blocking (docs/python.md,
seed 3), as a real client.

The main thread submits one task per connection to a ThreadPoolExecutor
(each task: that connection's R requests, with plain blocking send and
recv), then waits on each future's result(). The workers sleep in recv()
(CPython releases the GIL there), the main thread sleeps on a futex in
result(): little CPU, and a response is noticed at once. The pool has
Python's default size, min(32, cores + 4) workers: with more connections
than workers the others wait for a free one, as in the built-in model, and
their open-loop latencies show that wait.

Mirrors: threadpool
Quadrant: async-blocking
Expect: cpu=sleep

Run: build/release/iomodels run --exec "examples/python/threadpool.py" -c 8 -s 4KiB -l 5ms -r 50
"""
from concurrent.futures import ThreadPoolExecutor

from iomodels_client import Pacer, read_exact, request_bytes, run


def serve(env, pace, conn):
    """One connection's requests, blocking: what a worker runs."""
    for id in range(env.requests):
        start = pace.wait(id)  # open loop: sleep until it is due
        conn.send(request_bytes(conn, id))
        data = read_exact(conn, env.size)  # the worker sleeps in recv()
        env.complete(conn, id, start, data)


def main(env):
    pace = Pacer(env.rate)
    with ThreadPoolExecutor() as ex:
        futures = [ex.submit(serve, env, pace, conn) for conn in env.conns]
        for fut in futures:
            fut.result()  # sleeps on a futex; raises what the task raised


run(main)
