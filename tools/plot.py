#!/usr/bin/python3
# Description: plots `iomodels bench` results (Google Benchmark JSON, and the
# --latency-out spectra) as PNG and SVG: CPU wasted per request, the 2x2 map of
# wall time against CPU, latency spectra, and scaling with connections. With
# repetitions each point is its median, with error bars from the smallest to
# the largest repetition, and a noisy point (CV above 5%) is drawn hollow.
#
# Runs with Debian's python3-matplotlib: /usr/bin/python3 tools/plot.py ...
"""Plot iomodels bench results.

usage: tools/plot.py BENCH.json [BENCH.json ...] [--spectra SPECTRA.json] --out DIR
"""

import argparse
import json
import math
import os
import sys

QUADRANT_COLOURS = {
    "sync-blocking": "#1f77b4",
    "sync-nonblocking": "#d62728",
    "async-blocking": "#ff7f0e",
    "async-nonblocking": "#2ca02c",
    "multiplexing": "#9467bd",
}
TIME_UNIT_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
PLOTS = ("cpu_waste", "map_2x2", "latency", "scaling")
# A point is noisy when the coefficient of variation of either figure over its
# repetitions is above this; `iomodels bench` states its own in the JSON
# context (noisy_cv) and marks its points, which takes precedence.
NOISY_CV = 0.05
NOISY_FIGURES = ("cpu_us_per_req", "items_per_second")
# The figures drawn with an error bar: min..max over the repetitions.
RANGE_FIGURES = ("items_per_second", "cpu_us_per_req", "real_us", "cpu_us")


# Inputs are refused above these sizes before they are parsed or drawn: a real
# grid is a few hundred points and a spectrum a few hundred percentiles, while a
# huge input would take minutes and gigabytes to plot.
MAX_INPUT_BYTES = 64 << 20
MAX_BENCHMARKS = 100_000
MAX_SPECTRUM_POINTS = 1_000_000
# The figures read from each benchmark entry; each must be a finite number.
NUMERIC_FIELDS = ("real_time", "cpu_time", "items_per_second", "cpu_util", "cpu_us_per_req",
                  "cpu_user_us_per_req", "cpu_sys_us_per_req", "p50_us", "p99_us")


class InputError(Exception):
    """Bad or empty input: a one-line message, exit code 2."""


def fail(msg):
    print(f"plot.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def finite_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def load_json(path, what):
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror}") from e
    if size > MAX_INPUT_BYTES:
        raise InputError(f"{what} {path} is {size} bytes, over the limit of "
                         f"{MAX_INPUT_BYTES >> 20} MiB")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is not JSON ({e})") from e


def parse_name(name):
    """'<model>/<transport>/conns:<N>/size:<B>/lat_us:<L>[/...]' -> dict, or None."""
    parts = name.split("/")
    if len(parts) < 5:
        return None
    try:
        prefixes = ("conns:", "size:", "lat_us:")
        vals = []
        for part, pre in zip(parts[2:5], prefixes):
            if not part.startswith(pre):
                return None
            vals.append(int(part[len(pre):]))
    except ValueError:
        return None
    return {"model": parts[0], "transport": parts[1], "conns": vals[0], "size": vals[1],
            "lat_us": vals[2], "base": "/".join(parts[:5])}


