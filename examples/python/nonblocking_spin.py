#!/usr/bin/python3
"""`setblocking(False)` + `BlockingIOError` — sync · non-blocking
(docs/python.md, seed 2), spinning: nonblocking_sleep.py's loop without the
sleep.

One thread, every connection non-blocking; it sweeps recv() over them again
and again, each try that finds nothing an EAGAIN (a system call spent for
nothing). Nobody ever sleeps: it notices a response at once (turnaround:
microseconds), and burns a whole core doing it.

Mirrors: polling
Quadrant: sync-nonblocking
Expect: cpu=spin

Run: build/release/iomodels run --exec "examples/python/nonblocking_spin.py" -c 8 -s 4KiB -l 5ms -r 50
"""
from iomodels_client import run
from nonblocking_sleep import sweep

if __name__ == "__main__":
    run(lambda env: sweep(env, pause=0))  # the same sweep, never sleeping
