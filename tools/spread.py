#!/usr/bin/python3
"""Runs one `iomodels run` scenario several times under each variant of some
flags, interleaved (variant A, B, A, B ...), and prints per variant the median,
the coefficient of variation (population standard deviation / mean) and the
range of CPU us/request and requests/s, the model's and the peer's. Made to compare run-to-run spread, e.g.
with and without CPU placement.

Usage: tools/spread.py [--binary PATH] [--repeat N] [--variant FLAGS]... -- run flags
Example: tools/spread.py --repeat 5 --variant "--cpus none" --variant "--cpus auto" \\
             -- -m epoll -c 64 -s 4KiB -l 1ms -r 200
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = (("cpu_us_per_req", "CPU us/req"), ("items_per_second", "requests/s"),
           ("peer.cpu_us_per_req", "peer CPU us/req"), ("peer.cpu_util", "peer CPU (cores)"))


def figure(result, key):
    for part in key.split("."):
        result = result.get(part) if isinstance(result, dict) else None
    return result


def default_binary():
    built = os.path.join(HERE, "..", "build", "release", "iomodels")
    installed = os.path.join(HERE, "iomodels")
    return built if os.access(built, os.X_OK) or not os.access(installed, os.X_OK) else installed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--variant", action="append", default=[],
                    help="flags added to the run for one variant (repeatable)")
    ap.add_argument("extra", nargs="*", help="flags for `iomodels run` (after --)")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        print(f"spread: {args.binary} is not built", file=sys.stderr)
        return 2
    if args.repeat < 2:
        print("spread: --repeat: at least 2 runs are needed for a spread", file=sys.stderr)
        return 2
    variants = args.variant or [""]
    results = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            for i, v in enumerate(variants):
                path = os.path.join(tmp, f"{i}-{rep}.json")
                cmd = [args.binary, "run", "--json", path] + shlex.split(v) + args.extra
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    print(f"spread: {' '.join(cmd)} failed: {p.stderr.strip()}", file=sys.stderr)
                    return 1
                with open(path) as f:
                    results[v].append(json.load(f))
    print(f"iomodels run {' '.join(args.extra)}: {args.repeat} interleaved runs per variant")
    print(f"| variant | figure | median | CV | min | max |")
    print(f"|---|---|---:|---:|---:|---:|")
    for v in variants:
        for key, label in FIGURES:
            xs = [figure(r, key) for r in results[v]]
            if any(x is None for x in xs):
                continue  # e.g. no peer on the file transport
            cv = 100 * statistics.pstdev(xs) / statistics.mean(xs) if statistics.mean(xs) else 0
            print(f"| {v or '(as given)'} | {label} | {statistics.median(xs):,.2f} | {cv:.1f}% "
                  f"| {min(xs):,.2f} | {max(xs):,.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