def load_benchmarks(paths):
    """Returns (results, errored, context). One result per base name: the
    'median' aggregate when there were repetitions (else 'mean', else the mean
    of its runs), with its spread over the repetitions and whether it is noisy."""
    context = None
    runs = {}        # base -> list of iteration runs
    aggregates = {}  # base -> {aggregate name: aggregate row}
    errored = {}     # base -> message
    order = []
    for path in paths:
        doc = load_json(path, "benchmark file")
        if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
            raise InputError(f"{path} is not Google Benchmark JSON (no 'benchmarks' list)")
        if len(doc["benchmarks"]) > MAX_BENCHMARKS:
            raise InputError(f"{path} has {len(doc['benchmarks'])} benchmark entries, over the "
                             f"limit of {MAX_BENCHMARKS}")
        if context is None and isinstance(doc.get("context"), dict):
            context = doc["context"]
        for b in doc["benchmarks"]:
            if not isinstance(b, dict) or "name" not in b:
                raise InputError(f"{path}: a benchmark entry without a name")
            info = parse_name(b.get("run_name", b["name"]))
            if info is None:
                continue
            base = info["base"]
            if base not in order:
                order.append(base)
            if b.get("error_occurred"):
                errored[base] = b.get("error_message", "error")
                continue
            # The cv and stddev aggregates may be NaN (a figure that is zero in
            # every repetition); runs, medians and means must be numbers.
            checked = b.get("run_type") != "aggregate" or b.get("aggregate_name") in (
                "median", "mean")
            for key in NUMERIC_FIELDS if checked else ():
                if key in b and not finite_number(b[key]):
                    raise InputError(f"{path}: {b['name']}: {key} is not a finite number "
                                     f"({json.dumps(b[key])})")
            if b.get("run_type") == "aggregate":
                aggregates.setdefault(base, {})[b.get("aggregate_name")] = (info, b)
                continue
            runs.setdefault(base, []).append((info, b))
    context = context or {}
    try:
        noisy_cv = float(context.get("noisy_cv", NOISY_CV))
    except (TypeError, ValueError):
        noisy_cv = NOISY_CV
    results = []
    for base in order:
        if base in errored:
            continue
        aggs = aggregates.get(base, {})
        reps = [b for _, b in runs.get(base, [])]
        chosen = aggs.get("median") or aggs.get("mean")
        if chosen:
            r = make_result(chosen[0], [chosen[1]])
        elif reps:
            r = make_result(runs[base][0][0], reps)
        else:
            continue
        add_spread(r, reps, {k: b for k, (_, b) in aggs.items()}, noisy_cv)
        results.append(r)
    if not results and not errored:
        raise InputError("no iomodels benchmarks in " + ", ".join(paths))
    return results, errored, context


def figure_of(b, key):
    """One run's figure: a counter, or real_us/cpu_us from its times."""
    if key in ("real_us", "cpu_us"):
        unit = TIME_UNIT_US.get(b.get("time_unit", "ns"), 1e-3)
        t = b.get("real_time" if key == "real_us" else "cpu_time")
        return float(t) * unit if t is not None else float("nan")
    return float(b[key]) if key in b else float("nan")


def coefficient_of_variation(vals):
    """Sample standard deviation over the mean, as Google Benchmark's 'cv'."""
    if len(vals) < 2:
        return 0.0
    mean = sum(vals) / len(vals)
    if mean == 0:
        return 0.0
    var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)
    return math.sqrt(var) / mean


def add_spread(r, reps, aggs, noisy_cv):
    """Sets r['reps'] (repetitions), r['range'] ({figure: (min, max)} over them,
    when the runs are in the file) and r['noisy']."""
    r["reps"] = len(reps) if len(reps) >= 2 else 0
    r["range"] = {}
    if len(reps) >= 2:
        for key in RANGE_FIGURES:
            vals = [v for v in (figure_of(b, key) for b in reps) if not math.isnan(v)]
            if vals:
                r["range"][key] = (min(vals), max(vals))
    marked = (aggs.get("median") or aggs.get("mean") or {}).get("noisy")
    if marked is not None:
        r["noisy"] = bool(marked)
    elif "cv" in aggs:
        r["noisy"] = any(float(aggs["cv"].get(k, 0)) > noisy_cv for k in NOISY_FIGURES)
    elif len(reps) >= 2:
        r["noisy"] = any(coefficient_of_variation([figure_of(b, k) for b in reps]) > noisy_cv
                         for k in NOISY_FIGURES)
    else:
        r["noisy"] = False
    if not r["reps"] and "median" in aggs:
        r["reps"] = int(aggs["median"].get("iterations", 0))


def make_result(info, bs):
    def mean(key, scale=1.0):
        vals = [float(b[key]) * scale for b in bs if key in b]
        return sum(vals) / len(vals) if vals else float("nan")

    unit = TIME_UNIT_US.get(bs[0].get("time_unit", "ns"), 1e-3)
    r = dict(info)
    r["real_us"] = mean("real_time", unit)
    r["cpu_us"] = mean("cpu_time", unit)
    for key in ("items_per_second", "cpu_util", "cpu_us_per_req", "cpu_user_us_per_req",
                "cpu_sys_us_per_req", "p50_us", "p99_us"):
        r[key] = mean(key)
    label = bs[0].get("label", "")
    r["quadrant"] = label.split(",")[0] if label else "?"
    r["peer_bound"] = "peer-bound" in label
    return r


