#!/usr/bin/python3
# Description: draws `iomodels sweep --json` results, like for like: the
# latency each model gave (p99 from each request's scheduled time) against
# the load it achieved, its knee marked, and the CPU it burnt against the
# load offered. One colour per quadrant, as in every plot here; within a
# quadrant each model has its own marker.
#   /usr/bin/python3 tools/plot_sweep.py sweep.json -o results/sweep.png
import argparse
import importlib.machinery
import json
import math
import os
import sys
import types

MAX_INPUT_BYTES = 16 << 20
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
REQUIRED = ("model", "offered_per_s", "achieved_per_s", "cpu_util", "p99_us", "holds")


def quadrant_colours():
    """The quadrants' colours, from plot.py beside this script (in the source
    tree) or iomodels-plot (installed): one colour per quadrant everywhere."""
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("plot.py", "iomodels-plot"):
        path = os.path.join(here, name)
        if os.path.exists(path):
            loader = importlib.machinery.SourceFileLoader("iomodels_plot", path)
            mod = types.ModuleType(loader.name)
            loader.exec_module(mod)
            return mod.QUADRANT_COLOURS
    fail(f"neither plot.py nor iomodels-plot is beside {__file__}")


def fail(msg):
    print(f"plot_sweep.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def load(path):
    try:
        if os.path.getsize(path) > MAX_INPUT_BYTES:
            fail(f"{path}: larger than {MAX_INPUT_BYTES >> 20} MiB; not a sweep's JSON")
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list) or not doc["points"]:
        fail(f"{path}: not the JSON of `iomodels sweep --json` (no points)")
    for i, p in enumerate(doc["points"]):
        if not isinstance(p, dict) or any(k not in p for k in REQUIRED):
            fail(f"{path}: point {i} lacks one of {', '.join(REQUIRED)}")
        for k in REQUIRED[1:5]:
            if not finite(p[k]) or p[k] < 0:
                fail(f"{path}: point {i}: {k} is not a number >= 0")
    return doc


def rate_text(v, _pos=None):
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def draw(doc, out, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    models = list(dict.fromkeys(p["model"] for p in doc["points"]))
    by_quadrant = {}
    style = {}
    colours = quadrant_colours()
    quadrant = {p["model"]: p.get("quadrant", "?") for p in doc["points"]}
    for m in models:
        k = by_quadrant.setdefault(quadrant[m], 0)
        by_quadrant[quadrant[m]] = k + 1
        style[m] = (colours.get(quadrant[m], "#777"), MARKERS[k % len(MARKERS)])

    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(13, 5.2))
    for m in models:
        pts = sorted((p for p in doc["points"] if p["model"] == m),
                     key=lambda p: p["offered_per_s"])
        colour, marker = style[m]
        xs = [max(p["achieved_per_s"], 1) for p in pts]
        ys = [max(p["p99_us"], 0.1) for p in pts]
        lat.plot(xs, ys, color=colour, marker=marker, ms=5, lw=1.2, label=m)
        cpu.plot([p["offered_per_s"] for p in pts], [p["cpu_util"] for p in pts], color=colour,
                 marker=marker, ms=5, lw=1.2, label=m)
        knee = doc.get("knee", {}).get(m, {})
        beyond = [p for p in pts if not p["holds"]]
        if knee.get("beyond") and beyond:
            b = beyond[0]
            lat.scatter([max(b["achieved_per_s"], 1)], [max(b["p99_us"], 0.1)], s=160,
                        facecolors="none", edgecolors=colour, linewidths=1.5, zorder=4)
    rates = sorted({p["offered_per_s"] for p in doc["points"] if not p.get("searched")})
    for ax in (lat, cpu):
        ax.set_xscale("log")
        # Ticks at the loads offered (as 5k, 20k), nothing in between.
        ax.set_xticks(rates)
        ax.xaxis.set_major_formatter(FuncFormatter(rate_text))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, p: ""))
        ax.grid(True, which="major", lw=0.4, alpha=0.5)
    lat.set_yscale("log")
    lat.yaxis.set_major_formatter(FuncFormatter(lambda v, p: f"{v:g}"))
    lat.set_xlabel("achieved requests/s")
    lat.set_ylabel("p99 latency, us (from each request's scheduled time)")
    lat.set_title("Latency against the load achieved (circled: the first point past the knee)",
                  fontsize=10)
    cpu.set_xlabel("offered requests/s")
    cpu.set_ylabel("CPU utilisation of the model (cores)")
    cpu.set_ylim(bottom=0)
    cpu.set_title("CPU burnt at equal offered load", fontsize=10)
    handles, labels = lat.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False,
               title="model (colour: quadrant)", title_fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.86, 0.95))
    base, _ = os.path.splitext(out)
    for ext in (".png", ".svg"):
        fig.savefig(base + ext, dpi=110)
    plt.close(fig)


def title_of(doc):
    sc = doc.get("scenario", {})
    role = doc.get("role", "?")
    what = (f"{sc.get('arrivals', '')} arrivals" if role == "server"
            else f"latency {sc.get('latency', '?')}")
    return (f"iomodels sweep, {role} role: {sc.get('connections', '?')} "
            f"{sc.get('transport', '?')} connections x {sc.get('size', '?')} B, {what}")


def main():
    ap = argparse.ArgumentParser(description="Draw `iomodels sweep --json` results.")
    ap.add_argument("json", help="a sweep's JSON")
    ap.add_argument("-o", "--out", default="sweep.png",
                    help="the PNG to write (an SVG of the same name is written beside it)")
    args = ap.parse_args()
    if not args.out.endswith(".png"):
        fail(f"--out: '{args.out}' does not end in .png")
    doc = load(args.json)
    draw(doc, args.out, title_of(doc))
    print(f"plot_sweep.py: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
