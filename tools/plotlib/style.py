# Description: what every plot of plot.py shares: the quadrants' colours, line
# styles per model, panel order, compact log ticks, one legend for all panels,
# and the caption of the machine (the map's labels are in labels.py).
"""Drawing helpers shared by the plots (matplotlib is imported where used)."""

QUADRANT_COLOURS = {
    "sync-blocking": "#1f77b4",
    "sync-nonblocking": "#d62728",
    "async-blocking": "#ff7f0e",
    "async-nonblocking": "#2ca02c",
    "multiplexing": "#9467bd",
}


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


def range_bar(r, key, centre):
    """[[below], [above]] for errorbar: centre to the ends of the 95% interval
    of the median over the repetitions (r['range']), or None without one."""
    if key not in r["range"]:
        return None
    lo, hi = r["range"][key]
    return [[max(centre - lo, 0.0)], [max(hi - centre, 0.0)]]


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
