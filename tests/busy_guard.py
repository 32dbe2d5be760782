#!/usr/bin/python3
# Description: runs a timing test's command; when it fails while other
# processes (or the hypervisor's steal) took more than a quarter of a core,
# ends as a ctest skip (77) that names the load, as the Catch2 timing cases do.
"""busy_guard.py -- CMD [ARG...]: run CMD; a failure on a busy machine is a skip.

The load of the rest of the machine is the machine's busy CPU time (the first
line of /proc/stat, steal included) minus this command's own, that of the
process tree it ran and reaped (getrusage of the children), over the wall time.
A command that passes, or fails on a quiet machine, keeps its exit code.
"""

import os
import resource
import subprocess
import sys
import time

SKIP = 77
BUSY_CORES = 0.25  # the bound tests/main.cc applies to the Catch2 timing cases


def machine_busy_s():
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        print("busy_guard.py: error: usage: busy_guard.py -- CMD [ARG...]", file=sys.stderr)
        return 2
    wall0, busy0, own0 = time.monotonic(), machine_busy_s(), children_cpu_s()
    try:
        rc = subprocess.call(argv[2:])
    except OSError as e:
        print(f"busy_guard.py: error: cannot run {argv[2]}: {e.strerror}", file=sys.stderr)
        return 2
    if rc in (0, SKIP):
        return rc
    wall = time.monotonic() - wall0
    # This script's own CPU is a few milliseconds: counted as the others'.
    others = (machine_busy_s() - busy0) - (children_cpu_s() - own0)
    if wall > 0 and others / wall > BUSY_CORES:
        print(f"skipped: the machine was busy: other processes (or the hypervisor's steal) "
              f"took {others / wall:.2f} core over the test's {wall:.2f} s (the bound is "
              f"{BUSY_CORES:.2f}); its timing checks above measured them, not the code "
              f"(exit status {rc})", file=sys.stderr)
        return SKIP
    return rc if rc > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