def caption(context):
    bits = []
    if context.get("kernel"):
        bits.append("kernel " + str(context["kernel"]))
    if context.get("cpu"):
        bits.append(str(context["cpu"]))
    cores = context.get("cores", context.get("num_cpus"))
    if cores:
        bits.append(f"{cores} cores")
    if context.get("io_uring"):
        bits.append("io_uring " + str(context["io_uring"]).split(" (")[0])
    if context.get("iomodels_version"):
        bits.append("iomodels " + str(context["iomodels_version"]))
    if context.get("date"):
        bits.append(str(context["date"])[:10])
    return " · ".join(bits)


# Set by main when every result is on the file transport: there is no peer
# latency then, and a "connection" is a read in flight.
FILE_ONLY = False
# Set by main: the legend entry of a noisy point, and the caption's line on
# what a point is when there were repetitions ("" without).
NOISY_LABEL = f"noisy (CV > {NOISY_CV:.0%})"
SPREAD_NOTE = ""


def spread_note(results, noisy_label):
    reps = max((r["reps"] for r in results), default=0)
    if reps < 2:
        return ""
    noisy = sum(1 for r in results if r["noisy"])
    bars = ("error bars: min–max over the repetitions; "
            if any(r["range"] for r in results) else "")
    return (f"each point: the median of {reps} repetitions; {bars}"
            f"hollow or hatched: {noisy_label}, {noisy} of {len(results)} points")


def range_bar(r, key, centre):
    """[[below], [above]] for errorbar: centre to the min and max over the
    repetitions, or None without them."""
    if key not in r["range"]:
        return None
    lo, hi = r["range"][key]
    return [[max(centre - lo, 0.0)], [max(hi - centre, 0.0)]]


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


def variant(r, multi_transport, multi_size):
    """The model's name, plus transport and size when the input varies them."""
    s = r["model"]
    extra = []
    if multi_transport:
        extra.append(r["transport"])
    if multi_size:
        extra.append(f"{r['size']} B")
    return s + (f" [{', '.join(extra)}]" if extra else "")


def model_styles(models, quadrant_of):
    """{model: (colour, line style)}: the colour of the model's quadrant (as in
    every plot), the models of one quadrant told apart by their line style."""
    dashes = ("-", "--", ":", "-.", (0, (6, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)),
              (0, (3, 1, 1, 1)), (0, (4, 4)), (0, (2, 1)))
    seen = {}
    out = {}
    for m in models:
        q = quadrant_of.get(m, "?")
        k = seen.get(q, 0)
        seen[q] = k + 1
        out[m] = (QUADRANT_COLOURS.get(q, "#777"), dashes[k % len(dashes)])
    return out


def by_quadrant(keys, quadrant_of):
    """keys in quadrant order (as QUADRANT_COLOURS lists them), stable within."""
    order = list(QUADRANT_COLOURS)
    return sorted(keys, key=lambda k: order.index(quadrant_of[k])
                  if quadrant_of.get(k) in order else len(order))


def panels(results):
    """Panels keyed (latency, connections), in ascending order of both."""
    lats = sorted({r["lat_us"] for r in results})
    conns = sorted({r["conns"] for r in results})
    return lats, conns


def compact(v):
    """One tick style everywhere: 1, 10, 100, 1k, 10k, 100k, 1M; 0.1 below 1."""
    if v == 0:
        return "0"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def plain_log_ticks(ax, axes="xy"):
    """Log ticks in the compact style (10, 100, 1k, 10k) instead of 10^n or 1e4;
    minor ticks labelled only when the axis spans less than a decade or two."""
    from matplotlib.ticker import LogFormatter

    class Compact(LogFormatter):
        def __call__(self, x, pos=None):
            return compact(x) if super().__call__(x, pos) else ""

    for name in axes:
        axis = ax.xaxis if name == "x" else ax.yaxis
        if axis.get_scale() != "log":
            continue
        axis.set_major_formatter(Compact())
        axis.set_minor_formatter(Compact(labelOnlyBase=False, minor_thresholds=(1.2, 0.6)))


