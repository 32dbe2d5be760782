#!/usr/bin/python3
# Description: writes report.html for an `iomodels bench` results directory
# (what tools/suite.sh writes): one self-contained HTML file with inline SVG
# plots (drawn by tools/plot.py), the environment, a sortable table of every
# point with unresolved points marked, the sweeps when sweep.json or sweep-client.json
# are present (drawn by tools/plot_sweep.py), the thread-per-core models over
# their loop count when threads.json is (tools/threads_sweep.py), the io_uring
# feature ladder when ladder.md is (iomodels ladder; ladder.svg beside it),
# and with --previous DIR a comparison of the medians (interval, verdict and
# Mann-Whitney p, as `iomodels compare` works them out).
#
# Runs with Debian's python3-matplotlib: /usr/bin/python3 tools/report.py DIR
"""Write DIR/report.html from an iomodels results directory.

usage: tools/report.py DIR [--previous OLD_DIR] [--out FILE]
"""

import argparse
import html
import json
import math
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
try:
    import plot  # tools/plot.py, or iomodels-plot's module when installed beside it
except ImportError:  # installed: the module is the renamed iomodels-plot script
    import importlib.machinery
    import importlib.util

    _path = os.path.join(os.path.dirname(os.path.realpath(__file__)), "iomodels-plot")
    _loader = importlib.machinery.SourceFileLoader("plot", _path)
    _spec = importlib.util.spec_from_loader("plot", _loader)
    plot = importlib.util.module_from_spec(_spec)
    _loader.exec_module(plot)


