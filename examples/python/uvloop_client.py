#!/usr/bin/python3
"""asyncio_client.py, the same coroutines, on uvloop's event loop (libuv,
written in Cython) instead of asyncio's own: async · non-blocking, the same
reactor on epoll, with less Python between epoll_wait and the coroutine.
Compare its CPU per request with asyncio_client.py's.

Needs the Debian package python3-uvloop; without it this example skips
itself (exit status 77).

Mirrors: coro-epoll
Quadrant: async-nonblocking
Expect: cpu=sleep

Run: build/release/iomodels run --exec "examples/python/uvloop_client.py" -c 8 -s 4KiB -l 5ms -r 50
"""
import asyncio
import sys

try:
    import uvloop
except ImportError:
    print("uvloop_client.py: skipped: python3-uvloop is not installed "
          "(apt-get install python3-uvloop)", file=sys.stderr)
    sys.exit(77)

from asyncio_client import client
from iomodels_client import run


def on_uvloop(env):
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(client(env))


if __name__ == "__main__":
    run(on_uvloop)