def place_labels(ax, points, gap=0.05):
    """Names beside their points without overlap: each label goes right of its
    point (left near the right edge), then labels are pushed apart vertically
    to at least `gap` (axes fraction) and joined to their point by a thin line.
    points: [(x, y, text, colour)] in data coordinates; call after the limits."""
    to_axes = ax.transData + ax.transAxes.inverted()
    items = []
    for x, y, text, colour in points:
        fx, fy = to_axes.transform((x, y))
        items.append([fy, fx, fy, text, colour, (x, y)])
    items.sort(key=lambda it: it[0])
    # Push up from the bottom, then back down from the top if past it.
    for k, it in enumerate(items):
        it[0] = max(it[0], 0.03) if k == 0 else max(it[0], items[k - 1][0] + gap)
    for k in range(len(items) - 1, -1, -1):
        limit = 0.97 if k == len(items) - 1 else items[k + 1][0] - gap
        items[k][0] = min(items[k][0], limit)
    for ly, fx, fy, text, colour, xy in items:
        right = fx < 0.62
        lx = fx + 0.07 if right else fx - 0.07
        ax.annotate(text, xy, xytext=(lx, ly), textcoords="axes fraction", fontsize=7,
                    color=colour, ha="left" if right else "right", va="center",
                    arrowprops=dict(arrowstyle="-", lw=0.4, color=colour, alpha=0.6,
                                    shrinkA=0, shrinkB=3))


def shared_legend(fig, axes, extra=()):
    """One legend for every panel, right of them, in first-seen order, then
    the `extra` handles."""
    seen = {}
    for row in axes:
        for ax in row:
            for h, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, h)
    for h in extra:
        seen.setdefault(h.get_label(), h)
    if seen:
        fig.legend(list(seen.values()), list(seen.keys()), loc="center right", fontsize=8,
                   frameon=False)


def finish(fig, out, name, context, notes, bottom=0.0, right=1.0):
    text = caption(context)
    if SPREAD_NOTE:
        text += "\n" + SPREAD_NOTE
    if notes:
        text += f"\nleft out (error or not applicable): {len(notes)} benchmarks, listed in notes.txt"
    fig.text(0.5, 0.005, text, ha="center", va="bottom", fontsize=8, color="#444")
    lines = 1 + bool(SPREAD_NOTE) + bool(notes)
    # Room for a two-line title above the panels, in inches.
    top = 1 - 0.55 / fig.get_figheight() if fig._suptitle is not None else 1
    fig.tight_layout(rect=(0, 0.02 + 0.015 * lines + bottom, right, top))
    written = []
    for ext in ("png", "svg"):
        path = os.path.join(out, f"{name}.{ext}")
        fig.savefig(path, dpi=110)
        written.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return written


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
                if r["noisy"]:
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
                # The hatching marks a noisy point; the label is the utilisation.
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
    if any(r["noisy"] for r in results):
        handles.append(Patch(fill=False, hatch="///", edgecolor="#222", label=NOISY_LABEL))
    axes[0][0].legend(handles=handles, fontsize=8, loc="upper right")
    fig.suptitle("CPU burnt per request (stacked user/system; label: CPU utilisation in cores)")
    return finish(fig, out, "cpu_waste", context, notes)


