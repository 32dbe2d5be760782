#!/usr/bin/python3
# Description: plots `iomodels bench` results (Google Benchmark JSON, and the
# --latency-out spectra) as PNG and SVG: CPU wasted per request, the 2x2 map of
# wall time against CPU, latency spectra, and scaling with connections. With
# repetitions each point is its median and its error bars the 95% interval of
# that median over the repetitions (order statistics: bench's *_lo and *_hi, or
# worked out from the repetitions in the file); an unresolved point (an
# interval of CPU per request or throughput beyond ±precision, or fewer than 6
# repetitions) is drawn hollow, hatched in cpu_waste. A single run has no
# interval and no mark.
#
# Runs with Debian's python3-matplotlib: /usr/bin/python3 tools/plot.py ...
# Reading and checking the inputs, and the drawing style every plot shares,
# are in the plotlib package beside it (../share/iomodels/plotlib installed).
"""Plot iomodels bench results.

usage: tools/plot.py BENCH.json [BENCH.json ...] [--spectra SPECTRA.json] --out DIR
"""

import argparse
import math
import os
import sys


def _use_plotlib():
    """Puts the plotlib package on the path: beside this script in the source
    tree, or in ../share/iomodels when installed as iomodels-plot (also when
    report.py or plot_sweep.py load this file from elsewhere)."""
    # plot_sweep.py executes this file in a bare module, without __file__.
    me = globals().get("__file__") or _use_plotlib.__code__.co_filename
    here = os.path.dirname(os.path.realpath(me))
    for d in (here, os.path.join(os.path.dirname(here), "share", "iomodels")):
        if os.path.isfile(os.path.join(d, "plotlib", "__init__.py")):
            if d not in sys.path:
                sys.path.insert(0, d)
            return
    print(f"plot.py: error: its plotlib package is neither in {here} nor in "
          f"{os.path.join(os.path.dirname(here), 'share', 'iomodels')}", file=sys.stderr)
    sys.exit(2)


_use_plotlib()

# Re-exported: report.py and plot_sweep.py use these through this module.
from plotlib.inputs import (  # noqa: E402, F401
    INTERVAL_FIGURES, LATENCY_UNITS_US, LEVEL, MAX_BENCHMARKS, MAX_INPUT_BYTES,
    MAX_SPECTRUM_POINTS, MIN_REPETITIONS, NUMERIC_FIELDS, PRECISION, RANGE_FIGURES,
    RESOLVE_FIGURES, TIME_UNIT_US, InputError, add_spread, check_spectra, figure_of,
    finite_number, is_chain_file, is_run_file, latency_us, load_benchmarks, load_json,
    load_run_files, make_result, median, median_interval, parse_name, precision_of)
from plotlib.style import (  # noqa: E402, F401
    QUADRANT_COLOURS, by_quadrant, caption, compact, model_styles, panels, plain_log_ticks,
    range_bar, shared_legend, variant)
from plotlib.labels import figure_key, figure_key_width, place_map_labels  # noqa: E402
from plotlib import titles  # noqa: E402

PLOTS = ("cpu_waste", "map_2x2", "latency", "scaling")


