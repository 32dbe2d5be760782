#!/usr/bin/python3
"""A client that breaks one rule of docs/protocol.md on purpose, for the tests
of `iomodels run --exec`: it speaks the protocol (socketpair or pipe, blocking,
one connection after another) and misbehaves as argv[1] says:

  good        breaks nothing (the control case)
  wrong-size  one request asks for a size other than IOMODELS_SIZE
  wrong-byte  one response byte is checked wrong: exits 1 as a client must
  stop-early  exits 0 after half of its requests
  hang        connects, sends one request, then sleeps forever
  orphan      works, but leaves a child sleeping in its process group
  bad-report  reports a latency line that is not three numbers
  report-negative, report-conn, report-id, report-twice, report-long
              report a negative latency, a connection or an id the program
              does not have, one request twice, or a latency longer than
              the program ran
  cpus        breaks nothing, and writes the CPUs it may run on into argv[2]

argv[2], when given, is a file the program writes its pid (and an orphan's)
into, so a test can check that nothing is left running.
"""
import os
import socket
import struct
import sys
import time

mode = sys.argv[1]
if mode == 'cpus':
    with open(sys.argv[2], 'w') as f:
        f.write(','.join(str(c) for c in sorted(os.sched_getaffinity(0))))
elif len(sys.argv) > 2:
    with open(sys.argv[2], 'a') as f:
        f.write('%d\n' % os.getpid())
size = int(os.environ['IOMODELS_SIZE'])
rounds = int(os.environ['IOMODELS_REQUESTS'])
report = os.fdopen(int(os.environ['IOMODELS_REPORT_FD']), 'w')
conns = [tuple(map(int, e.split(':'))) for e in os.environ['IOMODELS_FDS'].split(',')]
total = rounds * len(conns)

if mode == 'orphan':
    pid = os.fork()
    if pid == 0:
        os.execv('/bin/sleep', ['sleep', '1000'])
    with open(sys.argv[2], 'a') as f:
        f.write('%d\n' % pid)

done = 0
for conn, (r, w) in enumerate(conns):
    for i in range(rounds):
        if mode == 'stop-early' and done == total // 2:
            sys.exit(0)
        want = size + 1 if mode == 'wrong-size' and done == 1 else size
        t = time.monotonic_ns()
        os.write(w, struct.pack('<IIQ', conn, want, i))
        if mode == 'hang':
            time.sleep(1000)
        got = 0
        while got < want:
            chunk = os.read(r, want - got)
            if not chunk:
                sys.exit('connection %d closed' % conn)
            got += len(chunk)
        if mode == 'wrong-byte' and done == 2:
            sys.exit('connection %d request %d offset 0: expected 0x16, got 0x17' % (conn, i))
        line = '%d %d %d\n' % (conn, i, time.monotonic_ns() - t)
        if mode == 'bad-report':
            line = 'oops\n'
        elif mode == 'report-negative':
            line = '%d %d -7\n' % (conn, i)
        elif mode == 'report-conn':
            line = '%d %d 1000\n' % (len(conns) + 3, i)
        elif mode == 'report-id':
            line = '%d %d 1000\n' % (conn, rounds)
        elif mode == 'report-twice' and done == 1:
            line = '0 0 1000\n'
        elif mode == 'report-long':
            line = '%d %d %d\n' % (conn, i, 10**15)
        report.write(line)
        done += 1
report.close()
