#!/usr/bin/python3
"""The thread-per-core models over their loop count: `iomodels run` of
epoll-tpc and uring-tpc at --threads 1, 2, 4, ... up to the CPUs this process
may use (nproc), 64 connections x 4 KiB x 1 ms in the client role, in
interleaved repetitions (each repetition runs every point once, in a shuffled
order, so that a disturbance spreads over the points instead of spoiling one).
Writes OUT/threads.json (every repetition's figures, and each point's median
with its 95% interval of CPU per request and of requests/s) and prints a
Markdown table of them.

usage: tools/threads_sweep.py --out DIR [--binary PATH] [--max-threads N]
                              [--repetitions R] [--rounds N] [--models M,M]

The loops are not pinned (no --cpus): the scheduler places them, as for the
suite's other runs. With the defaults and 64 CPUs it is 2 models x 7 loop
counts x 6 repetitions of about 0.3 s: under a minute.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

# The workload of the sweep: the suite's client-role point, 64 connections x
# 4 KiB x 1 ms; --threads beyond the connections would be clamped to them.
CONNECTIONS = 64
WORKLOAD = ["-c", str(CONNECTIONS), "-s", "4KiB", "-l", "1ms"]
MODELS = ("epoll-tpc", "uring-tpc")
# The fewest repetitions whose order-statistic interval of the median reaches 95%.
MIN_REPETITIONS = 6


def _use_plotlib():
    """Puts the plotlib package on the path: beside this script in the source
    tree, or in ../share/iomodels when installed as iomodels-threads-sweep."""
    here = os.path.dirname(os.path.realpath(__file__))
    for d in (here, os.path.join(os.path.dirname(here), "share", "iomodels")):
        if os.path.isfile(os.path.join(d, "plotlib", "__init__.py")):
            if d not in sys.path:
                sys.path.insert(0, d)
            return
    fail(f"its plotlib package is neither in {here} nor in "
         f"{os.path.join(os.path.dirname(here), 'share', 'iomodels')}")


def fail(msg, code=2):
    print(f"threads_sweep.py: error: {msg}", file=sys.stderr)
    sys.exit(code)


def default_binary():
    here = os.path.dirname(os.path.realpath(__file__))
    built = os.path.join(here, "..", "build", "release", "iomodels")
    installed = os.path.join(here, "iomodels")
    return built if os.access(built, os.X_OK) or not os.access(installed, os.X_OK) else installed


def cores():
    """The CPUs this process may run on, as nproc counts them."""
    return len(os.sched_getaffinity(0))


def thread_counts(most):
    """1, 2, 4, ... below `most`, then `most` itself (never above the
    connections: a loop needs one)."""
    most = min(most, CONNECTIONS)
    out, n = [], 1
    while n < most:
        out.append(n)
        n *= 2
    out.append(most)
    return out


def summary(values):
    """The median and its 95% interval (order statistics); from fewer than 6
    values the interval is the range and covers less than 95%."""
    from plotlib.inputs import median_interval

    lo, hi, coverage = median_interval(values)
    return {"median": statistics.median(values), "lo": lo, "hi": hi, "coverage": coverage}


def cell(s, fmt):
    return f"{fmt % s['median']} [{fmt % s['lo']}, {fmt % s['hi']}]"


def markdown(doc):
    """The table the suite keeps beside threads.json and prints."""
    lines = [f"| model | --threads | loops | CPU µs/request | requests/s |",
             "|---|---:|---:|---:|---:|"]
    for p in doc["points"]:
        lines.append(f"| `{p['model']}` | {p['threads']} | {p['loops']} | "
                     f"{cell(p['cpu_us_per_req'], '%.2f')} | "
                     f"{cell(p['requests_per_s'], '%.0f')} |")
    lines.append("")
    lines.append(f"`iomodels run {' '.join(doc['workload'])} -r {doc['rounds']}` (client role) "
                 f"on {doc['cores']} CPUs: medians [95% interval] over {doc['repetitions']} "
                 f"interleaved repetitions; the loops not pinned.")
    if doc["repetitions"] < MIN_REPETITIONS:
        lines.append(f"With fewer than {MIN_REPETITIONS} repetitions the interval is the range, "
                     f"which covers the median with less than 95%.")
    for model, why in sorted(doc.get("skipped", {}).items()):
        lines.append(f"`{model}` skipped: {why}")
    return "\n".join(lines) + "\n"


def run_once(binary, model, threads, rounds, path):
    """One run's JSON, or the one-line reason it is not applicable (exit 2)."""
    cmd = [binary, "run", "-m", model, "--threads", str(threads), *WORKLOAD, "-r", str(rounds),
           "--json", path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode == 2 and "not applicable" in p.stderr:
        return None, p.stderr.strip().splitlines()[-1]
    if p.returncode != 0:
        fail(f"'{' '.join(cmd)}' failed (exit {p.returncode}): {p.stderr.strip()}", code=1)
    with open(path, encoding="utf-8") as f:
        return json.load(f), None


def sweep(binary, models, counts, repetitions, rounds, seed=None):
    rng = random.Random(seed)
    points = [(m, n) for m in models for n in counts]
    runs = {p: [] for p in points}
    skipped = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repetitions):
            order = [p for p in points if p[0] not in skipped]
            rng.shuffle(order)
            for model, n in order:
                if model in skipped:
                    continue
                path = os.path.join(tmp, f"{model}-{n}-{rep}.json")
                j, why = run_once(binary, model, n, rounds, path)
                if j is None:
                    skipped[model] = why
                    continue
                runs[(model, n)].append(j)
    out = []
    for (model, n), js in runs.items():
        if model in skipped or not js:
            continue
        loops = js[0].get("model_facts", {}).get("threads", n)
        out.append({"model": model, "threads": n, "loops": loops,
                    "cpu_us_per_req": summary([j["cpu_us_per_req"] for j in js]),
                    "requests_per_s": summary([j["items_per_second"] for j in js]),
                    "repetitions": [{"cpu_us_per_req": j["cpu_us_per_req"],
                                     "requests_per_s": j["items_per_second"]} for j in js]})
    return out, skipped


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for threads.json")
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--max-threads", type=int, default=cores(),
                    help="the largest --threads (default: nproc)")
    ap.add_argument("--repetitions", type=int, default=MIN_REPETITIONS)
    ap.add_argument("--rounds", type=int, default=200,
                    help="requests per connection per run (at 1 ms, about 0.2 s)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.max_threads < 1:
        fail(f"--max-threads: {a.max_threads} is not a count of threads (1 or more)")
    if a.repetitions < 2:
        fail(f"--repetitions: {a.repetitions}; an interval needs at least 2 (95% needs "
             f"{MIN_REPETITIONS})")
    if a.rounds < 1:
        fail(f"--rounds: {a.rounds} is not a count of requests (1 or more)")
    if not os.path.isdir(a.out):
        fail(f"--out: {a.out} is not a directory")
    if not os.access(a.binary, os.X_OK):
        fail(f"--binary: {a.binary} is not an executable (build it, or give --binary)")
    models = [m for m in a.models.split(",") if m]
    if not models:
        fail("--models: no model named")
    _use_plotlib()
    counts = thread_counts(a.max_threads)
    points, skipped = sweep(a.binary, models, counts, a.repetitions, a.rounds, a.seed)
    doc = {"kind": "iomodels-threads-sweep", "cores": cores(), "workload": WORKLOAD,
           "rounds": a.rounds, "role": "client", "repetitions": a.repetitions,
           "threads": counts, "points": points, "skipped": skipped}
    with open(os.path.join(a.out, "threads.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    sys.stdout.write(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