def _sibling(module, installed):
    """A tool beside this script: tools/<module>.py, or the installed,
    renamed script."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.realpath(__file__))
    for path in (os.path.join(here, module + ".py"), os.path.join(here, installed)):
        if os.path.exists(path):
            loader = importlib.machinery.SourceFileLoader(module, path)
            spec = importlib.util.spec_from_loader(module, loader)
            mod = importlib.util.module_from_spec(spec)
            loader.exec_module(mod)
            return mod
    raise ImportError(f"neither {module}.py nor {installed} beside {__file__}")


plot_sweep = _sibling("plot_sweep", "iomodels-plot-sweep")

# The figures compared between two results directories, per benchmark.
COMPARED = ("cpu_us_per_req", "items_per_second", "p99_us")

CSS = """
body{font-family:sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:0.85em}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}
td.t,th.t{text-align:left}
tr.unresolved td{background:#fff4e0}
tr.sig td{background:#fde0e0}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}
.note{color:#555;font-size:0.9em}
"""

# Sorts a table by the clicked column: numbers as numbers (data-v), text as text.
JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, i) {
  th.addEventListener('click', function() {
    var tb = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(tb.rows);
    var up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
    rows.sort(function(a, b) {
      var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v;
      var r = (x !== undefined && y !== undefined) ? (parseFloat(x) - parseFloat(y))
            : a.cells[i].textContent.localeCompare(b.cells[i].textContent);
      return up ? r : -r;
    });
    rows.forEach(function(r) { tb.appendChild(r); });
  });
});
"""


def fail(msg):
    print(f"report.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def esc(s):
    return html.escape(str(s))


def num(v, digits=3):
    """A plain decimal with thousands separators and `digits` significant digits."""
    if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{decimals}f}"


def inline_svg(path):
    """The SVG of a plot without its XML prologue, for inlining in HTML."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def load_dir(d, what):
    """(results, errored, context, spectra) of a results directory."""
    if not os.path.isdir(d):
        raise plot.InputError(f"{what} {d} is not a directory")
    bench = os.path.join(d, "bench.json")
    if not os.path.isfile(bench):
        raise plot.InputError(f"{what} {d} has no bench.json (not a tools/suite.sh results "
                              "directory)")
    results, errored, context = plot.load_benchmarks([bench])
    if not results:
        raise plot.InputError(f"{bench}: every benchmark was skipped or failed")
    spectra = None
    sp = os.path.join(d, "spectra.json")
    if os.path.isfile(sp):
        doc = plot.load_json(sp, "spectra file")
        if not isinstance(doc, dict) or not isinstance(doc.get("spectra"), dict):
            raise plot.InputError(f"{sp} is not an iomodels --latency-out file")
        spectra = doc["spectra"]
        plot.check_spectra(sp, spectra)
    return results, errored, context, spectra


def repetition_values(path):
    """base name -> figure -> list of per-repetition values, from a bench JSON."""
    doc = plot.load_json(path, "benchmark file")
    out = {}
    for b in doc.get("benchmarks", []):
        if not isinstance(b, dict) or b.get("run_type") == "aggregate" or b.get(
                "error_occurred"):
            continue
        info = plot.parse_name(b.get("run_name", b.get("name", "")))
        if info is None:
            continue
        figs = out.setdefault(info["base"], {})
        for k in COMPARED:
            if plot.finite_number(b.get(k)):
                figs.setdefault(k, []).append(float(b[k]))
    return out


def mann_whitney_p(a, b):
    """Two-sided p-value of the Mann-Whitney U test, computed as `iomodels
    compare` does (src/measure/stats.cc): the normal approximation with tie
    correction and continuity correction."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return float("nan")
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(pooled)
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, pooled) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mean_u = n1 * n2 / 2
    n = n1 + n2
    ties = {}
    for v, _ in pooled:
        ties[v] = ties.get(v, 0) + 1
    t = sum(c ** 3 - c for c in ties.values())
    var = n1 * n2 / 12 * ((n + 1) - t / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = max(0.0, abs(u1 - mean_u) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def shift_interval(a, b, level=0.95):
    """The ratio new/old with its interval, as `iomodels compare` works them
    out (src/measure/stats.cc, shift_between, on the logarithms): exp of the
    Hodges-Lehmann shift (the median of the pairwise log-ratios) and the
    pairwise log-ratios D(k), D(mn-k+1) with the largest k whose coverage
    1 - 2 P(U < k) under the exact rank-sum distribution is at least `level`.
    Returns (ratio, lo, hi, coverage), or None when a value is not positive."""
    if not a or not b or min(a) <= 0 or min(b) <= 0:
        return None
    la, lb = [math.log(v) for v in a], [math.log(v) for v in b]
    d = sorted(y - x for x in la for y in lb)
    m, n, mn = len(a), len(b), len(d)
    est = d[mn // 2] if mn % 2 else (d[mn // 2 - 1] + d[mn // 2]) / 2
    # ways[u]: the orders of the m + n values with U = u (a Gaussian binomial).
    ways = [0] * (mn + 1)
    ways[0] = 1
    for i in range(1, m + 1):
        for t in range(mn, n + i - 1, -1):
            ways[t] -= ways[t - n - i]
        for t in range(i, mn + 1):
            ways[t] += ways[t - i]
    total = sum(ways)
    k, below = 1, ways[0] / total
    while k + 1 <= (mn + 1) // 2 and 1 - 2 * (below + ways[k] / total) >= level:
        below += ways[k] / total
        k += 1
    return math.exp(est), math.exp(d[k - 1]), math.exp(d[mn - k]), 1 - 2 * below


def verdict(k, interval, level=0.95):
    """compare's verdict on one row: worse, better, tie ±X% or too few."""
    if interval is None:
        return "-"
    _, lo, hi, coverage = interval
    if coverage < level:
        return "too few"
    if lo > 1 or hi < 1:
        return "better" if (lo > 1) == (k == "items_per_second") else "worse"
    return f"tie ±{max(1 - lo, hi - 1):.1%}"


def comparison_rows(old_path, new_path):
    old, new = repetition_values(old_path), repetition_values(new_path)
    rows = []
    for base in new:
        if base not in old:
            continue
        for k in COMPARED:
            a, b = old[base].get(k, []), new[base].get(k, [])
            if not a or not b:
                continue
            mo, mn = plot.median(a), plot.median(b)
            change = (mn - mo) / mo if mo else float("nan")
            rows.append((base, k, mo, mn, change, shift_interval(a, b), mann_whitney_p(a, b),
                         len(a), len(b)))
    return rows


def td(v, text=None, cls=""):
    c = f' class="{cls}"' if cls else ""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return f'<td{c} data-v="{v!r}">{esc(text if text is not None else num(v))}</td>'
    return f'<td{c}>{esc(text if text is not None else v)}</td>'


def th(name, text_col=False):
    return f'<th class="t">{esc(name)}</th>' if text_col else f"<th>{esc(name)}</th>"


def marked_noisy(context):
    """Whether the file was written before the intervals, its points marked
    noisy by the CV of their repetitions (context noisy_cv, no precision)."""
    return "precision" not in context and "noisy_cv" in context


def points_table(results, word="unresolved"):
    """The table of every point; `word` marks an unresolved one ("noisy" for
    a file written before the intervals)."""
    cols = [("model", True), ("quadrant", True), ("transport", True), ("conns", False),
            ("size", False), ("lat_us", False), ("req/s", False), ("cpu µs/req", False),
            ("cpu_util", False), ("p50 µs", False), ("p99 µs", False), ("reps", False),
            (word, True)]
    out = ['<table class="sortable" id="points"><thead><tr>']
    out += [th(c, t) for c, t in cols]
    out.append("</tr></thead><tbody>")
    for r in results:
        cls = ' class="unresolved"' if r["unresolved"] else ""
        out.append(f"<tr{cls}>")
        out.append(td(r.get("model", "?"), cls="t"))
        out.append(td(r.get("quadrant", "?"), cls="t"))
        out.append(td(r.get("transport", "?"), cls="t"))
        for k in ("conns", "size", "lat_us"):
            v = r.get(k)
            out.append(td(v, f"{v:,}" if isinstance(v, int) else None))
        out.append(td(r["items_per_second"]))
        out.append(td(r["cpu_us_per_req"]))
        out.append(td(r["cpu_util"], f"{r['cpu_util']:.1%}"
                      if plot.finite_number(r["cpu_util"]) else None))
        out.append(td(r["p50_us"]))
        out.append(td(r["p99_us"]))
        out.append(td(r.get("reps", 0), str(r.get("reps", 0))))
        out.append(td(word if r["unresolved"] else "", cls="t"))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def points_note(results, context):
    """The sentence above the table of every point: how many are unresolved
    and what that means."""
    unresolved = sum(1 for r in results if r["unresolved"])
    single = sum(1 for r in results if r.get("reps", 0) < 2)
    if marked_noisy(context):
        # Written before the intervals: bench marked a point noisy by the
        # coefficient of variation of its repetitions.
        try:
            cv = f"{float(context['noisy_cv']):.0%}"
        except (TypeError, ValueError):
            cv = str(context["noisy_cv"])
        text = (f"{len(results)} points, {unresolved} marked noisy in the file (shaded, drawn "
                f"as unresolved): the coefficient of variation of CPU per request or "
                f"throughput over the repetitions above {cv}. The file was written before "
                f"bench gave each median its 95% interval.")
    else:
        p = plot.precision_of(context) * 100
        text = (f"{len(results)} points, {unresolved} unresolved (shaded): the 95% interval "
                f"of the median (order statistics over the repetitions) of CPU per request or "
                f"of throughput reaches beyond ±{p:g}% of it, or the point has fewer than "
                f"{plot.MIN_REPETITIONS} repetitions, so its median is not known to that "
                f"precision (the bench console, console.txt, says what was seen during each "
                f"one's repetitions).")
    if single:
        text += (f" {single} single run{'s carry' if single > 1 else ' carries'} no interval "
                 f"and {'are' if single > 1 else 'is'} not marked.")
    return text


def compare_table(rows):
    cols = [("benchmark", True), ("figure", True), ("old median", False),
            ("new median", False), ("change", False), ("95% interval", True), ("p-value", False),
            ("verdict", True), ("n old/new", True)]
    out = ['<table class="sortable" id="compare"><thead><tr>']
    out += [th(c, t) for c, t in cols]
    out.append("</tr></thead><tbody>")
    for base, k, mo, mn, change, interval, p, na, nb in rows:
        said = verdict(k, interval)
        out.append('<tr class="sig">' if said in ("worse", "better") else "<tr>")
        out.append(td(base, cls="t"))
        out.append(td(k, cls="t"))
        out.append(td(mo))
        out.append(td(mn))
        out.append(td(change, f"{change:+.1%}" if plot.finite_number(change) else None))
        out.append(td(f"[{interval[1] - 1:+.1%}, {interval[2] - 1:+.1%}]" if interval else "-",
                      cls="t"))
        out.append(td(p, f"{p:.3f}" if plot.finite_number(p) else None))
        out.append(td(said, cls="t"))
        out.append(td(f"{na}/{nb}", cls="t"))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def environment_table(context):
    keys = ("date", "hostname", "host_name", "kernel", "cpu", "cores", "num_cpus",
            "mhz_per_cpu", "cpu_scaling_enabled", "mitigations", "io_uring",
            "iomodels_version", "library_build_type", "load_avg", "precision", "noisy_cv",
            "pattern", "peer_loop", "requests_per_iteration")
    out = ['<table id="environment"><tbody>']
    for k in keys:
        if k in context:
            v = context[k]
            if isinstance(v, list):
                v = ", ".join(num(x) if isinstance(x, float) else str(x) for x in v)
            out.append(f'<tr><th class="t">{esc(k)}</th><td class="t">{esc(v)}</td></tr>')
    out.append("</tbody></table>")
    return "\n".join(out)


# The sweeps suite.sh writes, in the order the report shows them.
SWEEPS = (("sweep.json", "Sweep, server role: the peer offers the load, the model answers"),
          ("sweep-client.json", "Sweep, client role: the model asks a slow device at the load"))


def load_sweeps(d):
    """[(heading, doc)] for each sweep present in d; bad input exits 2."""
    return [(heading, plot_sweep.load(os.path.join(d, name)))
            for name, heading in SWEEPS if os.path.isfile(os.path.join(d, name))]


# The thread-per-core models over --threads (tools/threads_sweep.py), when
# the machine had more than 2 CPUs for the suite to sweep.
THREADS = "threads.json"


def load_threads(d):
    """threads.json of d, checked, or None when d has none; bad input exits 2."""
    path = os.path.join(d, THREADS)
    if not os.path.isfile(path):
        return None
    doc = plot.load_json(path, "threads sweep")
    points = doc.get("points") if isinstance(doc, dict) else None
    if not isinstance(points, list) or doc.get("kind") != "iomodels-threads-sweep":
        raise plot.InputError(f"{path} is not a tools/threads_sweep.py file")
    for p in points:
        ok = isinstance(p, dict) and isinstance(p.get("model"), str) and all(
            isinstance(p.get(k), dict) and all(plot.finite_number(p[k].get(x))
                                               for x in ("median", "lo", "hi"))
            for k in ("cpu_us_per_req", "requests_per_s"))
        if not ok or not isinstance(p.get("threads"), int):
            raise plot.InputError(f"{path}: a point without its model, threads and figures")
    return doc


def threads_table(doc):
    """The threads sweep as a table: per model and --threads, the medians of
    CPU per request and requests/s with their 95% intervals."""
    def cell(f):
        return td(f["median"], f"{num(f['median'])} [{num(f['lo'])}, {num(f['hi'])}]")

    out = ['<table class="sortable" id="threads"><thead><tr>', th("model", True),
           th("--threads"), th("loops"), th("cpu µs/req [95%]"), th("req/s [95%]"),
           "</tr></thead><tbody>"]
    for p in doc["points"]:
        loops = p.get("loops", "")
        out.append("<tr>" + td(p["model"], cls="t") + td(p["threads"], str(p["threads"]))
                   + td(loops, str(loops)) + cell(p["cpu_us_per_req"])
                   + cell(p["requests_per_s"]) + "</tr>")
    out.append("</tbody></table>")
    workload = " ".join(str(x) for x in doc.get("workload", []))
    note = (f"<code>iomodels run {esc(workload)} -r {esc(doc.get('rounds', '?'))}</code>, "
            f"client role, on {esc(doc.get('cores', '?'))} CPUs: medians [95% interval] over "
            f"{esc(doc.get('repetitions', '?'))} interleaved repetitions; the loops are not "
            f"pinned.")
    for model, why in sorted((doc.get("skipped") or {}).items()):
        note += f" {esc(model)} skipped: {esc(why)}."
    return f'<p class="note">{note}</p>' + "\n".join(out)


def markdown_html(text):
    """The Markdown tools/exec_table.py prints, as HTML: its pipe tables as
    tables (the separator row dropped), other lines as paragraphs, `code` as
    code. Nothing else of Markdown occurs there."""
    def inline(t):
        parts = esc(t).split("`")
        return "".join(f"<code>{x}</code>" if i % 2 else x for i, x in enumerate(parts))

    out, rows = [], []

    def flush():
        if rows:
            head, body = rows[0], rows[1:]
            out.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>"
                                 for r in body) + "</table>")
            rows.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                rows.append(cells)
            continue
        flush()
        if line.strip():
            out.append(f'<p class="note">{inline(line.strip())}</p>')
    flush()
    return "\n".join(out)


def sweep_svg(doc, tmp):
    """The sweep's two plots (plot_sweep.py: latency against achieved load,
    CPU against offered load), as an SVG file in tmp."""
    out = os.path.join(tmp, "sweep.png")
    plot_sweep.draw(doc, out, plot_sweep.title_of(doc))
    return os.path.join(tmp, "sweep.svg")


def main(argv):
    ap = argparse.ArgumentParser(
        description="Write one self-contained report.html (inline SVG plots, tables; no "
                    "network) for a results directory of tools/suite.sh: bench.json, "
                    "spectra.json, optional sweep.json and file/.",
        epilog="example: tools/report.py results/reference --previous results/old "
               "--out /tmp/report.html")
    ap.add_argument("dir", help="results directory (bench.json, spectra.json, ...)")
    ap.add_argument("--previous", metavar="DIR",
                    help="an earlier results directory: adds a table of old/new medians, the "
                         "change and the Mann-Whitney p-value per benchmark and figure")
    ap.add_argument("--out", help="the HTML file to write (default DIR/report.html)")
    args = ap.parse_args(argv)
    out_path = args.out or os.path.join(args.dir, "report.html")

    try:
        results, errored, context, spectra = load_dir(args.dir, "results directory")
        file_dir = os.path.join(args.dir, "file")
        file_part = None
        if os.path.isfile(os.path.join(file_dir, "bench.json")):
            file_part = load_dir(file_dir, "results directory")
        sweeps = load_sweeps(args.dir)
        threads = load_threads(args.dir)
        rows = None
        if args.previous:
            load_dir(args.previous, "--previous")
            rows = comparison_rows(os.path.join(args.previous, "bench.json"),
                                   os.path.join(args.dir, "bench.json"))
    except plot.InputError as e:
        fail(str(e))
    out_parent = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(out_parent):
        fail(f"--out: directory {out_parent} does not exist")

    import matplotlib

    matplotlib.use("Agg")
    parts = []

    def plots_of(results, errored, context, spectra):
        notes = sorted(errored.items())
        plot.FILE_ONLY = all(r.get("transport") == "file" for r in results)
        plot.UNRESOLVED_LABEL = plot.unresolved_label(context)
        plot.SPREAD_NOTE = plot.spread_note(results, plot.UNRESOLVED_LABEL)
        figs = []
        with tempfile.TemporaryDirectory() as tmp:
            plot.plot_map(results, context, notes, tmp)
            plot.plot_cpu_waste(results, context, notes, tmp)
            if spectra is not None:
                plot.plot_latency(results, spectra, context, notes, tmp)
            plot.plot_scaling(results, context, notes, tmp)
            for name, title in (("map_2x2", "The 2×2 map: wall time against CPU"),
                                ("cpu_waste", "CPU wasted per request"),
                                ("latency", "Latency spectra"),
                                ("scaling", "Scaling with connections")):
                p = os.path.join(tmp, name + ".svg")
                if os.path.isfile(p):
                    figs.append(f'<figure id="{name}"><figcaption><b>{esc(title)}</b>'
                                f"</figcaption>{inline_svg(p)}</figure>")
        return "\n".join(figs)

    # The demo's timeline page, when the suite wrote one beside this report
    # (a relative link: the two travel together).
    if os.path.isfile(os.path.join(args.dir, "demo.html")):
        parts.append('<p class="note">The download() story once per quadrant, on a timeline: '
                     '<a href="demo.html">demo.html</a> (<code>iomodels demo --html</code>).</p>')
    parts.append("<h2>Environment</h2>" + environment_table(context))
    parts.append("<h2>Socket transports</h2>" + plots_of(results, errored, context, spectra))
    if file_part:
        parts.append("<h2>File transport</h2>" + plots_of(*file_part))
    for i, (heading, doc) in enumerate(sweeps):
        with tempfile.TemporaryDirectory() as tmp:
            parts.append(f'<h2>{esc(heading)}</h2><figure id="sweep{i}">'
                         + inline_svg(sweep_svg(doc, tmp)) + "</figure>")
    if threads is not None:
        parts.append("<h2>Thread-per-core loops: epoll-tpc and uring-tpc over --threads</h2>"
                     + threads_table(threads))
    # The io_uring feature ladder (iomodels ladder) and the example clients
    # and servers beside their models (tools/exec_table.py), as the suite wrote them.
    for name, heading, svg in (
            ("ladder.md", "The io_uring feature ladder: each step over the one before", "ladder.svg"),
            (os.path.join("exec", "table.md"),
             "Programs under run --exec: the examples beside their models", None)):
        if os.path.isfile(os.path.join(args.dir, name)):
            with open(os.path.join(args.dir, name), encoding="utf-8") as f:
                fig = os.path.join(args.dir, svg) if svg else ""
                parts.append(f"<h2>{esc(heading)}</h2>" + (
                    inline_svg(fig) if fig and os.path.isfile(fig) else "") + markdown_html(f.read()))
    if rows is not None:
        parts.append(f"<h2>Comparison with {esc(args.previous)}</h2>"
                     f'<p class="note">Medians over the repetitions; the 95% interval of the '
                     f"ratio new/old and the verdict, as <code>iomodels compare</code> works them "
                     f"out (rows called worse or better are shaded), and the p-value of a "
                     f"two-sided Mann–Whitney U test. The samples are the repetitions of one run "
                     f"a side, which share that run's moment: a verdict says these two runs "
                     f"differ, not that the code does (<code>iomodels compare --old --new</code> "
                     f"with four runs a side, or <code>iomodels ab</code>, judge builds).</p>"
                     + compare_table(rows))
    all_results = results + (file_part[0] if file_part else [])
    parts.append(f"<h2>Every point</h2><p class=\"note\">{esc(points_note(all_results, context))} "
                 f"Click a column to sort.</p>"
                 + points_table(all_results, "noisy" if marked_noisy(context) else "unresolved"))
    if errored:
        parts.append(f'<p class="note">Left out (error or not applicable): '
                     f"{len(errored)} benchmarks, listed in notes.txt.</p>")

    title = f"iomodels results: {os.path.basename(os.path.abspath(args.dir))}"
    doc = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
           f"<h1>{esc(title)}</h1>\n" + "\n".join(parts)
           + f"\n<script>{JS}</script></body></html>\n")
    # Drawn SVG may reference nothing outside; drop any xlink to be certain.
    doc = re.sub(r'xlink:href="http[^"]*"', "", doc)
    tmp_path = out_path + ".partial"
    try:
        with open(tmp_path, "w", encoding="utf-8") as f:
            f.write(doc)
        os.replace(tmp_path, out_path)
    except OSError as e:
        fail(f"cannot write {out_path}: {e.strerror}")
    print(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
