#!/usr/bin/python3
"""socketserver.ThreadingTCPServer — sync · blocking, one thread per
connection: the server side of the `threads` model.

On tcp the server is built around the listening socket iomodels passed as
fd 3 (socket activation, so nothing is bound here): serve_forever() accepts
each connection and starts a thread that runs the handler, a plain loop of
blocking reads and writes: read 16 bytes, write the response, until EOF.
On pipe and socketpair the connections are already open, so the same
handler runs in one thread per connection, started here. Every thread
sleeps in read() while its connection has no request; CPython releases the
GIL there, so the waits overlap.

Role: server
Mirrors: threads
Quadrant: sync-blocking
Expect: cpu=sleep cpu_max=0.2

Each request wakes its connection's thread (two context switches a
request): about 50 us, 0.10 core at 2000 requests/s over 8 socketpairs.

Run: build/release/iomodels run --exec "examples/python/threading_server.py" --role server --offered 2000 -c 8 -s 4KiB -r 200
"""
import socketserver
import threading

from iomodels_server import accepted, answer, environment, read_request, serve_forever


def serve(conn):
    """One connection, blocking: what each thread runs."""
    while (request := read_request(conn)) is not None:  # sleeps in read()
        try:
            conn.send(answer(request))
        except ConnectionError:
            return


class Handler(socketserver.BaseRequestHandler):
    def handle(self):  # in the connection's own thread; the server closes it after
        serve(accepted(self.request))


class InheritedServer(socketserver.ThreadingTCPServer):
    """ThreadingTCPServer on a socket that is already bound and listening."""
    daemon_threads = True  # SIGTERM ends the process; no thread to wait for

    def __init__(self, listener):
        super().__init__(listener.getsockname(), Handler, bind_and_activate=False)
        self.socket.close()  # the one it made, unbound
        self.socket = listener


def serve_and_close(conn):
    serve(conn)
    conn.close()


def main():
    env = environment()
    if env.listener:
        InheritedServer(env.listener).serve_forever()  # accepts until SIGTERM
    for conn in env.conns:
        threading.Thread(target=serve_and_close, args=(conn,), daemon=True).start()
    serve_forever()


if __name__ == "__main__":
    main()
