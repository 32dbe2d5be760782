#!/usr/bin/python3
# Description: draws `iomodels ladder --json` results as one PNG: a panel per
# cell (role × regime × size), a row per step in ladder order, each step's CPU
# per request over the step before's (median, paired by round) with its 95%
# interval as whiskers, coloured by the ladder's verdict. Under each panel: the
# top and the cheapest step over the reference model, and the skipped steps.
#
# Runs with Debian's python3-matplotlib:
#   /usr/bin/python3 tools/ladder_plot.py ladder.json -o ladder.png
"""Plot the JSON of `iomodels ladder --json`.

usage: tools/ladder_plot.py LADDER.json -o OUT.png [--title TEXT]
"""

import argparse
import json
import math
import os
import sys
import tempfile
import textwrap

PROG = "ladder_plot.py"

# The verdicts the ladder gives when a step's interval excludes 1 or holds it;
# any other word ("(fewer than 6 rounds)", "—") is no verdict, drawn hollow.
VERDICT_COLOURS = {"cheaper": "tab:green", "tie": "#888888", "dearer": "tab:red"}
NO_VERDICT_COLOUR = "#333333"

# Ticks offered on the log ratio axis; those inside its limits are drawn. The
# finer ones are for a ladder whose every step is within a few percent.
TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
FINE_TICKS = (0.8, 0.9, 0.95, 1.05, 1.1, 1.25)

# A panel's room: inches a step row, and inches for its title, axis and the
# text lines under it. Chosen so that nine steps and three lines of notes
# read at 110 dpi without overlapping the panel below.
ROW_INCHES = 0.3
PANEL_EXTRA_INCHES = 1.5
NOTE_LINE_INCHES = 0.16
COLUMN_INCHES = 7.5


class InputError(Exception):
    """A bad argument or input: a one-line message, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def number_or_none(v, where):
    """A finite number, or None for null (the ladder writes an interval it
    could not work out as null) and for a non-finite one."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where} is not a number: {json.dumps(v)[:40]}")
    return float(v) if math.isfinite(v) else None


def check_ratio(r, where):
    """A ratio object (ratio_to_before, top_ratio, best_ratio) as
    {median, lo, hi, verdict, step}, with numbers checked."""
    if not isinstance(r, dict):
        raise InputError(f"{where} is not an object")
    out = {k: number_or_none(r.get(k), f"{where}.{k}") for k in ("median", "lo", "hi")}
    for k in ("median", "lo", "hi"):
        if out[k] is not None and out[k] <= 0:
            raise InputError(f"{where}.{k} is not a positive ratio: {out[k]:g}")
    out["verdict"] = str(r.get("verdict", ""))
    out["step"] = str(r["step"]) if r.get("step") is not None else None
    return out


def check_cell(c, where):
    """One cell, checked: title, error (or None), steps [(name, ratio or
    None)], skipped step names, reference (model, top, best) or None."""
    if not isinstance(c, dict):
        raise InputError(f"{where} is not an object")
    title = str(c.get("title") or f"{c.get('role', '?')}, {c.get('regime', '?')}, "
                                  f"{c.get('size', '?')} B")
    cell = {"title": title, "error": None, "steps": [], "skipped": [], "reference": None}
    if c.get("error"):
        cell["error"] = str(c["error"])
        return cell
    steps = c.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError(f"{where} has no \"steps\" (and no \"error\")")
    for i, s in enumerate(steps):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise InputError(f"{where}.steps[{i}] has no \"name\"")
        ratio = s.get("ratio_to_before")
        ratio = None if ratio is None else check_ratio(
            ratio, f"{where}.steps[{i}].ratio_to_before")
        cell["steps"].append((s["name"], ratio))
    skipped = c.get("skipped", [])
    if not isinstance(skipped, list):
        raise InputError(f"{where}.skipped is not a list")
    cell["skipped"] = [str(s.get("step", "?")) if isinstance(s, dict) else str(s)
                       for s in skipped]
    ref = c.get("reference")
    if ref is not None:
        if not isinstance(ref, dict):
            raise InputError(f"{where}.reference is not an object")
        cell["reference"] = {
            "model": str(ref.get("model", "the reference")),
            "top": (check_ratio(ref["top_ratio"], f"{where}.reference.top_ratio")
                    if ref.get("top_ratio") is not None else None),
            "best": (check_ratio(ref["best_ratio"], f"{where}.reference.best_ratio")
                     if ref.get("best_ratio") is not None else None)}
    return cell


