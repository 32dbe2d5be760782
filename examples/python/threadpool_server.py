#!/usr/bin/python3
"""A concurrent.futures thread pool serving connections — async · blocking:
the server side of threadpool.py and the `threadpool` model.

The main thread only waits: in epoll_wait, for a connection with a request
(or, on tcp, for a connection to accept on the listening socket iomodels
passed as fd 3). It hands each ready connection to a ThreadPoolExecutor as
one task and goes back to waiting. The task is plain blocking I/O: read the
16-byte request (its first bytes are there; the rest, if it came in pieces,
is coming), write the response, then give the connection back to the
waiting thread. A connection is registered with EPOLLONESHOT, so it is
handed out once and the worker re-arms it when it is done: never two
workers on one connection, and no worker asleep on a connection with
nothing to read, whatever the number of connections. The pool has
Python's default size, min(32, cores + 4) workers; requests that come
while all are busy wait in the pool's queue, and the generator's latency,
counted from the schedule, shows that wait.

Role: server
Mirrors: threadpool
Quadrant: async-blocking
Expect: cpu=sleep cpu_max=0.35

Each request costs two thread wake-ups (the main thread's in epoll_wait,
then a worker's on the pool's queue) and the epoll_ctl that re-arms the
connection: about 95 us, 9.7 syscalls and 5 context switches a request,
0.19 core at 2000 requests/s over 8 socketpairs, twice the one-thread
servers: the bound says so.

Run: build/release/iomodels run --exec "examples/python/threadpool_server.py" --role server --offered 2000 -c 8 -s 4KiB -r 200
"""
import os
import select
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor

from iomodels_server import accepted, answer, environment, read_request

pool = ThreadPoolExecutor()
ep = select.epoll()  # the waiting thread's
conns = {}  # fd -> Conn: the connections being served
ONE_REQUEST = select.EPOLLIN | select.EPOLLONESHOT  # one wake-up, then off until re-armed


def one_request(conn):
    """A worker's task: the connection's request, its response, and the
    connection handed back to the waiting thread."""
    try:
        request = read_request(conn)  # blocking read; the request is (mostly) in
        if request is None:  # EOF: iomodels is done with this connection
            del conns[conn.rfd]
            return conn.close()  # closing it takes it out of the epoll set too
        conn.send(answer(request))
        ep.modify(conn.rfd, ONE_REQUEST)  # epoll_ctl(MOD): re-armed for the next request
    except ConnectionError:
        del conns[conn.rfd]
        conn.close()
    except BaseException:  # a future nobody reads would hide it
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


def serve(conn):
    conns[conn.rfd] = conn
    ep.register(conn.rfd, ONE_REQUEST)


def main():
    env = environment()
    for conn in env.conns:
        serve(conn)
    if env.listener:
        ep.register(env.listener.fileno(), select.EPOLLIN)
    while True:  # until SIGTERM
        for fd, _ in ep.poll():  # epoll_wait
            if env.listener and fd == env.listener.fileno():
                sock, _ = env.listener.accept()
                serve(accepted(sock))
            else:
                pool.submit(one_request, conns[fd])


if __name__ == "__main__":
    main()
