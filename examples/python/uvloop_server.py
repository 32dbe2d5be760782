#!/usr/bin/python3
"""asyncio_server.py, the same coroutines, on uvloop's event loop (libuv,
written in Cython) instead of asyncio's own: async · non-blocking, the same
reactor on epoll, with less Python between epoll_wait and the coroutine.
Compare its CPU per request with asyncio_server.py's.

Needs the Debian package python3-uvloop; without it this example skips
itself (exit status 77).

Role: server
Mirrors: coro-epoll
Quadrant: async-nonblocking
Expect: cpu=sleep cpu_max=0.15

About 45 us and 2.75 syscalls a request (asyncio's own loop: 80 us, 6.5),
0.09 core at 2000 requests/s over 8 socketpairs.

Run: build/release/iomodels run --exec "examples/python/uvloop_server.py" --role server --offered 2000 -c 8 -s 4KiB -r 200
"""
import asyncio
import sys

try:
    import uvloop
except ImportError:
    print("uvloop_server.py: skipped: python3-uvloop is not installed "
          "(apt-get install python3-uvloop)", file=sys.stderr)
    sys.exit(77)

from asyncio_server import server
from iomodels_server import environment

if __name__ == "__main__":
    env = environment()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(server(env))
