#!/usr/bin/python3
"""A server that breaks one rule of the server role (docs/protocol.md) on
purpose, for the tests of `iomodels run --exec --role server`. It serves
every transport (tcp by socket activation: fd 3, LISTEN_FDS, LISTEN_PID), one
thread per connection, and misbehaves as argv[1] says:

  good        breaks nothing (the control case); first checks what socket
              activation promises (LISTEN_FDS=1, LISTEN_PID its own pid,
              LISTEN_FDNAMES, fd 3 a listening socket) and exits 3 if not
  wrong-byte  the 10th response has one wrong byte
  die         exits 4 after 10 responses
  close-one   closes the connection of its 10th response, then serves on
  exit-1      serves, but exits 1 at the end of its connections
  ignore-term serves, then ignores SIGTERM and never exits
  orphan      serves, and leaves a child sleeping in its process group

argv[2], when given, is a file the program writes its pid (and an orphan's)
into, so a test can check that nothing is left running.
"""
import os
import signal
import socket
import struct
import sys
import threading

M64 = (1 << 64) - 1
mode = sys.argv[1]
if len(sys.argv) > 2:
    with open(sys.argv[2], 'a') as f:
        f.write('%d\n' % os.getpid())
lock = threading.Lock()
served = 0


def mix64(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def payload(conn, id, size):
    key = mix64(((conn << 40) ^ id ^ 0x6a09e667f3bcc909) & M64)
    words = (size + 7) // 8
    return b''.join((key ^ ((k * 0x9e3779b97f4a7c15) & M64)).to_bytes(8, 'little')
                    for k in range(words))[:size]


def serve(rfd, wfd):
    global served
    buf = b''
    while True:
        data = os.read(rfd, 65536)
        if not data:
            return
        buf += data
        while len(buf) >= 16:
            conn, size, id = struct.unpack('<IIQ', buf[:16])
            buf = buf[16:]
            out = bytearray(payload(conn, id, size))
            with lock:
                served += 1
                n = served
            if mode == 'wrong-byte' and n == 10:
                out[size // 2] ^= 0xFF
            if mode == 'die' and n > 10:
                os._exit(4)
            if mode == 'close-one' and n == 10:
                os.close(rfd)
                if wfd != rfd:
                    os.close(wfd)
                return
            view = memoryview(out)
            while view:
                view = view[os.write(wfd, view):]


if mode == 'orphan':
    if os.fork() == 0:
        if len(sys.argv) > 2:
            with open(sys.argv[2], 'a') as f:
                f.write('%d\n' % os.getpid())
        os.execv('/bin/sleep', ['sleep', '600'])
if mode == 'ignore-term':
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

threads, keep = [], []
if os.environ['IOMODELS_TRANSPORT'] == 'tcp':
    if mode == 'good':
        ok = (os.environ.get('LISTEN_FDS') == '1' and os.environ.get('LISTEN_PID') == str(os.getpid())
              and os.environ.get('LISTEN_FDNAMES') == 'iomodels'
              and os.environ.get('IOMODELS_LISTEN_FD') == '3')
        listener = socket.socket(fileno=3)
        if not ok or listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) != 1:
            sys.stderr.write('socket activation not as promised: %r\n' % {
                k: os.environ.get(k) for k in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES')})
            sys.exit(3)
    else:
        listener = socket.socket(fileno=3)
    for _ in range(int(os.environ['IOMODELS_CONNECTIONS'])):
        c, _ = listener.accept()
        keep.append(c)
        threads.append(threading.Thread(target=serve, args=(c.fileno(), c.fileno())))
else:
    for pair in os.environ['IOMODELS_FDS'].split(','):
        r, w = map(int, pair.split(':'))
        threads.append(threading.Thread(target=serve, args=(r, w)))
for t in threads:
    t.start()
for t in threads:
    t.join()
if mode == 'exit-1':
    sys.exit(1)
if mode == 'ignore-term':
    threading.Event().wait()
