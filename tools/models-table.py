#!/usr/bin/python3
"""Runs `iomodels run` for every available model on one scenario and prints a
Markdown table (requests/s, CPU us/request, events per wait, syscalls/request,
EAGAIN/request, p50/p99 latency, CPU utilisation). The model tables of the README
and docs/results.md come from here.

Usage: tools/models-table.py [--binary PATH] [--repeat N] [-- extra run flags]
Each model runs N times (default 3), interleaved; the table shows medians, and
for requests/s and CPU us/request the distribution-free interval of the median
in brackets (order statistics: no assumption about the runs' distribution).
Its coverage depends on N alone and is printed above the table: 75% for 3
runs, 94% for 5, 97% for 6; 95% needs at least 6.

The column "CPU ÷ epoll" ranks each model against epoll (--reference) from
paired runs: run i of a model and run i of epoll are neighbours in time, so
their ratio of CPU per request cancels the machine's drift. Its centre is the
Hodges-Lehmann estimate of the paired log-ratios, its interval Wilcoxon's
signed-rank one (exact); "tie" when the interval holds 1. With fewer than 6
runs no interval reaches 95%, and the column says so.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def default_binary():
    """The source tree's Release build, or, installed, the iomodels beside this script."""
    built = os.path.join(HERE, "..", "build", "release", "iomodels")
    installed = os.path.join(HERE, "iomodels")
    return built if os.access(built, os.X_OK) or not os.access(installed, os.X_OK) else installed


def median_interval(xs, level=0.95):
    """(low, high, coverage): the order statistics x(k) and x(n-k+1) (1-based)
    of the sorted samples, with the largest k whose interval covers the true
    median with probability >= level; k = 1 (the range) when no k does, its
    coverage then below the level. Coverage = 1 - 2 P(Binomial(n, 1/2) < k)."""
    xs = sorted(xs)
    n = len(xs)

    def coverage(k):
        return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return xs[k - 1], xs[n - k], coverage(k)


