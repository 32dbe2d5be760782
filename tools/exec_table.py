#!/usr/bin/python3
"""The seeds' Python, measured: every example client (examples/python,
examples/node) under `iomodels run --exec`, beside the built-in model each
one mirrors, on one workload, in interleaved repetitions. Prints a Markdown
table of medians (and the spread over the repetitions) and keeps every run's
JSON.

usage: tools/exec_table.py [--binary PATH] [--repetitions N] [--out DIR]
                           [--connections C] [--size S] [--latency L]

Each example names, in its docstring, the built-in model it mirrors and the
flags that make it a twin ("Mirrors: polling-sleep --poll-interval 100ms") and what to expect ("Expect: cpu=sleep"); the model
runs once per repetition too, right beside it. Examples that skip themselves
(exit 77: uvloop missing) are listed as skipped.
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    print("exec_table.py: error: " + msg, file=sys.stderr)
    sys.exit(2)


def tags(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            for key in ("Mirrors", "Quadrant", "Expect"):
                m = re.search(key + r":\s*(.*)", line)
                if m and key.lower() not in out:
                    out[key.lower()] = m.group(1).strip().strip('"').strip()
    return out


def examples():
    files = sorted(glob.glob(os.path.join(ROOT, "examples/python/*.py")))
    files += sorted(glob.glob(os.path.join(ROOT, "examples/node/*.js")))
    return [f for f in files if not f.endswith("iomodels_client.py")]


def run(binary, args, out):
    p = subprocess.run([binary, "run", "--json", out] + args, capture_output=True, text=True,
                       timeout=600)
    text = p.stdout + p.stderr
    if "exited with status 77" in text:
        return None, text
    if p.returncode != 0:
        fail("'%s run %s' failed:\n%s" % (binary, " ".join(args), text))
    with open(out, encoding="utf-8") as f:
        return json.load(f), text


def cell(values, fmt):
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt % med
    return (fmt % med) + " (" + (fmt % min(values)) + "–" + (fmt % max(values)) + ")"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/release/iomodels"))
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--out", default=None, help="keep every run's JSON here")
    ap.add_argument("--connections", default="8")
    ap.add_argument("--size", default="4KiB")
    ap.add_argument("--latency", default="5ms")
    a = ap.parse_args()
    if a.repetitions < 1:
        fail("--repetitions: must be at least 1")
    if not os.access(a.binary, os.X_OK):
        fail("--binary: %s is not an executable (build it: cmake --preset release && "
             "cmake --build --preset release)" % a.binary)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    out_dir = a.out or "/tmp"
    workload = ["-t", "socketpair", "-c", a.connections, "-s", a.size, "-l", a.latency]

    # Repetition-major: each repetition runs every example and, right after
    # it, the model it mirrors, so slow drift of the machine hits all alike.
    plan = []
    for ex in examples():
        t = tags(ex)
        name = os.path.basename(ex)  # blocking.py: never a built-in model's name
        plan.append({
            "path": ex, "name": name, "tags": t,
            "rounds": "10" if "turnaround=" in t.get("expect", "") else "40",
            # "Mirrors: MODEL [FLAGS]": the model and the flags that make it
            # the example's twin (polling-sleep --poll-interval 100ms).
            "model": t["mirrors"].split()[0] if t.get("mirrors") else "",
            "model_args": t["mirrors"].split()[1:] if t.get("mirrors") else [],
            "runs": [], "model_runs": [], "skipped": None})
    for rep in range(a.repetitions):
        for p in plan:
            if p["skipped"]:
                continue
            args = ["--exec", p["path"], "--name", p["name"], "-r", p["rounds"]] + workload
            if p["tags"].get("quadrant"):
                args += ["--quadrant", p["tags"]["quadrant"]]
            j, text = run(a.binary, args, os.path.join(out_dir, "%s-%d.json" % (p["name"], rep)))
            if j is None:
                m = re.search(r"skipped: (.*)", text)
                p["skipped"] = m.group(1) if m else "skipped itself"
                continue
            p["runs"].append(j)
            print("%s %d: %.2f core" % (p["name"], rep, j["cpu_util"]), file=sys.stderr)
            if p["model"]:
                j, _ = run(a.binary,
                           ["-m", p["model"], "-r", p["rounds"]] + p["model_args"] + workload,
                           os.path.join(out_dir, "%s-model-%s-%d.json"
                                        % (p["name"], p["model"], rep)))
                p["model_runs"].append(j)
    rows = []  # (label, quadrant, kind, [json...])
    for p in plan:
        if p["skipped"]:
            rows.append((p["name"], p["tags"].get("quadrant", ""), "skipped: " + p["skipped"], []))
            continue
        rows.append((p["name"], p["tags"].get("quadrant", "program"), "program", p["runs"]))
        if p["model"]:
            rows.append((" ".join([p["model"]] + p["model_args"]),
                         p["model_runs"][0]["quadrant"], "model", p["model_runs"]))

    print("| program or model | quadrant | requests/s | CPU (core) | CPU µs/request | "
          "syscalls/request | turnaround p50 (ms) | latency p50 (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    for label, quadrant, kind, runs in rows:
        if not runs:
            print("| %s | %s | %s | | | | | |" % (label, quadrant, kind))
            continue
        name = label if kind == "program" else "`%s` (built-in)" % label

        def col(f):
            return [f(j) for j in runs if f(j) is not None]

        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, quadrant,
            cell(col(lambda j: j["items_per_second"]), "%.0f"),
            cell(col(lambda j: j["cpu_util"]), "%.3f"),
            cell(col(lambda j: j["cpu_us_per_req"]), "%.0f"),
            cell(col(lambda j: j["syscalls_per_req"]), "%.1f"),
            cell(col(lambda j: j["exec"]["turnaround_us"]["p50"] / 1e3 if "exec" in j else None),
                 "%.2f"),
            cell(col(lambda j: j["latency_us"]["p50"] / 1e3 if j.get("latency_us") else None),
                 "%.2f")))
    print()
    how = ("%d repetitions, interleaved (each example, then its model, then the next "
           "repetition); median (min–max)" % a.repetitions if a.repetitions > 1
           else "1 repetition (each example, then its model)")
    print("%s. Workload: %s connections (socketpair) x %s x %s."
          % (how, a.connections, a.size, a.latency))


if __name__ == "__main__":
    main()
