#!/usr/bin/python3
"""Runs `iomodels run` for every available model on one scenario and prints a
Markdown table (requests/s, CPU us/request, syscalls/request, EAGAIN/request,
p50/p99 latency, CPU utilisation). The README's model tables come from here.

Usage: tools/models-table.py [--binary PATH] [--repeat N] [-- extra run flags]
Each model runs N times (default 3), interleaved; the table shows medians.
"""
import argparse
import json
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
                if p.returncode == 2:
                    # A usage error (bad extra flags) would fail every model alike:
                    # it is the caller's, not a row of the table.
                    lines = p.stderr.strip().splitlines()
                    print(f"models-table: `iomodels run` refused the flags: "
                          f"{lines[-1] if lines else 'exit code 2'}", file=sys.stderr)
                    return 2
                if p.returncode != 0:
                    runs.setdefault(name, {"quadrant": quadrant, "error": p.stderr.strip(), "r": []})
                    continue
                with open(path) as f:
                    runs.setdefault(name, {"quadrant": quadrant, "r": []})["r"].append(json.load(f))
    any_result = next((v["r"][0] for v in runs.values() if v["r"]), None)
    if any_result:
        s = any_result["scenario"]
        e = any_result["environment"]
        print(f"Scenario: {s['transport']}, {s['connections']} connections, {s['size']} B responses, "
              f"latency {s['latency']}, {s['requests_per_connection']} requests each; "
              f"median of {args.repeat} interleaved runs. Kernel {e['kernel']}, {e['cores']} cores.\n")
    print("| model | quadrant | requests/s | CPU µs/req | CPU util | syscalls/req | EAGAIN/req | p50 µs | p99 µs | peer CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, _ in models:
        v = runs.get(name)
        if not v or not v["r"]:
            reason = v.get("error", "no result") if v else "no result"
            print(f"| {name} | | n/a: {reason} | | | | | | | |")
            continue
        med = lambda f: statistics.median(f(r) for r in v["r"])
        # A part switched off (--counters off, --histogram off) leaves its figures null: "—".
        opt = lambda f, fmt: "—" if any(f(r) is None for r in v["r"]) else format(med(f), fmt)
        pct = lambda q: lambda r: r["latency_us"] and r["latency_us"][q]
        peer_bound = any(r["peer"]["peer_bound"] for r in v["r"])
        no_peer = all(r["peer"].get("none") for r in v["r"])
        print(f"| {name} | {v['quadrant']} | {med(lambda r: r['items_per_second']):,.0f} | "
              f"{med(lambda r: r['cpu_us_per_req']):.2f} | {med(lambda r: r['cpu_util']):.2f} | "
              f"{opt(lambda r: r['syscalls_per_req'], '.2f')} | {opt(lambda r: r['eagain_per_req'], '.2f')} | "
              f"{opt(pct('p50'), '.1f')} | {opt(pct('p99'), '.1f')} | "
              + ("none (file) |" if no_peer else
                 f"{med(lambda r: r['peer']['cpu_util']):.2f}{' (peer-bound)' if peer_bound else ''} |"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
