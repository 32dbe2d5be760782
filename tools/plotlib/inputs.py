# Description: reading what plot.py draws, every input checked first: Google
# Benchmark JSON from `iomodels bench` (one result per point, the 95% interval of
# its median over the repetitions, resolved or not), `iomodels run --json` files,
# --latency-out spectra.
"""Loading and checking iomodels results for the plots.

Every function raises InputError with a one-line message on bad input."""

import json
import math
import os
import re

TIME_UNIT_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
# A point is resolved when it has at least MIN_REPETITIONS repetitions and the
# 95% interval of the median of each of RESOLVE_FIGURES lies within ±PRECISION
# of that median, as `iomodels bench` decides it (bench/resolution.h). bench
# states its precision in the JSON context (`precision`, a percent) and marks
# each point (counter `resolved` on its mean and median rows), which takes
# precedence; files written before it carry `noisy` instead (a CV above 5%).
PRECISION = 0.05
RESOLVE_FIGURES = ("cpu_us_per_req", "items_per_second")
# The fewest repetitions whose order-statistic interval of the median reaches
# 95%: the range of 6 covers the median with 1 - 2/64 = 96.9%.
MIN_REPETITIONS = 6
LEVEL = 0.95
# The figures bench gives an interval on the median row (<figure>_lo and
# <figure>_hi).
INTERVAL_FIGURES = ("cpu_us_per_req", "items_per_second", "p50_us", "p99_us", "syscalls_per_req")
# The figures drawn with an error bar. Every error bar is the 95% interval of
# the median over the repetitions (order statistics, median_interval): the
# file's <figure>_lo and <figure>_hi when its median row has them, otherwise
# computed from the repetitions in the file (always so for real_us and cpu_us).
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
    """'<model>/<transport>/conns:<N>/size:<B>/lat_us:<L>[/jitter:<D>][/...]' -> dict,
    or None. A jittered latency's segment is part of the base name and of
    'jitter' ('' for a constant one)."""
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
    jittered = len(parts) > 5 and parts[5].startswith("jitter:")
    return {"model": parts[0], "transport": parts[1], "conns": vals[0], "size": vals[1],
            "lat_us": vals[2], "jitter": parts[5][len("jitter:"):] if jittered else "",
            "base": "/".join(parts[:6] if jittered else parts[:5])}


def load_benchmarks(paths):
    """Returns (results, errored, context). One result per base name: the
    'median' aggregate when there were repetitions (else 'mean', else the mean
    of its runs), with the 95% interval of its median over the repetitions and
    whether it is unresolved."""
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
    precision = precision_of(context)
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
        add_spread(r, reps, {k: b for k, (_, b) in aggs.items()}, precision)
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


def precision_of(context):
    """The precision a point must be resolved to, as a fraction: the context's
    `precision` (a percent, as bench writes it), else PRECISION."""
    try:
        p = float(context.get("precision", PRECISION * 100)) / 100
    except (TypeError, ValueError):
        return PRECISION
    return p if math.isfinite(p) and p > 0 else PRECISION