def fail(msg):
    print(f"plot.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


# Set by main when every result is on the file transport: there is no peer
# latency then, and a "connection" is a read in flight.
FILE_ONLY = False


def unresolved_label(context):
    """The legend entry of an unresolved point, with bench's precision from
    the context. A file written before the intervals marked its points noisy
    by the CV of their repetitions (context noisy_cv, counter noisy): those
    marks are read as unresolved, and labelled for what they are."""
    if "precision" not in context and "noisy_cv" in context:
        try:
            return f"noisy (CV > {float(context['noisy_cv']):.0%})"
        except (TypeError, ValueError):
            pass
    return f"unresolved (95% interval beyond ±{precision_of(context) * 100:g}%)"


# Set by main: the legend entry of an unresolved point, and the caption's
# lines on what a point and its error bar are.
UNRESOLVED_LABEL = unresolved_label({})
SPREAD_NOTE = ""


def spread_note(results, label):
    """The caption's lines on what a point is (a median over how many
    repetitions, or a single run), what its error bars are, and how many
    points are drawn unresolved."""
    repeated = [r["reps"] for r in results if r["reps"] >= 2]
    single = len(results) - len(repeated)
    if not repeated:
        return "each point: a single run, so no interval (no error bar) and no resolved mark"
    most, fewest = max(repeated), min(repeated)
    count = f"{most}" if most == fewest else f"{fewest} to {most}"
    level = "95% interval" if fewest >= MIN_REPETITIONS else "interval"
    bars = (f"; error bars: its {level} (order statistics)"
            if any(r["range"] for r in results) else "")
    unresolved = sum(1 for r in results if r["unresolved"])
    lines = [f"each point: the median of {count} repetitions{bars}",
             f"hollow or hatched: {label}, {unresolved} of {len(results)} points"]
    more = []
    if fewest < MIN_REPETITIONS:
        coverage = median_interval([0.0] * fewest)[2]
        more.append(f"with {fewest} repetitions a bar is their min–max and covers the median "
                    f"with {coverage:.0%} only (95% takes {MIN_REPETITIONS})")
    if single:
        more.append(f"{single} single run{'s' if single > 1 else ''}: no interval, no mark")
    if more:
        lines.append("; ".join(more))
    return "\n".join(lines)


def lat_text(us):
    if FILE_ONLY:
        return "file"
    if us == 0:
        return "latency 0"
    if us % 1000 == 0:
        return f"latency {us // 1000} ms"
    return f"latency {us} µs"


def conn_text(n):
    if FILE_ONLY:
        return "1 read in flight" if n == 1 else f"{n} reads in flight"
    return "1 connection" if n == 1 else f"{n} connections"


def caption_lines(notes):
    """The lines of the caption finish writes below the panels."""
    return 1 + (SPREAD_NOTE.count("\n") + 1 if SPREAD_NOTE else 0) + bool(notes)


def add_caption(fig, context, notes):
    text = caption(context)
    if SPREAD_NOTE:
        text += "\n" + SPREAD_NOTE
    if notes:
        text += f"\nleft out (error or not applicable): {len(notes)} benchmarks, listed in notes.txt"
    fig.text(0.5, 0.005, text, ha="center", va="bottom", fontsize=8, color="#444")


def fit(fig, notes, bottom=0.0, right=1.0):
    """Fits the panels between the caption, the title and `right` (a
    fraction of the width): (bottom, top) of their room, fractions of the
    height."""
    lines = caption_lines(notes)
    height = fig.get_figheight()
    # Room for the title above the panels (titles.set_titles), in inches.
    top = 1 - getattr(fig, "title_inches", 0.55) / height if fig._suptitle is not None else 1
    # Room for the caption (about 0.14 inch a line of 8-point text), or the
    # caller's `bottom` (a fraction of the height) when that is more.
    room = max(0.02 + 0.015 * lines, (0.05 + 0.14 * lines) / height)
    fig.tight_layout(rect=(0, max(room, bottom), right, top))
    return max(room, bottom), top


def save(fig, out, name):
    written = []
    for ext in ("png", "svg"):
        path = os.path.join(out, f"{name}.{ext}")
        fig.savefig(path, dpi=110)
        written.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return written


def finish(fig, out, name, context, notes, bottom=0.0, right=1.0):
    add_caption(fig, context, notes)
    fit(fig, notes, bottom, right)
    return save(fig, out, name)


def plot_cpu_waste(results, context, notes, out):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    lats, conns = panels(results)
    mt = len({r["transport"] for r in results}) > 1
    ms = len({r["size"] for r in results}) > 1
    names = list(dict.fromkeys(variant(r, mt, ms) for r in results))
    fig, axes = plt.subplots(len(lats), len(conns), squeeze=False,
                             figsize=(max(6, 4.8 * len(conns)), 3.8 * len(lats) + 0.8))
    for i, lat in enumerate(lats):
        for j, n in enumerate(conns):
            ax = axes[i][j]
            # The same model at the same place in every panel; "n/a" where
            # it has no result (skipped, failed or not in the input).
            here = {variant(r, mt, ms): r for r in results if r["lat_us"] == lat
                    and r["conns"] == n}
            rs = [here.get(k) for k in names]
            user = [r["cpu_user_us_per_req"] if r else 0 for r in rs]
            sys_ = [r["cpu_sys_us_per_req"] if r else 0 for r in rs]
            x = range(len(rs))
            ax.bar(x, user, color="#4c72b0", label="user")
            ax.bar(x, sys_, bottom=user, color="#dd8452", label="system")
            tops = [u + s for u, s in zip(user, sys_)]
            for k, r in enumerate(rs):
                if not r:
                    continue
                if r["unresolved"]:
                    ax.bar(k, tops[k], fill=False, hatch="///", edgecolor="#222", lw=0.6)
                bar = range_bar(r, "cpu_us_per_req", r["cpu_us_per_req"])
                if bar:
                    ax.errorbar(k, r["cpu_us_per_req"], yerr=bar, fmt="none", ecolor="#222",
                                elinewidth=0.9, capsize=2)
                    tops[k] = max(tops[k], r["range"]["cpu_us_per_req"][1])
            top = max(tops + [1e-9])
            # A panel whose bars span more than 30x (a busy-polling model next
            # to sleeping ones at 1 ms x 1 connection) is drawn on a log axis,
            # where the small bars stay readable.
            drawn = [t for t, r in zip(tops, rs) if r and t > 0]
            log = bool(drawn) and max(drawn) > 30 * min(drawn)
            for k, r in enumerate(rs):
                # The hatching marks an unresolved point; the label is the utilisation.
                text = f"{r['cpu_util']:.2f}\ncore" if r else "n/a"
                y = tops[k] * 1.05 if log and r else tops[k] + top * 0.01
                ax.text(k, y, text, ha="center", va="bottom", fontsize=7)
            if log:
                ax.set_yscale("log")
                ax.set_ylim(min(drawn) / 3, top * 4)
                plain_log_ticks(ax)  # before the model names: it sets both axes
                ax.set_ylabel("CPU per request (µs, log)")
            else:
                ax.set_ylim(0, top * 1.3)
                ax.set_ylabel("CPU per request (µs)")
            ax.set_xticks(list(x))
            ax.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
            ax.set_title(f"{lat_text(lat)}, {conn_text(n)}", fontsize=10)
    handles = [Patch(color="#4c72b0", label="user"), Patch(color="#dd8452", label="system")]
    if any(r["unresolved"] for r in results):
        handles.append(Patch(fill=False, hatch="///", edgecolor="#222", label=UNRESOLVED_LABEL))
    axes[0][0].legend(handles=handles, fontsize=8, loc="upper right")
    titles.set_titles(fig, titles.cpu_waste_title(results, FILE_ONLY), "CPU burnt per request "
                      "(stacked user/system; label: CPU utilisation in cores)")
    return finish(fig, out, "cpu_waste", context, notes)


def plot_map(results, context, notes, out, placed=None):
    """The 2x2 map. Each panel's labels (plotlib.labels.Placed) are appended
    to `placed` when given."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    lats, conns = panels(results)
    mt = len({r["transport"] for r in results}) > 1
    ms = len({r["size"] for r in results}) > 1
    # A model's number, where its name has no room, is the same in every panel.
    quadrant_of = {variant(r, mt, ms): r["quadrant"] for r in results}
    numbers = {k: n + 1 for n, k in enumerate(by_quadrant(list(quadrant_of), quadrant_of))}
    labels = []
    fig, axes = plt.subplots(len(lats), len(conns), squeeze=False,
                             figsize=(max(6, 4.8 * len(conns)), 4.2 * len(lats) + 0.8))
    for i, lat in enumerate(lats):
        for j, n in enumerate(conns):
            ax = axes[i][j]
            rs = [r for r in results if r["lat_us"] == lat and r["conns"] == n
                  and r["real_us"] > 0 and r["cpu_us"] > 0]
            bars = []
            for r in rs:
                colour = QUADRANT_COLOURS.get(r["quadrant"], "#777")
                marker = "X" if r["peer_bound"] else "o"
                xerr = range_bar(r, "real_us", r["real_us"])
                yerr = range_bar(r, "cpu_us", r["cpu_us"])
                if xerr or yerr:
                    bars += ax.errorbar(r["real_us"], r["cpu_us"], xerr=xerr, yerr=yerr,
                                        fmt="none", ecolor=colour, elinewidth=0.8, alpha=0.7,
                                        zorder=2).lines[2]
                if r["unresolved"]:
                    ax.scatter(r["real_us"], r["cpu_us"], s=40, zorder=3, facecolors="none",
                               edgecolors=colour, linewidths=1.4, marker=marker)
                else:
                    ax.scatter(r["real_us"], r["cpu_us"], s=40, zorder=3, color=colour,
                               marker=marker)
            ax.set_xscale("log")
            ax.set_yscale("log")
            if rs:
                # Equal log ranges spanning at least two decades, so the
                # diagonal is at 45 degrees and only decades are labelled.
                ends = [v for r in rs for v in (r["real_us"], r["cpu_us"])]
                ends += [v for r in rs for k in ("real_us", "cpu_us") for v in r["range"].get(k, ())]
                lo = min(v for v in ends if v > 0) / 3
                hi = max(ends) * 3
                if hi / lo < 100:
                    mid = math.sqrt(hi * lo)
                    lo, hi = mid / 10, mid * 10
                ax.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color="#888", zorder=1)
                diagonal = ax.text(hi / 1.5, hi / 1.5, "CPU = wall: 1 core busy", fontsize=7,
                                   color="#888", ha="right", va="bottom", rotation=45,
                                   rotation_mode="anchor")
                ax.set_xlim(lo, hi)
                ax.set_ylim(lo, hi)
                ax.set_aspect("equal")
                labels.append((ax, [(r["real_us"], r["cpu_us"], variant(r, mt, ms),
                                     QUADRANT_COLOURS.get(r["quadrant"], "#777")) for r in rs],
                               [diagonal, *bars]))
            plain_log_ticks(ax)
            ax.set_xlabel("wall time per round (µs, log)")
            ax.set_ylabel("CPU per round (µs, log)")
            ax.set_title(f"{lat_text(lat)}, {conn_text(n)}", fontsize=10)
            ax.grid(True, which="major", lw=0.3)
    # The legend lists only what is drawn.
    drawn = {r["quadrant"] for r in results}
    handles = [Line2D([], [], marker="o", ls="", color=c, label=q)
               for q, c in QUADRANT_COLOURS.items() if q in drawn]
    if any(r["peer_bound"] for r in results):
        handles.append(Line2D([], [], marker="X", ls="", color="#777", label="peer-bound"))
    if any(r["unresolved"] for r in results):
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="none",
                              markeredgecolor="#777", label=UNRESOLVED_LABEL))
    # Legend and caption below the panels, at fixed heights in inches: the
    # legend above the caption's lines.
    height = fig.get_figheight()
    above = 0.55 + 0.14 * max(0, caption_lines(notes) - 2)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               bbox_to_anchor=(0.5, above / height), frameon=False)
    titles.set_titles(fig, titles.map_title(results), "Wall time vs CPU per round, by quadrant\n"
                      "(one round = every connection completes one request)")
    # The labels are placed in pixels, once the panels have their final size.
    add_caption(fig, context, notes)
    low, top = fit(fig, notes, bottom=(above + 0.3) / height)
    drawn = [place_map_labels(ax, points, numbers, avoid, size=40)
             for ax, points, avoid in labels]
    if any(p.cramped for p in drawn):
        # A panel's key has no room in it: one key of every model instead,
        # right of the panels, and none in them.
        for p in drawn:
            p.remove()
        colour_of = {variant(r, mt, ms): QUADRANT_COLOURS.get(r["quadrant"], "#777")
                     for r in results}
        entries = [(numbers[k], k, colour_of[k]) for k in sorted(numbers, key=numbers.get)]
        w, h = fig.bbox.width, fig.bbox.height
        right = 1 - (figure_key_width(fig, entries, (top - low) * h) + 12) / w
        fit(fig, notes, bottom=(above + 0.3) / height, right=right)
        drawn = [place_map_labels(ax, points, numbers, avoid, size=40, key=False)
                 for ax, points, avoid in labels]
        shared = figure_key(fig, entries, right * w + 6, low * h, top * h)
        for p in drawn:
            p.key = [(i, *shared[p.points[i][2]]) for i, _ in p.numbers]
    if placed is not None:
        placed.extend(drawn)
    return save(fig, out, "map_2x2")


def plot_latency(results, spectra, context, notes, out):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    # In the order of the results (the registry's), not the file's (sorted).
    items = [(r, spectra[r["base"]]) for r in results
             if isinstance(spectra.get(r["base"]), list) and spectra[r["base"]]]
    if not items:
        return []
    lats, conns = panels([r for r, _ in items])
    mt = len({r["transport"] for r, _ in items}) > 1
    ms = len({r["size"] for r, _ in items}) > 1
    quadrant_of = {r["model"]: r["quadrant"] for r, _ in items}
    order = by_quadrant(list(dict.fromkeys(r["model"] for r, _ in items)), quadrant_of)
    styles = model_styles(order, quadrant_of)
    # Drawn (and so listed in the legend) quadrant by quadrant.
    items.sort(key=lambda it: order.index(it[0]["model"]))
    fig, axes = plt.subplots(len(lats), len(conns), squeeze=False,
                             figsize=(max(6, 5 * len(conns)), 4 * len(lats) + 0.8))
    max_x = 1e5  # up to the 99.999th percentile
    for i, lat in enumerate(lats):
        for j, n in enumerate(conns):
            ax = axes[i][j]
            for r, spec in items:
                if r["lat_us"] != lat or r["conns"] != n:
                    continue
                xs, ys = [], []
                for point in spec:
                    p = min(float(point["fraction"]), 1 - 1 / max_x)
                    xs.append(1 / (1 - p))
                    ys.append(max(float(point["us"]), 1e-3))
                colour, ls = styles[r["model"]]
                # One legend entry per model, whether or not its points are
                # resolved (the caption counts the unresolved ones).
                label = variant(r, mt, ms)
                ax.step(xs, ys, where="post", lw=1.2, label=label, color=colour, ls=ls)
            ax.set_xscale("log")
            ax.set_yscale("log")
            # 50% (x = 2) is left out: beside 0% its label runs into it.
            ticks = [1, 10, 100, 1000, 1e4, 1e5]
            plain_log_ticks(ax, "y")
            ax.set_xticks(ticks)
            ax.set_xticklabels(["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"], fontsize=8)
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(1, max_x)
            ax.set_xlabel("percentile")
            ax.set_ylabel("latency (µs, log)")
            ax.set_title(f"{lat_text(lat)}, {conn_text(n)}", fontsize=10)
            ax.grid(True, which="major", lw=0.3)
    shared_legend(fig, axes)
    titles.set_titles(fig, titles.latency_title(items, FILE_ONLY),
                      "Latency by percentile (issue to last byte)")
    return finish(fig, out, "latency", context, notes, right=0.86)


def plot_scaling(results, context, notes, out):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    lats = sorted({r["lat_us"] for r in results})
    mt = len({r["transport"] for r in results}) > 1
    ms = len({r["size"] for r in results}) > 1
    fig, axes = plt.subplots(2, len(lats), squeeze=False,
                             figsize=(max(6, 5.5 * len(lats)), 8.3))
    quadrant_of = {variant(r, mt, ms): r["quadrant"] for r in results}
    keys = by_quadrant(list(dict.fromkeys(variant(r, mt, ms) for r in results)), quadrant_of)
    styles = model_styles(keys, quadrant_of)
    for j, lat in enumerate(lats):
        for row, (key, ylabel) in enumerate((("items_per_second", "requests/s (log)"),
                                             ("cpu_us_per_req", "CPU per request (µs, log)"))):
            ax = axes[row][j]
            for k in keys:
                rs = sorted((r for r in results if r["lat_us"] == lat and variant(r, mt, ms) == k
                             and r[key] > 0 and not math.isnan(r[key])),
                            key=lambda r: r["conns"])
                if rs:
                    colour = styles[k][0]
                    xs, ys = [r["conns"] for r in rs], [r[key] for r in rs]
                    steady = [i for i, r in enumerate(rs) if not r["unresolved"]]
                    ax.plot(xs, ys, marker="o", ms=4, markevery=steady, label=k, color=colour,
                            ls=styles[k][1])
                    unresolved = [r for r in rs if r["unresolved"]]
                    if unresolved:
                        ax.scatter([r["conns"] for r in unresolved],
                                   [r[key] for r in unresolved], s=30,
                                   facecolors="white", edgecolors=colour, linewidths=1.3,
                                   zorder=3)
                    bars = [range_bar(r, key, r[key]) for r in rs]
                    if any(bars):
                        below = [b[0][0] if b else 0 for b in bars]
                        above = [b[1][0] if b else 0 for b in bars]
                        ax.errorbar(xs, ys, yerr=[below, above], fmt="none", ecolor=colour,
                                    elinewidth=0.8, capsize=2, alpha=0.8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            plain_log_ticks(ax)
            ax.set_xlabel("connections (log)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{lat_text(lat)}", fontsize=10)
            ax.grid(True, which="major", lw=0.3)
    extra = []
    if any(r["unresolved"] for r in results):
        extra.append(Line2D([], [], marker="o", ls="", markerfacecolor="white",
                            markeredgecolor="#555", label=UNRESOLVED_LABEL))
    shared_legend(fig, axes, extra)
    titles.set_titles(fig, titles.scaling_title(results, FILE_ONLY),
                      "Scaling with connections: throughput and CPU per request")
    return finish(fig, out, "scaling", context, notes, right=0.84)


def plot_chain_files(paths, out):
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("plot_chain.py", "iomodels-plot-chain"):
        script = os.path.join(here, name)
        if os.path.exists(script):
            break
    else:
        fail("the chain plot (plot_chain.py or iomodels-plot-chain) is not beside " + here)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        fail(f"cannot create {out}: {e.strerror}")
    target = os.path.join(out, "chain.png")
    import subprocess
    return subprocess.call(["/usr/bin/python3", script, *paths, "-o", target])


def main(argv):
    ap = argparse.ArgumentParser(description="Plot iomodels bench results (PNG and SVG).")
    ap.add_argument("inputs", nargs="+",
                    help="Google Benchmark JSON from iomodels bench; or `iomodels run --json` "
                         "results (the map, CPU waste and scaling plots; several files of one "
                         "scenario are its repetitions); or `iomodels chain --json` files (their "
                         "timelines one above the other, in OUT/chain.png)")
    ap.add_argument("--spectra", help="the --latency-out file of iomodels bench")
    ap.add_argument("--out", required=True, help="directory for the plots")
    args = ap.parse_args(argv)

    # `iomodels chain --json` files have a plot of their own (tools/plot_chain.py,
    # installed as iomodels-plot-chain beside this one): handed over whole.
    try:
        chain = [is_chain_file(p) for p in args.inputs]
    except InputError as e:
        fail(str(e))
    if any(chain):
        if not all(chain):
            fail("give either `iomodels chain --json` files or bench files, not both")
        return plot_chain_files(args.inputs, args.out)

    try:
        runs = [is_run_file(p) for p in args.inputs]
    except InputError as e:
        fail(str(e))
    if any(runs) and not all(runs):
        fail("give either `iomodels run --json` files or bench files, not both")

    try:
        if all(runs):
            results, errored, context = load_run_files(args.inputs)
        else:
            results, errored, context = load_benchmarks(args.inputs)
        spectra = None
        if args.spectra:
            doc = load_json(args.spectra, "spectra file")
            if not isinstance(doc, dict) or not isinstance(doc.get("spectra"), dict):
                raise InputError(f"{args.spectra} is not an iomodels --latency-out file")
            spectra = doc["spectra"]
            check_spectra(args.spectra, spectra)
            if not context.get("kernel") and isinstance(doc.get("environment"), dict):
                context = {**doc["environment"], **context}
        if not results:
            raise InputError("every benchmark in the input was skipped or failed")
    except InputError as e:
        fail(str(e))

    global FILE_ONLY, UNRESOLVED_LABEL, SPREAD_NOTE
    FILE_ONLY = all(r.get("transport") == "file" for r in results)
    UNRESOLVED_LABEL = unresolved_label(context)
    SPREAD_NOTE = spread_note(results, UNRESOLVED_LABEL)

    import matplotlib

    matplotlib.use("Agg")

    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        fail(f"cannot create {args.out}: {e.strerror}")
    notes = sorted(errored.items())
    if notes:
        with open(os.path.join(args.out, "notes.txt"), "w", encoding="utf-8") as f:
            f.write("Left out of the plots (error or not applicable):\n")
            for name, msg in notes:
                f.write(f"  {name}: {msg}\n")
        print(f"plot.py: note: {len(notes)} benchmarks left out (errors), listed in "
              f"{os.path.join(args.out, 'notes.txt')}", file=sys.stderr)

    written = []
    written += plot_cpu_waste(results, context, notes, args.out)
    written += plot_map(results, context, notes, args.out)
    if spectra is None:
        print("plot.py: note: no --spectra file given: latency plot skipped", file=sys.stderr)
    else:
        got = plot_latency(results, spectra, context, notes, args.out)
        if not got:
            print("plot.py: note: the spectra file matches no result: latency plot skipped",
                  file=sys.stderr)
        written += got
    written += plot_scaling(results, context, notes, args.out)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
