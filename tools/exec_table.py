#!/usr/bin/python3
"""The seeds' Python, measured: every example client (examples/python,
examples/node) under `iomodels run --exec`, beside the built-in model each
one mirrors, on one workload, in interleaved repetitions; then every example
server ("Role: server") beside its model in the server role, at a series of
offered loads. Prints Markdown tables of medians (and the spread over the
repetitions) and keeps every run's JSON.

usage: tools/exec_table.py [--binary PATH] [--repetitions N] [--out DIR]
                           [--connections C] [--size S] [--latency L]
                           [--loads 5000,20000,40000] [--seconds T]
                           [--only clients|servers]

Servers: each example and its model at each load (requests/s offered over
all connections), for about T seconds each: CPU per request, achieved /
offered, the generator's p99 counted from the schedule (corrected), and the
highest load each one held (held: achieved >= 95% of offered and the run
did not fail).

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
sys.path.insert(0, os.path.join(ROOT, "tools"))
from plotlib.inputs import median_interval  # noqa: E402


def fail(msg):
    print("exec_table.py: error: " + msg, file=sys.stderr)
    sys.exit(2)


def tags(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            for key in ("Mirrors", "Quadrant", "Expect", "Role"):
                m = re.search(key + r":\s*(.*)", line)
                if m and key.lower() not in out:
                    out[key.lower()] = m.group(1).strip().strip('"').strip()
    return out


def examples():
    files = sorted(glob.glob(os.path.join(ROOT, "examples/python/*.py")))
    files += sorted(glob.glob(os.path.join(ROOT, "examples/node/*.js")))
    return [f for f in files if not re.search(r"iomodels_(client|server)\.py$", f)]


def is_server(path):
    return tags(path).get("role") == "server"


def run(binary, args, out, may_fail=False):
    """(json, text); (None, text) for an example that skipped itself, and,
    with may_fail, ({"failed": why}, text) for a run that failed."""
    p = subprocess.run([binary, "run", "--json", out] + args, capture_output=True, text=True,
                       timeout=600)
    text = p.stdout + p.stderr
    if "exited with status 77" in text:
        return None, text
    if p.returncode != 0 and may_fail:
        why = [line for line in text.splitlines() if line.startswith("iomodels:")]
        return {"failed": why[0] if why else "exit status %d" % p.returncode}, text
    if p.returncode != 0:
        fail("'%s run %s' failed:\n%s" % (binary, " ".join(args), text))
    with open(out, encoding="utf-8") as f:
        return json.load(f), text


def cell(values, fmt):
    """The median and, from 6 values on, its 95% interval [lo, hi] (order
    statistics, as the project's other tables); below 6 the range (lo–hi)."""
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt % med
    if len(values) >= 6:
        lo, hi, _ = median_interval(values)
        return (fmt % med) + " [" + (fmt % lo) + ", " + (fmt % hi) + "]"
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
    ap.add_argument("--loads", default="5000,20000,40000",
                    help="servers: offered loads, requests/s over all connections")
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="servers: about how long each run offers its load")
    ap.add_argument("--only", choices=("clients", "servers"), default=None)
    ap.add_argument("--server-transport", default="tcp", choices=("tcp", "socketpair", "pipe"),
                    help="servers: the transport (tcp: the listener by socket activation)")
    a = ap.parse_args()
    if a.repetitions < 1:
        fail("--repetitions: must be at least 1")
    try:
        loads = [float(x) for x in a.loads.split(",")]
        if not loads or min(loads) <= 0:
            raise ValueError
    except ValueError:
        fail("--loads: a comma-separated list of requests/s above 0, e.g. 5000,20000,40000")
    if a.seconds <= 0:
        fail("--seconds: must be above 0")
    if not os.access(a.binary, os.X_OK):
        fail("--binary: %s is not an executable (build it: cmake --preset release && "
             "cmake --build --preset release)" % a.binary)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    out_dir = a.out or "/tmp"
    if a.only != "servers":
        client_table(a, out_dir)
    if a.only != "clients":
        if a.only is None:
            print()
        server_table(a, out_dir, loads)


def client_table(a, out_dir):
    workload = ["-t", "socketpair", "-c", a.connections, "-s", a.size, "-l", a.latency]

    # Repetition-major: each repetition runs every example and, right after
    # it, the model it mirrors, so slow drift of the machine hits all alike.
    plan = []
    for ex in examples():
        if is_server(ex):
            continue
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


def held(j, offered):
    """The run did not fail and achieved at least 95% of what was offered."""
    return "failed" not in j and j["generator"]["achieved_per_s"] >= 0.95 * offered