def median_interval(values, level=LEVEL):
    """(lo, hi, coverage): the distribution-free interval of the median of
    `values` from their order statistics, as stats::median_interval in
    src/measure/stats.cc computes it, step for step: of the n sorted values,
    v[k-1] and v[n-k] with the largest k <= (n+1)/2, counting up from k = 1,
    whose coverage 1 - 2 P(Binomial(n, 1/2) < k) is at least `level`. Below 6
    values no k > 1 reaches 95%: the range, its coverage below the level.
    Empty input: all NaN."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        nan = float("nan")
        return nan, nan, nan
    # The binomial's probabilities, in the order and arithmetic of the C++.
    pmf = []
    p = 0.5 ** n
    for i in range(n + 1):
        pmf.append(p)
        p = p * (n - i) / (i + 1)

    def coverage(k):
        below = 0.0
        for i in range(k):
            below += pmf[i]
        return 1 - 2 * below

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return v[k - 1], v[n - k], coverage(k)


def median(values):
    """The middle value; the mean of the two middle ones for an even count."""
    v = sorted(values)
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def half_width(values, lo, hi):
    """The interval's larger distance from the median of `values`, relative
    to it; infinite for a zero median (bench's Spread::half_width)."""
    m = median(values)
    if m == 0 or math.isnan(lo) or math.isnan(hi):
        return math.inf
    return max(m - lo, hi - m) / abs(m)


def resolved_by_rule(values_of, precision):
    """Whether a point is resolved from its repetitions: `values_of(figure)`
    gives a figure's values over them. At least MIN_REPETITIONS of each of
    RESOLVE_FIGURES, and each one's 95% interval within ±precision of its
    median."""
    for key in RESOLVE_FIGURES:
        vals = [x for x in values_of(key) if not math.isnan(x)]
        if len(vals) < MIN_REPETITIONS:
            return False
        lo, hi, _ = median_interval(vals)
        if not half_width(vals, lo, hi) <= precision:
            return False
    return True


def file_interval(row, key):
    """(lo, hi) from a median row's <key>_lo and <key>_hi, or None."""
    lo, hi = row.get(key + "_lo"), row.get(key + "_hi")
    if finite_number(lo) and finite_number(hi):
        return float(lo), float(hi)
    return None


def add_spread(r, reps, aggs, precision=PRECISION):
    """Sets r['reps'] (repetitions), r['range'] ({figure: (lo, hi)}, the 95%
    interval of the median: the median row's <figure>_lo and <figure>_hi when
    present, else computed from the runs when they are in the file) and
    r['unresolved']: the point's `resolved` counter when bench wrote one, an
    older file's `noisy` counter, else the rule (resolved_by_rule) over the
    runs in the file. A point whose repetitions are not in the file (only
    aggregates) is unresolved; a single run is not marked, and has no
    interval."""
    r["reps"] = len(reps) if len(reps) >= 2 else 0
    r["range"] = {}
    median_row = aggs.get("median") or {}
    for key in dict.fromkeys(RANGE_FIGURES + INTERVAL_FIGURES):
        got = file_interval(median_row, key)
        if got is None and key in RANGE_FIGURES and len(reps) >= 2:
            vals = [v for v in (figure_of(b, key) for b in reps) if not math.isnan(v)]
            if len(vals) >= 2:
                got = median_interval(vals)[:2]
        if got is not None:
            r["range"][key] = got
    marked = aggs.get("median") or aggs.get("mean") or {}
    if marked.get("resolved") is not None:
        v = marked["resolved"]
        r["unresolved"] = not (finite_number(v) and v != 0)
    elif marked.get("noisy") is not None:
        r["unresolved"] = bool(marked["noisy"])
    elif len(reps) >= 2:
        r["unresolved"] = not resolved_by_rule(lambda k: [figure_of(b, k) for b in reps],
                                               precision)
    else:
        # Aggregates without their repetitions: repeated, but no interval.
        r["unresolved"] = bool(aggs)
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
    m = re.search(r"(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?", str(text))
    if not m:
        return 0
    return int(round(float(m.group(1)) * LATENCY_UNITS_US.get(m.group(2) or "us", 1.0)))


def load_run_files(paths):
    """`iomodels run --json` results as results like load_benchmarks' (one per
    scenario; several files of one scenario are its repetitions: the median,
    its 95% interval and resolved or not, as for bench). Returns (results, {},
    environment)."""
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
            r[key] = median([v[key] for v in runs])
        r["quadrant"] = g["quadrant"]
        r["peer_bound"] = g["peer_bound"]
        r["reps"] = len(runs) if len(runs) > 1 else 0
        # As for bench: the 95% interval of each median, and a point resolved
        # by the same rule; a single run is not marked and has no interval.
        r["range"] = ({k: median_interval([v[k] for v in runs])[:2] for k in RANGE_FIGURES}
                      if len(runs) > 1 else {})
        r["unresolved"] = len(runs) > 1 and not resolved_by_rule(
            lambda k: [v[k] for v in runs], PRECISION)
        results.append(r)
    return results, {}, context


def is_chain_file(path):
    doc = load_json(path, "input file")
    return isinstance(doc, dict) and "timeline" in doc and doc.get("mode") in ("sync", "queue")
