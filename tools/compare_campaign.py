#!/usr/bin/python3
"""Measures how often `iomodels compare` calls two runs of one build different:
2N runs of the same `iomodels bench` grid, in the order old, new, new, old, ...,
compared two ways:
  - one file a side (old_i against new_i, N comparisons): the repetitions of
    one run are the unit;
  - --old/--new with G files a side (N/G comparisons): each file's median is
    one sample.
Every verdict 'worse' or 'better' is a false alarm (nothing changed). Prints a
Markdown table per unit: comparisons, figure rows judged, false alarms, and the
comparisons with at least one.

Usage: tools/compare_campaign.py [--binary PATH] [--pairs N] [--group G] [--out DIR]
                                 [-- bench flags]
Default bench flags: --models=epoll,uring --connections=64 --sizes=4096
  --latencies=1ms --benchmark_repetitions=5 --benchmark_min_time=0.1
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab_campaign import default_binary  # noqa: E402

PROG = "compare_campaign.py"
FIGURES = ("cpu_us_per_req", "items_per_second")
DEFAULT_BENCH = ["--models=epoll,uring", "--connections=64", "--sizes=4096", "--latencies=1ms",
                 "--benchmark_repetitions=5", "--benchmark_min_time=0.1"]


def refuse(what):
    print(f"{PROG}: error: {what}", file=sys.stderr)
    return 2


def judge(binary, args):
    """Runs compare; returns (rows judged, false alarms) over FIGURES."""
    p = subprocess.run([binary, "compare", *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"compare {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    rows = alarms = 0
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] not in FIGURES:
            continue
        if line.endswith(" too few") or line.endswith(" -"):
            continue
        rows += 1
        alarms += line.endswith(" worse") or line.endswith(" better")
    return rows, alarms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--pairs", type=int, default=16, help="N: runs per side (default 16)")
    ap.add_argument("--group", type=int, default=4, help="G: files a side (default 4)")
    ap.add_argument("--out", help="keep the runs' JSON in this directory")
    ap.add_argument("bench", nargs="*", help="flags for `iomodels bench` (after --)")
    args = ap.parse_args()
    if not 1 <= args.pairs <= 1000:
        return refuse(f"--pairs: {args.pairs} is outside 1..1000")
    if not 2 <= args.group <= args.pairs:
        return refuse(f"--group: {args.group} is outside 2..--pairs ({args.pairs})")
    if not os.access(args.binary, os.X_OK):
        return refuse(f"--binary: {args.binary} is not built")
    if args.out and os.path.exists(args.out) and os.listdir(args.out):
        return refuse(f"--out: {args.out} is not empty")
    bench = args.bench or DEFAULT_BENCH
    out = args.out or tempfile.mkdtemp(prefix="iomodels-compare-campaign-")
    os.makedirs(out, exist_ok=True)
    try:
        return campaign(args, bench, out)
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)


def campaign(args, bench, out):

    olds, news = [], []
    started = time.monotonic()
    for i in range(args.pairs):
        # old, new, new, old, ...: the drift falls on both sides alike.
        order = ("old", "new") if i % 2 == 0 else ("new", "old")
        for side in order:
            path = os.path.join(out, f"{side}-{i:03d}.json")
            p = subprocess.run([args.binary, "bench", *bench, f"--benchmark_out={path}",
                                "--benchmark_out_format=json"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                return refuse(f"bench exited {p.returncode}: {p.stderr.strip()[-300:]}")
            (olds if side == "old" else news).append(path)
    wall = time.monotonic() - started

    table = []
    for unit, comparisons in (
            ("the repetition (one file a side)",
             [[olds[i], news[i]] for i in range(args.pairs)]),
            (f"the run ({args.group} files a side)",
             [["--old", *olds[g:g + args.group], "--new", *news[g:g + args.group]]
              for g in range(0, args.pairs - args.group + 1, args.group)])):
        rows = alarms = touched = 0
        for c in comparisons:
            r, a = judge(args.binary, c)
            rows += r
            alarms += a
            touched += a > 0
        table.append((unit, len(comparisons), rows, alarms, touched))

    print(f"A/A: {2 * args.pairs} runs of `iomodels bench {' '.join(bench)}` "
          f"({wall:.0f} s), figures {', '.join(FIGURES)}\n")
    print("| unit | comparisons | rows judged | false alarms | comparisons with one |")
    print("|---|---:|---:|---:|---:|")
    for unit, n, rows, alarms, touched in table:
        pct = f" ({100 * alarms / rows:.0f}%)" if rows else ""
        print(f"| {unit} | {n} | {rows} | {alarms}{pct} | {touched} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