def server_table(a, out_dir, loads):
    """Every example server and the model it mirrors, in the server role."""
    plan = []
    for ex in examples():
        if not is_server(ex):
            continue
        t = tags(ex)
        mirrors = t.get("mirrors", "").split()
        plan.append({"path": ex, "name": os.path.basename(ex), "tags": t,
                     "model": mirrors[0] if mirrors else "", "model_args": mirrors[1:],
                     "runs": {x: [] for x in loads}, "model_runs": {x: [] for x in loads},
                     "skipped": None})
    # Repetition-major, then load, then example and its model right after it:
    # slow drift of the machine hits all alike.
    for rep in range(a.repetitions):
        for offered in loads:
            conns = int(a.connections)
            rounds = str(max(20, int(offered * a.seconds / conns)))
            workload = ["--role", "server", "--offered", "%g" % offered, "-t", a.server_transport,
                        "-c", a.connections, "-s", a.size, "-r", rounds]
            for p in plan:
                if p["skipped"]:
                    continue
                args = ["--exec", p["path"], "--name", p["name"]] + workload
                if p["tags"].get("quadrant"):
                    args += ["--quadrant", p["tags"]["quadrant"]]
                j, text = run(a.binary, args, os.path.join(
                    out_dir, "%s-%g-%d.json" % (p["name"], offered, rep)), may_fail=True)
                if j is None:
                    m = re.search(r"skipped: (.*)", text)
                    p["skipped"] = m.group(1) if m else "skipped itself"
                    continue
                p["runs"][offered].append(j)
                print("%s %g/s %d: %s" % (p["name"], offered, rep, j.get("failed") or
                                          "%.1f us/request" % j["cpu_us_per_req"]),
                      file=sys.stderr)
                if p["model"]:
                    j, _ = run(a.binary, ["-m", p["model"]] + p["model_args"] + workload,
                               os.path.join(out_dir, "%s-model-%s-%g-%d.json"
                                            % (p["name"], p["model"], offered, rep)),
                               may_fail=True)
                    p["model_runs"][offered].append(j)
    rows = []  # (label, kind, {offered: [json...]})
    for p in plan:
        if p["skipped"]:
            rows.append((p["name"], "skipped: " + p["skipped"], {}))
            continue
        rows.append((p["name"], "program", p["runs"]))
        if p["model"]:
            rows.append(("`%s` (built-in)" % " ".join([p["model"]] + p["model_args"]), "model",
                         p["model_runs"]))

    print("| server or model | offered/s | CPU µs/request | achieved/offered | "
          "p99 corrected (ms) | held |")
    print("|---|---|---|---|---|---|")
    for label, kind, by_load in rows:
        if not by_load:
            print("| %s | %s | | | | |" % (label, kind))
            continue
        for offered in loads:
            runs = by_load[offered]
            ok = [j for j in runs if "failed" not in j]
            failed = len(runs) - len(ok)
            print("| %s | %g | %s | %s | %s | %s |" % (
                label, offered,
                cell([j["cpu_us_per_req"] for j in ok], "%.1f"),
                cell([j["generator"]["achieved_per_s"] / offered for j in ok], "%.2f"),
                cell([j["generator"]["corrected_us"]["p99"] / 1e3 for j in ok], "%.2f"),
                "%d of %d" % (sum(held(j, offered) for j in runs), len(runs)) +
                (" (%d failed)" % failed if failed else "")))
    print()
    print("| server or model | highest load held |")
    print("|---|---|")
    for label, kind, by_load in rows:
        if not by_load:
            print("| %s | %s |" % (label, kind))
            continue
        # Held at a load: in most repetitions (a tie counts as held).
        best = [x for x in loads if 2 * sum(held(j, x) for j in by_load[x]) >= len(by_load[x])
                and by_load[x]]
        print("| %s | %s |" % (label, ("%g/s" % max(best)) if best else "none of %s"
                                % ", ".join("%g" % x for x in loads)))
    print()
    # At each load, the programs and models that held it, cheapest first.
    print("| offered/s | by CPU per request, cheapest first (median µs [95% interval]) |")
    print("|---|---|")
    for offered in loads:
        # A model mirrored by several examples ran beside each: one entry.
        pooled = {}
        for label, kind, by_load in rows:
            pooled.setdefault(label, []).extend(by_load.get(offered, []))
        entries = []
        for label, runs in pooled.items():
            ok = [j["cpu_us_per_req"] for j in runs if "failed" not in j and held(j, offered)]
            if ok and 2 * len(ok) >= len(runs):
                entries.append((statistics.median(ok), label, cell(ok, "%.1f")))
        entries.sort()
        print("| %g | %s |" % (offered, " < ".join("%s %s" % (lab, c) for _, lab, c in entries)
                               or "none held"))
    print()
    how = ("%d repetitions, interleaved (each repetition every load, each example then its "
           "model); median %s" % (a.repetitions, "[95% interval]" if a.repetitions >= 6
                                  else "(min–max)") if a.repetitions > 1
           else "1 repetition (each example, then its model)")
    print("%s. Server role: %s connections (%s) x %s responses, uniform arrivals, "
          "about %g s a run; held = achieved >= 95%% of offered and the run did not fail (the "
          "highest load: held in at least half the repetitions)."
          % (how, a.connections, a.server_transport, a.size, a.seconds))


if __name__ == "__main__":
    main()
