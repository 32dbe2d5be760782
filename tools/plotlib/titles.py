# Description: the titles of tools/plot.py's figures: the finding each
# figure's data supports, worked out from the results it draws, above the
# line that says what the figure shows.
"""Figure titles that state a finding, worked out from the plotted results.

A comparison of two medians is stated only when their intervals (r["range"])
separate them, and its factor is the least the intervals allow, rounded
down ("at least k×"); a point without an interval is compared by its value
alone ("about k×"). Where the data supports no finding the title is neutral.
"""

import math
import textwrap

from plotlib.style import variant

# CPU per round at least this fraction of the wall time: a core kept busy.
BUSY = 0.9


def _ok(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def bounds(r, key, value=None):
    """(lo, hi, exact): the interval of r[key] from r["range"], or the value
    twice and exact False when the point has none."""
    v = r[key] if value is None else value
    got = (r.get("range") or {}).get(key)
    if value is None and got and all(_ok(x) for x in got):
        return min(got[0], v), max(got[1], v), True
    return v, v, False


def factor(x, down=True):
    """x rounded (down, or to the nearest): to a whole number from 10, else
    to two decimals."""
    cut = math.floor if down else round
    if x >= 10:
        return str(int(cut(x)))
    return f"{cut(x * 100 + (1e-9 if down else 0)) / 100:.2f}".rstrip("0").rstrip(".")


def compare(hi_point, lo_point):
    """How many times hi_point's (value, lo, hi, exact) exceeds lo_point's:
    "at least k×" when the intervals separate them by 1.01× or more, "about
    k×" without intervals, None when they overlap."""
    v1, lo1, _, exact1 = hi_point
    v2, _, hi2, exact2 = lo_point
    if exact1 and exact2:
        k = lo1 / hi2
        return f"at least {factor(k)}×" if k >= 1.01 else None
    k = v1 / v2
    return f"about {factor(k, down=False)}×" if k >= 1.01 else None


def lat_words(us):
    if us == 0:
        return "latency 0"
    return f"latency {us // 1000} ms" if us % 1000 == 0 else f"latency {us} µs"


def conn_words(n, file_only=False):
    if file_only:
        return "1 read in flight" if n == 1 else f"{n} reads in flight"
    return "1 connection" if n == 1 else f"{n} connections"


def where(lat, n, file_only=False):
    """The panel at `lat` and `n` connections, in words."""
    if file_only:
        return f"At {conn_words(n, True)}"
    return f"At {lat_words(lat)}, {conn_words(n)}"


def _names(results):
    mt = len({r["transport"] for r in results}) > 1
    ms = len({r["size"] for r in results}) > 1
    return lambda r: variant(r, mt, ms)


def _and(names):
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def map_title(results):
    """Which models keep a core busy (CPU per round >= BUSY of the wall time)
    in most panels, and in how many panels at most the others do."""
    name = _names(results)
    panels, busy = {}, {}
    for r in results:
        if not (_ok(r["real_us"]) and _ok(r["cpu_us"])):
            continue
        k = name(r)
        panels.setdefault(k, 0)
        busy.setdefault(k, 0)
        panels[k] += 1
        busy[k] += r["cpu_us"] >= BUSY * r["real_us"]
    if not panels:
        return "Wall time against CPU per round"
    keen = [k for k in panels if busy[k] * 2 > panels[k]]
    rest = [k for k in panels if k not in keen]
    if not keen:
        return f"No model keeps a core busy in most panels (CPU ≥ {BUSY:.0%} of wall time)"
    if all(busy[k] == panels[k] for k in keen) and len({panels[k] for k in keen}) == 1:
        n = panels[keen[0]]
        span = f"in all {n} panels" if n > 1 else "in the one panel"
    else:
        span = "in most panels"
    text = f"{_and(keen)} keep{'s' if len(keen) == 1 else ''} a core busy {span}"
    if rest:
        most = max(busy[k] for k in rest)
        n = max(panels[k] for k in rest)
        text += (f"; the other {len(rest)} model{'s' if len(rest) > 1 else ''} do"
                 f"{'es' if len(rest) == 1 else ''} in at most {most} of {n}")
    return text + f" (CPU ≥ {BUSY:.0%} of wall time)"


def _spread(rows):
    """The finding of one panel's rows [(name, value, lo, hi, exact)]: the
    dearest against the cheapest, or None when their intervals overlap."""
    cheap = min(rows, key=lambda p: p[1])
    dear = max(rows, key=lambda p: p[1])
    if cheap is dear:
        return None
    said = compare(dear[1:], cheap[1:])
    return (dear[0], cheap[0], said) if said else None


def _pick(panels):
    """The panel (key, rows) with the most models; of those, the one whose
    dearest model is furthest (by its least factor) above its cheapest."""
    def strength(item):
        rows = item[1]
        dear, cheap = max(rows, key=lambda p: p[1]), min(rows, key=lambda p: p[1])
        sure = dear[2] / cheap[3] if dear[4] and cheap[4] else dear[1] / cheap[1]
        return len(rows), sure
    return max(sorted(panels.items()), key=strength)


def _apart(panels, file_only, empty, neutral, finding):
    """The finding at the panel _pick chooses among those with two models or
    more: `finding` formatted with the dearest, the cheapest and the factor
    _spread can claim, `neutral` when it claims none, `empty` without a
    panel."""
    panels = {k: v for k, v in panels.items() if len(v) >= 2}
    if not panels:
        return empty
    (lat, n), rows = _pick(panels)
    got = _spread(rows)
    at = where(lat, n, file_only)
    if not got:
        return f"{at}, {neutral}"
    dear, cheap, said = got
    return f"{at}, " + finding.format(dear=dear, cheap=cheap, said=said)


def cpu_waste_title(results, file_only=False):
    """At the panel with the most models, the dearest model per request
    against the cheapest, when their intervals separate them."""
    name = _names(results)
    panels = {}
    for r in results:
        if _ok(r["cpu_us_per_req"]):
            panels.setdefault((r["lat_us"], r["conns"]), []).append(
                (name(r), r["cpu_us_per_req"], *bounds(r, "cpu_us_per_req")))
    return _apart(panels, file_only, "CPU burnt per request, by model",
                  "no model's CPU per request is clearly apart from the others'",
                  "{dear} burns {said} {cheap}'s CPU per request")


def p99(spectrum):
    """The latency (µs) at the 99th percentile of a spectrum, or None."""
    for point in sorted(spectrum, key=lambda p: float(p["fraction"])):
        if float(point["fraction"]) >= 0.99:
            return float(point["us"])
    return None


def latency_title(items, file_only=False):
    """The lowest and the highest p99 (of the spectra drawn) at the panel
    with the most models; the factor between them only when the results'
    p99 intervals, where they have them, separate the two."""
    name = _names([r for r, _ in items])
    panels = {}
    for r, spec in items:
        v = p99(spec)
        if _ok(v):
            lo, hi, exact = bounds(r, "p99_us")
            if exact and not lo <= v <= hi:
                exact = False
            panels.setdefault((r["lat_us"], r["conns"]), []).append(
                (name(r), v, lo if exact else v, hi if exact else v, exact))
    return _apart(panels, file_only, "Latency by percentile",
                  "no model's p99 latency is clearly apart from the others'",
                  "{dear} has the highest p99 latency, {said} {cheap}'s (the lowest)")


def scaling_title(results, file_only=False):
    """The model whose CPU per request grows most (by its least factor) from
    the fewest to the most connections, at any latency."""
    name = _names(results)
    lines = {}
    for r in results:
        if _ok(r["cpu_us_per_req"]):
            lines.setdefault((name(r), r["lat_us"]), []).append(r)
    best = None
    ends = set()
    for (k, lat), rs in lines.items():
        if len(rs) < 2:
            continue
        rs.sort(key=lambda r: r["conns"])
        first, last = rs[0], rs[-1]
        ends.add((first["conns"], last["conns"]))
        a = (last["cpu_us_per_req"], *bounds(last, "cpu_us_per_req"))
        b = (first["cpu_us_per_req"], *bounds(first, "cpu_us_per_req"))
        said = compare(a, b)
        sure = a[1] / b[2]
        if said and (best is None or sure > best[0]):
            best = (sure, k, lat, said, first["conns"], last["conns"])
    if not ends:
        return "CPU per request against connections"
    if best is None:
        unit = "reads in flight" if file_only else "connections"
        span = (f" from {min(e[0] for e in ends)} to {max(e[1] for e in ends)} {unit}"
                if len(ends) == 1 else f" with {unit}")
        return f"No model's CPU per request clearly grows{span}"
    _, k, lat, said, lo, hi = best
    at = "" if file_only else f" at {lat_words(lat)}"
    return (f"{k}'s CPU per request grows most from {conn_words(lo, file_only)} to {hi}: "
            f"{said}{at}")


def set_titles(fig, finding, what):
    """The finding as the figure's title, wrapped to its width, and below it
    `what` (what the figure shows) smaller. Sets fig.title_inches, the room
    both take at the top."""
    width = fig.get_figwidth()
    height = fig.get_figheight()
    lines = textwrap.wrap(finding, max(30, int(width * 72 / (12 * 0.55))))
    fig.suptitle("\n".join(lines), fontsize=12, y=1 - 0.08 / height, va="top")
    below = 0.1 + 0.2 * len(lines)
    fig.text(0.5, 1 - below / height, what, ha="center", va="top", fontsize=9, color="#333")
    fig.title_inches = below + 0.16 * (what.count("\n") + 1) + 0.12
    return fig.title_inches