def signed_rank_shift(d, level=0.95):
    """(estimate, low, high, coverage) of the centre of paired differences d:
    the Hodges-Lehmann estimate (median of the Walsh averages) and the
    interval from the exact null distribution of Wilcoxon's signed-rank
    statistic, w(k) and w(M-k+1), with the largest k whose coverage
    1 - 2 P(T+ < k) is at least level (k = 1 when none is)."""
    n = len(d)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    m = len(walsh)
    ways = [1] + [0] * m  # subsets of the ranks 1..n by their sum
    for r in range(1, n + 1):
        for t in range(r * (r + 1) // 2, r - 1, -1):
            ways[t] += ways[t - r]

    def coverage(k):
        return 1 - 2 * sum(ways[:k]) / 2 ** n

    k = 1
    while k + 1 <= (m + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return statistics.median(walsh), walsh[k - 1], walsh[m - k], coverage(k)


def available_models(binary):
    out = subprocess.run([binary, "list"], check=True, capture_output=True, text=True).stdout
    models = []
    in_models = False
    for line in out.splitlines():
        if line.startswith("models:"):
            in_models = True
            continue
        if in_models and not line.strip():
            break
        parts = line.split()
        if in_models and len(parts) >= 3 and line.startswith("  ") and not line.startswith("   "):
            if parts[2] == "available":
                models.append((parts[0], parts[1]))
    return models


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reference", default="epoll",
                    help="the model every other one is paired with (default epoll)")
    ap.add_argument("extra", nargs="*", help="flags for `iomodels run` (after --)")
    args = ap.parse_args()
    if args.repeat < 1:
        print(f"models-table: --repeat must be at least 1, not {args.repeat}", file=sys.stderr)
        return 2
    if not os.access(args.binary, os.X_OK):
        print(f"models-table: {args.binary} is not built", file=sys.stderr)
        return 2
    runs = {}
    try:
        models = available_models(args.binary)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"models-table: `{args.binary} list` failed: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            for name, quadrant in models:
                path = os.path.join(tmp, f"{name}-{rep}.json")
                cmd = [args.binary, "run", "-m", name, "--json", path] + args.extra
                p = subprocess.run(cmd, capture_output=True, text=True)
                lines = p.stderr.strip().splitlines()
                if p.returncode == 2 and "not applicable" not in p.stderr:
                    # A usage error (bad extra flags) would fail every model alike:
                    # it is the caller's, not a row of the table. A model that
                    # does not apply to the scenario (epoll on a file) is a row
                    # with its reason.
                    print(f"models-table: `iomodels run` refused the flags: "
                          f"{lines[-1] if lines else 'exit code 2'}", file=sys.stderr)
                    return 2
                if p.returncode != 0:
                    why = lines[-1] if lines else f"exit code {p.returncode}"
                    runs.setdefault(name, {"quadrant": quadrant, "error": why, "r": []})
                    continue
                with open(path) as f:
                    runs.setdefault(name, {"quadrant": quadrant, "r": []})["r"].append(json.load(f))
    any_result = next((v["r"][0] for v in runs.values() if v["r"]), None)
    if any_result:
        s = any_result["scenario"]
        e = any_result["environment"]
        coverage = median_interval([0] * args.repeat)[2]
        print(f"Scenario: {s['transport']}, {s['connections']} connections, {s['size']} B responses, "
              f"latency {s['latency']}, {s['requests_per_connection']} requests each; "
              f"median of {args.repeat} interleaved runs [its distribution-free interval, "
              f"{coverage:.0%} coverage]. Kernel {e['kernel']}, {e['cores']} cores.")
        if args.repeat < 6:
            print(f"CPU ÷ {args.reference}: needs at least 6 runs (--repeat 6) for a 95% interval.")
        else:
            print(f"CPU ÷ {args.reference}: paired runs, Hodges-Lehmann estimate [Wilcoxon's 95% "
                  f"signed-rank interval]; \"tie\" when it holds 1.")
        print()
    print(f"| model | quadrant | requests/s | CPU µs/req | CPU ÷ {args.reference} | events/wait | CPU util | syscalls/req | EAGAIN/req | p50 µs | p99 µs | peer CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ref = runs.get(args.reference, {}).get("r", [])

    def versus_reference(name, v):
        """The paired ratio of CPU per request to the reference's, or why not."""
        if name == args.reference:
            return "1"
        pairs = [(r["cpu_us_per_req"], q["cpu_us_per_req"])
                 for r, q in zip(v["r"], ref) if r["cpu_us_per_req"] > 0 and q["cpu_us_per_req"] > 0]
        if len(pairs) < 6 or len(pairs) != len(v["r"]):
            return "—"
        est, lo, hi, _ = signed_rank_shift([math.log(a / b) for a, b in pairs])
        text = f"{math.exp(est):.2f} [{math.exp(lo):.2f}, {math.exp(hi):.2f}]"
        return f"tie: {text}" if lo <= 0 <= hi else text

    for name, _ in models:
        v = runs.get(name)
        if not v or not v["r"]:
            reason = v.get("error", "no result") if v else "no result"
            print(f"| {name} | | n/a: {reason} | | | | | | | | | |")
            continue
        med = lambda f: statistics.median(f(r) for r in v["r"])
        # A part switched off (--counters off, --histogram off), or a figure the
        # model has not (events per wait of a loop that never waits so), is
        # null: "—".
        opt = lambda f, fmt: "—" if any(f(r) is None for r in v["r"]) else format(med(f), fmt)

        def with_interval(f, fmt):
            lo, hi, _ = median_interval([f(r) for r in v["r"]])
            return f"{format(med(f), fmt)} [{format(lo, fmt)}, {format(hi, fmt)}]"

        pct = lambda q: lambda r: r["latency_us"] and r["latency_us"][q]
        peer_bound = any(r["peer"]["peer_bound"] for r in v["r"])
        no_peer = all(r["peer"].get("none") for r in v["r"])
        print(f"| {name} | {v['quadrant']} | {with_interval(lambda r: r['items_per_second'], ',.0f')} | "
              f"{with_interval(lambda r: r['cpu_us_per_req'], '.2f')} | {versus_reference(name, v)} | "
              f"{opt(lambda r: r.get('events_per_wait'), '.1f')} | {med(lambda r: r['cpu_util']):.2f} | "
              f"{opt(lambda r: r['syscalls_per_req'], '.2f')} | {opt(lambda r: r['eagain_per_req'], '.2f')} | "
              f"{opt(pct('p50'), '.1f')} | {opt(pct('p99'), '.1f')} | "
              + ("none (file) |" if no_peer else
                 f"{med(lambda r: r['peer']['cpu_util']):.2f}{' (peer-bound)' if peer_bound else ''} |"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