def plot_map(results, context, notes, out):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    lats, conns = panels(results)
    mt = len({r["transport"] for r in results}) > 1
    ms = len({r["size"] for r in results}) > 1
    fig, axes = plt.subplots(len(lats), len(conns), squeeze=False,
                             figsize=(max(6, 4.8 * len(conns)), 4.2 * len(lats) + 0.8))
    for i, lat in enumerate(lats):
        for j, n in enumerate(conns):
            ax = axes[i][j]
            rs = [r for r in results if r["lat_us"] == lat and r["conns"] == n
                  and r["real_us"] > 0 and r["cpu_us"] > 0]
            for r in rs:
                colour = QUADRANT_COLOURS.get(r["quadrant"], "#777")
                marker = "X" if r["peer_bound"] else "o"
                xerr = range_bar(r, "real_us", r["real_us"])
                yerr = range_bar(r, "cpu_us", r["cpu_us"])
                if xerr or yerr:
                    ax.errorbar(r["real_us"], r["cpu_us"], xerr=xerr, yerr=yerr, fmt="none",
                                ecolor=colour, elinewidth=0.8, alpha=0.7, zorder=2)
                if r["noisy"]:
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
                ax.text(hi / 1.5, hi / 1.5, "CPU = wall: 1 core busy", fontsize=7, color="#888",
                        ha="right", va="bottom", rotation=45, rotation_mode="anchor")
                ax.set_xlim(lo, hi)
                ax.set_ylim(lo, hi)
                ax.set_aspect("equal")
                place_labels(ax, [(r["real_us"], r["cpu_us"], variant(r, mt, ms),
                                   QUADRANT_COLOURS.get(r["quadrant"], "#777")) for r in rs],
                             gap=min(0.06, 0.9 / max(len(rs), 1)))
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
    if any(r["noisy"] for r in results):
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="none",
                              markeredgecolor="#777", label=NOISY_LABEL))
    # Legend and caption below the panels, at fixed heights in inches.
    height = fig.get_figheight()
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               bbox_to_anchor=(0.5, 0.55 / height), frameon=False)
    fig.suptitle("Wall time vs CPU per round, by quadrant\n"
                 "(one round = every connection completes one request)")
    return finish(fig, out, "map_2x2", context, notes, bottom=0.75 / height)


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
                # One legend entry per model: a model noisy in one panel only
                # would otherwise be listed twice (the caption counts noisy points).
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
    fig.suptitle("Latency by percentile (issue to last byte)")
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
                    steady = [i for i, r in enumerate(rs) if not r["noisy"]]
                    ax.plot(xs, ys, marker="o", ms=4, markevery=steady, label=k, color=colour,
                            ls=styles[k][1])
                    noisy = [r for r in rs if r["noisy"]]
                    if noisy:
                        ax.scatter([r["conns"] for r in noisy], [r[key] for r in noisy], s=30,
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
    if any(r["noisy"] for r in results):
        extra.append(Line2D([], [], marker="o", ls="", markerfacecolor="white",
                            markeredgecolor="#555", label=NOISY_LABEL))
    shared_legend(fig, axes, extra)
    fig.suptitle("Scaling with connections: throughput and CPU per request")
    return finish(fig, out, "scaling", context, notes, right=0.84)


def check_spectra(path, spectra):
    """Every spectrum a list of {fraction in [0, 1], us >= 0} points, in all at
    most MAX_SPECTRUM_POINTS."""
    total = 0
    for name, spec in spectra.items():
        if not isinstance(spec, list):
            raise InputError(f"{path}: spectrum {name} is not a list of points")
        total += len(spec)
        if total > MAX_SPECTRUM_POINTS:
            raise InputError(f"{path} has over {MAX_SPECTRUM_POINTS} spectrum points")
        for point in spec:
            if not isinstance(point, dict) or "fraction" not in point or "us" not in point:
                raise InputError(f"{path}: spectrum {name}: a point without 'fraction' and 'us'")
            f, us = point["fraction"], point["us"]
            if not finite_number(f) or not 0 <= f <= 1:
                raise InputError(f"{path}: spectrum {name}: fraction {json.dumps(f)} is not "
                                 "a number in [0, 1]")
            if not finite_number(us) or us < 0:
                raise InputError(f"{path}: spectrum {name}: us {json.dumps(us)} is not a "
                                 "non-negative number")


def is_run_file(path):
    doc = load_json(path, "input file")
    return (isinstance(doc, dict) and isinstance(doc.get("scenario"), dict)
            and "items_per_second" in doc and "wall_s" in doc)


LATENCY_UNITS_US = {"ns": 1e-3, "us": 1.0, "µs": 1.0, "ms": 1e3, "s": 1e6}


def latency_us(text):
    """'0', '500us', '1ms' (the run JSON's scenario.latency) -> µs; a
    distribution ('exp:1ms') by the first figure in it."""
    import re

    m = re.search(r"(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?", str(text))
    if not m:
        return 0
    return int(round(float(m.group(1)) * LATENCY_UNITS_US.get(m.group(2) or "us", 1.0)))


def load_run_files(paths):
    """`iomodels run --json` results as results like load_benchmarks' (one per
    scenario; several files of one scenario are its repetitions: median, min-max
    and noisy as for bench). Returns (results, {}, environment)."""
    groups = {}
    order = []
    context = {}
    for path in paths:
        doc = load_json(path, "run file")
        sc = doc["scenario"]
        try:
            conns = int(sc["connections"])
            size = int(sc["size"])
            model = str(sc["model"])
            transport = str(sc["transport"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: scenario without model, transport, connections and size")
        lat = latency_us(sc.get("latency", 0))
        base = f"{model}/{transport}/conns:{conns}/size:{size}/lat_us:{lat}"
        requests = doc.get("requests")
        if not finite_number(requests) or requests <= 0 or conns <= 0:
            raise InputError(f"{path}: no requests counted")
        for key in ("wall_s", "cpu_user_s", "cpu_sys_s", "items_per_second", "cpu_util",
                    "cpu_us_per_req"):
            if not finite_number(doc.get(key)):
                raise InputError(f"{path}: {key} is not a finite number "
                                 f"({json.dumps(doc.get(key))})")
        rounds = requests / conns
        lat_us = doc.get("latency_us") if isinstance(doc.get("latency_us"), dict) else {}
        one = {"real_us": doc["wall_s"] * 1e6 / rounds,
               "cpu_us": (doc["cpu_user_s"] + doc["cpu_sys_s"]) * 1e6 / rounds,
               "items_per_second": doc["items_per_second"], "cpu_util": doc["cpu_util"],
               "cpu_us_per_req": doc["cpu_us_per_req"],
               "cpu_user_us_per_req": doc["cpu_user_s"] * 1e6 / requests,
               "cpu_sys_us_per_req": doc["cpu_sys_s"] * 1e6 / requests,
               "p50_us": float(lat_us.get("p50", float("nan")) or float("nan")),
               "p99_us": float(lat_us.get("p99", float("nan")) or float("nan"))}
        if base not in groups:
            order.append(base)
            groups[base] = {"info": {"model": model, "transport": transport, "conns": conns,
                                     "size": size, "lat_us": lat, "base": base},
                            "quadrant": str(doc.get("quadrant", "?")),
                            "peer_bound": bool((doc.get("peer") or {}).get("peer_bound")),
                            "runs": []}
        groups[base]["runs"].append(one)
        if not context and isinstance(doc.get("environment"), dict):
            context = dict(doc["environment"])
    results = []
    for base in order:
        g = groups[base]
        r = dict(g["info"])
        runs = g["runs"]
        for key in runs[0]:
            vals = sorted(v[key] for v in runs)
            m = len(vals) // 2
            r[key] = vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2
        r["quadrant"] = g["quadrant"]
        r["peer_bound"] = g["peer_bound"]
        r["reps"] = len(runs) if len(runs) > 1 else 0
        r["range"] = ({k: (min(v[k] for v in runs), max(v[k] for v in runs))
                       for k in RANGE_FIGURES} if len(runs) > 1 else {})
        r["noisy"] = len(runs) > 1 and any(
            coefficient_of_variation([v[k] for v in runs]) > NOISY_CV for k in NOISY_FIGURES)
        results.append(r)
    return results, {}, context


def is_chain_file(path):
    doc = load_json(path, "input file")
    return isinstance(doc, dict) and "timeline" in doc and doc.get("mode") in ("sync", "queue")


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

    global FILE_ONLY, NOISY_LABEL, SPREAD_NOTE
    FILE_ONLY = all(r.get("transport") == "file" for r in results)
    try:
        NOISY_LABEL = f"noisy (CV > {float(context.get('noisy_cv', NOISY_CV)):.0%})"
    except (TypeError, ValueError):
        pass
    SPREAD_NOTE = spread_note(results, NOISY_LABEL)

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
