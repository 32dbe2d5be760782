#!/usr/bin/python3
"""Runs one example (examples/python, examples/node) under
`iomodels run --exec` and checks it. A client:

  verify  on socketpair, pipe and tcp, closed and open loop: exit 0, every
          request served (the peer checks each), every latency reported;
  cpu     at 8 socketpair connections x 4 KiB x 5 ms: the CPU the example's
          own "Expect:" line promises (cpu=spin: >= 0.8 core; cpu=sleep:
          <= 0.1 core, or its cpu_max=) and, with turnaround=100ms, a median turnaround near
          100 ms (the time it sleeps between tries).

An example whose docstring says "Role: server" is a server, run with
--role server at 2000 requests/s offered over 8 connections x 4 KiB:

  verify  on socketpair, pipe and tcp: exit 0, and the generator sent every
          request, got every response and verified every byte of it;
  cpu     on socketpair: the CPU its "Expect:" line promises, as above.

usage: exec_example.py IOMODELS EXAMPLE verify|cpu
An example that skips itself (exit 77, a line "...: skipped: reason") is a
skip here too (exit 77), with its reason.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77


def fail(msg):
    print("FAILED: " + msg)
    sys.exit(1)


def expectations(path):
    """{'cpu': 'spin'|'sleep', 'turnaround': '100ms', 'quadrant': ...} from the
    example's "Expect:" and "Quadrant:" lines."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.search(r"Expect:\s*(.*)", line)
            if m:
                for part in m.group(1).split():
                    k, _, v = part.partition("=")
                    out[k] = v
            m = re.search(r"Quadrant:\s*(\S+)", line)
            if m:
                out["quadrant"] = m.group(1)
            m = re.search(r"Role:\s*(\S+)", line)
            if m:
                out["role"] = m.group(1)
    return out


def run(binary, example, args):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        cmd = [binary, "run", "--exec", example, "--json", out] + args
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        text = p.stdout + p.stderr
        if "exited with status 77" in text:
            reason = re.search(r"skipped: (.*)", text)
            print("skipped: " + (reason.group(1) if reason else "the example skipped itself"))
            sys.exit(SKIP)
        if p.returncode != 0:
            fail(" ".join(cmd) + "\n" + text)
        with open(out, encoding="utf-8") as f:
            return json.load(f), text


def verify(binary, example):
    for transport in ("socketpair", "pipe", "tcp"):
        for extra in ([], ["--rate", "200"]):
            args = ["-t", transport, "-c", "4", "-s", "4097", "-l", "1ms", "-r", "5"] + extra
            j, text = run(binary, example, args)
            where = "%s %s" % (transport, " ".join(extra))
            if j["peer"]["requests"] != 20 or j["requests"] != 20:
                fail("%s: %s requests served, not 20\n%s" % (where, j["peer"]["requests"], text))
            if j["exec"]["latencies_reported"] != 20:
                fail("%s: %s latencies reported, not 20\n%s"
                     % (where, j["exec"]["latencies_reported"], text))
            print("ok: %s" % where)


# The server role's workload: 8 connections x 200 requests of 4 KiB, 2000
# requests/s offered in all (0.8 s; the generator times every request).
SERVER = ["--role", "server", "--offered", "2000", "-c", "8", "-s", "4KiB"]
SERVER_REQUESTS = 8 * 200


def verify_server(binary, example):
    for transport in ("socketpair", "pipe", "tcp"):
        j, text = run(binary, example, SERVER + ["-r", "200", "-t", transport])
        g = j.get("generator") or {}
        if j["scenario"]["role"] != "server" or not g:
            fail("%s: not measured in the server role\n%s" % (transport, text))
        if g["bad_bytes"] != 0:
            fail("%s: %d bad bytes in the responses\n%s" % (transport, g["bad_bytes"], text))
        if g["responses"] < SERVER_REQUESTS or j["requests"] < SERVER_REQUESTS:
            fail("%s: %s responses verified (%s requests), not %d\n%s"
                 % (transport, g["responses"], j["requests"], SERVER_REQUESTS, text))
        print("ok: %s, %d responses verified, %.0f/s of %.0f/s offered"
              % (transport, g["responses"], g["achieved_per_s"], g["offered_per_s"]))


def cpu(binary, example):
    want = expectations(example)
    if "cpu" not in want:
        fail(example + " has no 'Expect: cpu=spin|sleep' line")
    slow = "turnaround" in want
    rounds = "10" if slow else "100"
    if want.get("role") == "server":
        j, text = run(binary, example, SERVER + ["-r", "400", "-t", "socketpair"])
    else:
        j, text = run(binary, example, ["-t", "socketpair", "-c", "8", "-s", "4KiB", "-l", "5ms",
                                        "-r", rounds])
    print(text)
    util = j["cpu_util"]
    if want["cpu"] == "spin" and util < 0.8:
        fail("it should spin (>= 0.8 core) but used %.2f core" % util)
    # A sleeping client's CPU is its work per request times the rate; an
    # example whose work is heavier says so (cpu_max=) and why, next to it.
    limit = float(want.get("cpu_max", "0.1"))
    if want["cpu"] == "sleep" and util > limit:
        fail("it should sleep (<= %.2f core) but used %.2f core" % (limit, util))
    if slow:
        target = float(want["turnaround"].rstrip("ms"))
        p50 = j["exec"]["turnaround_us"]["p50"] / 1e3
        if not 0.6 * target <= p50 <= 1.4 * target:
            fail("median turnaround %.1f ms, not near %.0f ms" % (p50, target))
    print("ok: %.2f core, as 'Expect: cpu=%s' says" % (util, want["cpu"]))


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("verify", "cpu"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    binary, example, mode = sys.argv[1:]
    if mode == "cpu":
        cpu(binary, example)
    elif expectations(example).get("role") == "server":
        verify_server(binary, example)
    else:
        verify(binary, example)


if __name__ == "__main__":
    main()