def load(path):
    """The ladder file at `path`: (document, checked cells)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError(f"argument LADDER: cannot read {path}: {e.strerror}")
    except UnicodeDecodeError:
        raise InputError(f"argument LADDER: {path} is not JSON (not UTF-8 text)")
    except ValueError as e:
        raise InputError(f"argument LADDER: {path} is not JSON "
                         f"(line {getattr(e, 'lineno', '?')}: {getattr(e, 'msg', e)})")
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise InputError(f"argument LADDER: {path} has no \"cells\" list: "
                         f"not the JSON of `iomodels ladder --json`")
    if not doc["cells"]:
        raise InputError(f"argument LADDER: {path} has an empty \"cells\" list: nothing to draw")
    try:
        cells = [check_cell(c, f"cells[{i}]") for i, c in enumerate(doc["cells"])]
    except InputError as e:
        raise InputError(f"argument LADDER: {path}: {e}")
    return doc, cells


def check_out(out):
    """Refuses an -o that cannot be written before anything is drawn: its
    directory missing or read-only, or OUT a directory."""
    d = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        raise InputError(f"argument -o/--out: {out} is a directory")
    if not os.path.isdir(d):
        raise InputError(f"argument -o/--out: cannot write {out}: no directory {d}")
    if not os.access(d, os.W_OK | os.X_OK):
        raise InputError(f"argument -o/--out: cannot write {out}: {d} is not writable")


def interval_text(r):
    """"0.69 [0.54, 0.85]", or the median alone where there is no interval."""
    if r["median"] is None:
        return "no ratio"
    text = f"{r['median']:.2f}"
    if r["lo"] is not None and r["hi"] is not None:
        text += f" [{r['lo']:.2f}, {r['hi']:.2f}]"
    return text


def ratio_limits(cells):
    """The x limits every panel shares, even in log around 1 so that a step
    twice as dear is as far from the line as one twice as cheap."""
    span = math.log(1.1)
    for c in cells:
        for _, r in c["steps"]:
            if r is None:
                continue
            for v in (r["median"], r["lo"], r["hi"]):
                if v is not None:
                    span = max(span, abs(math.log(v)))
    span *= 1.15
    return math.exp(-span), math.exp(span)


def ticks_within(lo, hi):
    ticks = [t for t in TICKS if lo <= t <= hi]
    if len(ticks) < 3:
        ticks = sorted(set(ticks) | {t for t in FINE_TICKS if lo <= t <= hi})
    return ticks


def notes_of(cell):
    """The lines under a panel: the top and best step over the reference,
    and the skipped steps."""
    lines = []
    ref = cell["reference"]
    if ref:
        for key in ("top", "best"):
            r = ref[key]
            if r is None:
                continue
            step = f" ({r['step']})" if r["step"] else ""
            lines.append(f"{key}{step} ÷ {ref['model']}: {interval_text(r)} {r['verdict']}")
    if cell["skipped"]:
        lines.append("skipped: " + ", ".join(cell["skipped"]))
    return lines


def draw_cell(ax, cell, xlim):
    """One cell's panel: a row per step, top to bottom in ladder order."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_title(textwrap.fill(cell["title"], 70), fontsize=9)
    if cell["error"]:
        ax.set_axis_off()
        ax.text(0.5, 0.5, textwrap.fill(f"failed: {cell['error']}", 60), ha="center",
                va="center", fontsize=9, color="tab:red", transform=ax.transAxes)
        return
    n = len(cell["steps"])
    ax.set_xscale("log")
    ax.set_xlim(*xlim)
    ax.set_ylim(n - 0.5, -0.5)  # the first step at the top
    ax.axvline(1.0, color="#555555", lw=0.9, ls="--", zorder=1)
    for y, (name, r) in enumerate(cell["steps"]):
        if r is None or r["median"] is None:
            ax.text(1.0, y, "  first step: the base" if r is None else "  no ratio",
                    ha="left", va="center", fontsize=7, color="#666666")
            continue
        colour = VERDICT_COLOURS.get(r["verdict"])
        edge = colour or NO_VERDICT_COLOUR
        if r["lo"] is not None and r["hi"] is not None:
            # The interval always holds the median; clamp a rounding slip.
            xerr = [[max(0.0, r["median"] - r["lo"])], [max(0.0, r["hi"] - r["median"])]]
            ax.errorbar(r["median"], y, xerr=xerr, fmt="none", ecolor=edge, elinewidth=1.1,
                        capsize=3, zorder=2)
        ax.plot(r["median"], y, "o", ms=6.5, mec=edge, mew=1.3,
                mfc=colour if colour else "none", zorder=3)
        # The verdict word beside a resolved point; the legend and the caption
        # say why the hollow ones have none.
        word = f" {r['verdict']}" if colour else ""
        ax.annotate(interval_text(r) + word, xy=(1.0, y),
                    xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=7,
                    color="#333333", annotation_clip=False)
    ax.set_yticks(range(n))
    ax.set_yticklabels([name for name, _ in cell["steps"]], fontsize=8)
    ax.xaxis.set_major_locator(FixedLocator(ticks_within(*xlim)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("CPU per request ÷ the step before (log)", fontsize=8)
    ax.grid(axis="x", which="major", color="#dddddd", lw=0.6, zorder=0)
    notes = notes_of(cell)
    if notes:
        ax.annotate("\n".join(notes), xy=(0.0, 0.0), xycoords="axes fraction",
                    xytext=(0, -30), textcoords="offset points", ha="left", va="top",
                    fontsize=7, color="#444444", annotation_clip=False)


def caption(doc, cells):
    """The number of rounds, why hollow points have no verdict, and the
    machine, from the file."""
    env = doc.get("environment") if isinstance(doc.get("environment"), dict) else {}
    parts = []
    # The ladder writes "—" where a ratio has no interval at all.
    reasons = sorted({r["verdict"] if r["verdict"] not in ("", "—") else "(no interval)"
                      for c in cells for _, r in c["steps"]
                      if r is not None and r["verdict"] not in VERDICT_COLOURS})
    if reasons:
        parts.append("hollow: no verdict " + " or ".join(reasons))
    if doc.get("repeat") is not None:
        parts.append(f"median of {doc['repeat']} rounds, paired by round")
    if env.get("kernel"):
        parts.append(f"kernel {env['kernel']}")
    if env.get("cores") is not None:
        parts.append(f"{env['cores']} cores")
    if env.get("cpu"):
        parts.append(str(env["cpu"]))
    return "; ".join(parts)


def draw(doc, cells, title):
    """The figure: a grid of panels, two columns when there is more than one
    cell, with a shared legend above them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    cols = 1 if len(cells) == 1 else 2
    rows = math.ceil(len(cells) / cols)
    # Every row of panels as tall as the tallest cell in the figure.
    steps = max((len(c["steps"]) for c in cells), default=1) or 3
    notes = max((len(notes_of(c)) for c in cells), default=0)
    panel = ROW_INCHES * max(steps, 3) + PANEL_EXTRA_INCHES + NOTE_LINE_INCHES * notes
    fig, axes = plt.subplots(rows, cols, squeeze=False,
                             figsize=(COLUMN_INCHES * cols, panel * rows + 1.2))
    xlim = ratio_limits(cells)
    for i, cell in enumerate(cells):
        draw_cell(axes[i // cols][i % cols], cell, xlim)
    for j in range(len(cells), rows * cols):
        axes[j // cols][j % cols].set_axis_off()

    handles = [Line2D([], [], ls="none", marker="o", mec=c, mfc=c, label=f"{v}")
               for v, c in VERDICT_COLOURS.items()]
    handles.append(Line2D([], [], ls="none", marker="o", mec=NO_VERDICT_COLOUR, mfc="none",
                          label="no verdict (too few rounds or no interval)"))
    # The title in the top 0.4 inch, the legend in the 0.4 inch below it.
    height = fig.get_figheight()
    fig.suptitle(title or "io_uring feature ladder: each step's CPU per request ÷ the step "
                          "before's (median, 95% interval)", fontsize=11,
                 y=1 - 0.1 / height, va="top")
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 1 - 0.45 / height))
    text = caption(doc, cells)
    if text:
        fig.text(0.5, 0.005, text, ha="center", va="bottom", fontsize=7, color="#444444")
    fig.tight_layout(rect=(0, 0.3 / height, 1, 1 - 0.85 / height), h_pad=1.5, w_pad=2.0)
    return fig


def write_png(fig, out):
    """Writes the PNG beside `out` under a temporary name and renames it into
    place: an existing `out` is replaced whole or not at all."""
    d = os.path.dirname(os.path.abspath(out))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(out)}.", suffix=".partial", dir=d)
    except OSError as e:
        raise InputError(f"argument -o/--out: cannot write {out}: {e.strerror}")
    try:
        with os.fdopen(fd, "wb") as f:
            # SVG when OUT says so (the report inlines it), else PNG.
            svg = out.lower().endswith(".svg")
            fig.savefig(f, format="svg" if svg else "png", dpi=110)
        # mkstemp's file is private (0600); give it what a plain open would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"argument -o/--out: cannot write {out}: {e.strerror}")
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv):
    ap = Parser(
        prog=PROG,
        description="Draw `iomodels ladder --json` as one PNG: for each cell, each step's "
                    "CPU per request over the step before's, with its 95% interval and "
                    "coloured by verdict (cheaper green, tie grey, dearer red, no verdict "
                    "hollow).",
        epilog="exit status: 0 written, 2 bad input (one line on stderr). A cell the "
               "ladder could not run is drawn as a 'failed: ...' panel.")
    ap.add_argument("ladder", metavar="LADDER", help="the file of iomodels ladder --json")
    ap.add_argument("-o", "--out", required=True, help="the PNG to write (replaced whole)")
    ap.add_argument("--title", help="the figure's title (default: what it shows)")
    args = ap.parse_args(argv)
    try:
        check_out(args.out)
        doc, cells = load(args.ladder)
        fig = draw(doc, cells, args.title)
        write_png(fig, args.out)
    except InputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
