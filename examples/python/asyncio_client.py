#!/usr/bin/python3
"""`async def` / `await` — async · non-blocking (docs/python.md, seed 5), as a
real asyncio client.

One coroutine per connection, all started together with asyncio.gather:
each sends a request, `await`s its whole response (readexactly), checks it
and asks again. Underneath, asyncio's loop is a reactor on epoll (seed 4):
an `await` suspends the coroutine, epoll_wait wakes the loop when bytes
come, and a callback resumes it. One thread, asleep in epoll_wait while it
waits. Sockets come in through asyncio.open_connection(sock=...), a pipe
through loop.connect_read_pipe / connect_write_pipe. uvloop_client.py runs
this same code on uvloop's loop.

Mirrors: coro-epoll
Quadrant: async-nonblocking
Expect: cpu=sleep cpu_max=0.25

It sleeps in epoll_wait, but each request costs more CPU than the other
Python clients (60-90 us at 8 connections x 4 KiB x 5 ms: 0.09-0.14
core, where the others stay at or under 0.07): asyncio's transport reads up to 256 KiB
at a time (max_size), a buffer glibc serves with mmap and frees with munmap
on every read, which the syscall count shows (about 5.8 a request, against
uvloop's 2.3). That is asyncio as written, so it stays; the bound above is
the one this work needs, not a spin.

Run: build/release/iomodels run --exec "examples/python/asyncio_client.py" -c 8 -s 4KiB -l 5ms -r 50
"""
import asyncio
import os
import time

from iomodels_client import Closed, Pacer, request_bytes, run


async def open_streams(conn):
    """(reader, writer) for a connection: a socket, or a pipe's two fds."""
    if conn.sock:
        return await asyncio.open_connection(sock=conn.sock)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(conn.rfd, "rb", buffering=0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(conn.wfd, "wb", buffering=0))
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def serve(env, pace, conn):
    reader, writer = await open_streams(conn)
    for id in range(env.requests):
        if (wait := pace.scheduled_ns(id) - time.monotonic_ns()) > 0:
            await asyncio.sleep(wait / 1e9)  # open loop: until it is due
        start = pace.start_ns(id, time.monotonic_ns())
        writer.write(request_bytes(conn, id))
        try:
            data = await reader.readexactly(env.size)  # suspends; epoll wakes the loop
        except asyncio.IncompleteReadError as err:
            raise Closed(f"connection {conn.index}: closed after {len(err.partial)} bytes")
        env.complete(conn, id, start, data)


async def client(env):
    pace = Pacer(env.rate)
    await asyncio.gather(*(serve(env, pace, conn) for conn in env.conns))


if __name__ == "__main__":
    run(lambda env: asyncio.run(client(env)))
