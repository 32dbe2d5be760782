# Description: reading what plot.py draws, every input checked first: Google
# Benchmark JSON from `iomodels bench` (one result per point, its spread over the
# repetitions, noisy or not), `iomodels run --json` files, --latency-out spectra.
"""Loading and checking iomodels results for the plots.

Every function raises InputError with a one-line message on bad input."""

import json
import math
import os
import re

TIME_UNIT_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
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
