#!/usr/bin/python3
"""An asyncio streams server — async · non-blocking: one coroutine per
connection, the server side of asyncio_client.py.

On tcp, asyncio.start_server(sock=...) takes the listening socket iomodels
passed as fd 3 and starts handle() for each connection it accepts; a
socketpair comes in through asyncio.open_connection(sock=...), a pipe
connection through loop.connect_read_pipe / connect_write_pipe (the
client's open_streams). handle() `await`s 16 bytes (readexactly), writes
the response and `await`s drain(); at EOF it closes the connection.
Underneath, asyncio's loop is a reactor on epoll: one thread, asleep in
epoll_wait while no request is in. uvloop_server.py runs this same code on
uvloop's loop.

Role: server
Mirrors: coro-epoll
Quadrant: async-nonblocking
Expect: cpu=sleep cpu_max=0.25

It sleeps in epoll_wait, but asyncio's streams cost more per request than
selectors_server.py's plain callbacks (a task switch, StreamReader's
buffer, the transport's 256 KiB reads): about 80 us and 6.5 syscalls a
request, 0.16 core at 2000 requests/s over 8 socketpairs: the bound says so.

Run: build/release/iomodels run --exec "examples/python/asyncio_server.py" --role server --offered 2000 -c 8 -s 4KiB -r 200
"""
import asyncio
import socket

from asyncio_client import open_streams
from iomodels_server import answer, environment, parse

REQUEST_BYTES = 16


async def handle(reader, writer):
    """One connection: a request, its response, until EOF."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # asyncio's default too
    try:
        while True:
            head = await reader.readexactly(REQUEST_BYTES)  # suspends; epoll wakes the loop
            writer.write(answer(parse(head)))
            await writer.drain()  # waits only if the socket's buffer is full
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # EOF: iomodels is done with this connection
    writer.close()


async def server(env):
    if env.listener:
        srv = await asyncio.start_server(handle, sock=env.listener)
        await srv.serve_forever()  # until SIGTERM
    tasks = [asyncio.create_task(handle(*await open_streams(conn))) for conn in env.conns]
    await asyncio.gather(*tasks)
    await asyncio.Event().wait()  # every connection closed: wait for SIGTERM


if __name__ == "__main__":
    asyncio.run(server(environment()))
