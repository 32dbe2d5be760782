#!/usr/bin/python3
# Description: draws `iomodels chain --json` results: one row per run (e.g.
# sync above queue), with A's latency (p50, p99), throughput and errors
# (A's accepted/s, C's delivered/s, A's errors/s), and the backlog (the
# broker's queue depth, or A's unanswered requests in sync mode); each
# fault's window is shaded.
#   /usr/bin/python3 tools/plot_chain.py sync.json queue.json -o chain.png
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAULT_COLOURS = {"stall": "tab:red", "crash": "black", "slow": "tab:orange"}


def load(path):
    try:
        with open(path) as f:
            run = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"plot_chain.py: {path}: {e}")
    if not is_chain_result(run):
        sys.exit(f"plot_chain.py: {path}: not the JSON of `iomodels chain --json`")
    return run


def shade(ax, run):
    for f in run.get("faults", []):
        ax.axvspan(f["at_s"], f["at_s"] + f["for_s"], color=FAULT_COLOURS.get(f["kind"], "grey"),
                   alpha=0.15, label=f"{f['kind']} {f['service']}")


def series(run, key, scale=1.0):
    xs, ys = [], []
    for t in run["timeline"]:
        v = t.get(key)
        if v is not None:
            xs.append(t["t_s"])
            ys.append(v * scale)
    return xs, ys


def title(run):
    p = run["parameters"]
    faults = ", ".join(f["text"] for f in run.get("faults", [])) or "no fault"
    broker = run.get("broker")
    via = f" via nats-server {broker['version']}" if broker else ""
    return (f"{run['mode']}{via}: {p['rate']} req/s, {faults} | lost {run['lost']}, "
            f"duplicates {run['duplicates']}, A errors {run['a_errors']}")


def is_chain_result(doc):
    """True for the JSON of `iomodels chain --json` (for a caller that sorts files)."""
    return isinstance(doc, dict) and "timeline" in doc and doc.get("mode") in ("sync", "queue")


def plot(paths, output):
    """Draws the runs in `paths`, one row each, into `output`."""
    runs = [load(p) for p in paths]
    fig, axes = plt.subplots(len(runs), 3, figsize=(15, 3.6 * len(runs)), squeeze=False)
    for row, run in zip(axes, runs):
        lat, thr, back = row
        for key, style in (("a_p50_us", "-"), ("a_p99_us", "-")):
            xs, ys = series(run, key, 1e-3)
            lat.plot(xs, ys, style, label=key.replace("_us", "").replace("a_", "A "))
        lat.set_yscale("log")
        lat.set_ylabel("A's latency (ms, log)")
        xs, ys = series(run, "a_accepted_per_s")
        thr.plot(xs, ys, label="A accepted/s")
        xs, ys = series(run, "delivered_per_s")
        thr.plot(xs, ys, label="C delivered/s")
        errs = [(t["t_s"], (t["a_errors"] + t["a_timeouts"]) * 10) for t in run["timeline"]]
        thr.plot([e[0] for e in errs], [e[1] for e in errs], label="A errors/s", color="tab:red")
        thr.set_ylabel("per second")
        if run["mode"] == "queue":
            for key in ("depth_ab", "depth_bc"):
                xs, ys = series(run, key)
                back.plot(xs, ys, label=f"queue {key[-2:].upper()} (pending + unacked)")
        else:
            xs, ys = series(run, "a_outstanding")
            back.plot(xs, ys, label="A's unanswered requests")
        back.set_ylabel("backlog (messages)")
        for ax in row:
            shade(ax, run)
            ax.set_xlabel("s")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper right")
        thr.set_title(title(run), fontsize=9)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def main():
    ap = argparse.ArgumentParser(
        description="Draws `iomodels chain --json` results, one run per row (e.g. sync above queue).")
    ap.add_argument("runs", nargs="+", help="JSON files written by `iomodels chain --json`")
    ap.add_argument("-o", "--output", default="chain.png", help="the image to write (png, svg, pdf)")
    args = ap.parse_args()
    print(plot(args.runs, args.output))


if __name__ == "__main__":
    main()
