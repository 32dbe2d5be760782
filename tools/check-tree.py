#!/usr/bin/python3
# Description: checks the source tree's shape: no source file over 600 lines, no
# include cycle inside a layer, no include that points up the layer order.
"""Check the iomodels source tree's shape (run with /usr/bin/python3)."""

import argparse
import os
import re
import sys

# The layers from the bottom up, as CMakeLists.txt builds them: a layer may
# include only layers of a lower rank. The frontends share a rank and are
# siblings: none may include another, but for SIBLING_INCLUDES. A layer whose
# directory is missing (one not created yet) is simply absent.
LAYERS = (
    # name,       directory,      rank
    ("sys",       "src/sys",       0),
    ("measure",   "src/measure",   1),
    ("peer",      "src/peer",      2),
    ("workload",  "src/workload",  3),
    ("models",    "src/models",    4),
    ("run",       "src/run",       5),
    ("frontend",  "src/frontend",  6),
    ("bench",     "bench",         7),
    ("calibrate", "src/calibrate", 7),
    ("overhead",  "src/overhead",  7),
    ("ladder",    "src/ladder",    7),
    ("chain",     "src/chain",     7),
    ("compare",   "src/compare",   7),
    ("cli",       "src/cli",       7),
    ("app",       "src/app",       8),
)

# The one sibling a frontend may include, as CMakeLists.txt links it: cli's
# demo tells the services story through chain's library.
SIBLING_INCLUDES = {("cli", "chain")}

# The directories walked, relative to the root.
WALKED = ("src", "bench", "tests", "tools", "include", "examples")
# The files whose length is limited, and the limit: a file longer than this is
# more than one idea and is split by concern.
SOURCE_EXTENSIONS = (".cc", ".h", ".py", ".sh", ".js")
MAX_LINES = 600
# Directories that hold no source of the project's own.
SKIPPED_DIRS = ("__pycache__", "node_modules")

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
PROG = "check-tree.py"


class BadInput(Exception):
    """A root that cannot be checked: a one-line message, exit code 2."""


def layers_in(root):
    """{directory relative to root: (name, rank)} for every layer directory
    there: those of LAYERS, and any other directory under src/ or bench/ (no
    rank, so only its cycles are checked)."""
    found = {}
    known = {d: (name, rank) for name, d, rank in LAYERS}
    for d, (name, rank) in known.items():
        if os.path.isdir(os.path.join(root, d)):
            found[d] = (name, rank)
    src = os.path.join(root, "src")
    if os.path.isdir(src):
        for entry in sorted(os.listdir(src)):
            d = "src/" + entry
            if d not in found and os.path.isdir(os.path.join(root, d)) and not entry.startswith("."):
                found[d] = (entry, None)
    return found


def walk_files(root, top):
    """Every file under root/top, as paths relative to root, sorted."""
    out = []
    for here, dirs, files in os.walk(os.path.join(root, top)):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for f in sorted(files):
            out.append(os.path.relpath(os.path.join(here, f), root))
    return out


def read_text(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        return f.read()


def count_lines(text):
    """As wc -l counts, plus a last line without its newline."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def check_lengths(root, files):
    findings = []
    for rel in files:
        if not rel.endswith(SOURCE_EXTENSIONS):
            continue
        n = count_lines(read_text(root, rel))
        if n > MAX_LINES:
            findings.append(f"{rel}: {n} lines, over the limit of {MAX_LINES}: split it by concern")
    return findings


def includes_of(root, rel):
    """[(line number, quoted include)] of one file."""
    out = []
    for k, line in enumerate(read_text(root, rel).splitlines(), 1):
        m = INCLUDE.match(line)
        if m:
            out.append((k, m.group(1)))
    return out


def unit_of(rel_in_layer):
    """A file's unit: its path in the layer without the extension, so that x.h
    and x.cc are one node and a .cc/.h pair that loops is a cycle."""
    return os.path.splitext(rel_in_layer)[0]


def find_cycle(graph, members):
    """One shortest cycle through the smallest unit of a strongly connected
    set, as [a, b, ..., a]."""
    start = min(members)
    prev = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt = []
        for u in frontier:
            for v in sorted(graph.get(u, ())):
                if v not in members:
                    continue
                if v == start:
                    path = [u]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return path[::-1] + [start]
                if v not in seen:
                    seen.add(v)
                    prev[v] = u
                    nxt.append(v)
        frontier = nxt
    return [start, start]


def strongly_connected(graph):
    """Tarjan's algorithm, iterative: the sets of units that reach each other."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                members = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    members.add(w)
                    if w == v:
                        break
                out.append(members)
    return out


def check_layer_cycles(root, layer_dir, name):
    """Include cycles among the units of one layer, following "name/file.h"
    and "file.h" quote includes that name a file of the layer."""
    graph = {}
    evidence = {}  # (unit, unit) -> "x.cc includes name/y.h"
    for rel in walk_files(root, layer_dir):
        if not rel.endswith((".cc", ".h")):
            continue
        in_layer = os.path.relpath(rel, layer_dir)
        u = unit_of(in_layer)
        graph.setdefault(u, set())
        for _, inc in includes_of(root, rel):
            if inc.startswith(name + "/"):
                target = inc[len(name) + 1:]
            elif "/" not in inc and os.path.isfile(os.path.join(root, os.path.dirname(rel), inc)):
                target = os.path.join(os.path.dirname(in_layer), inc)
            else:
                continue
            if not os.path.isfile(os.path.join(root, layer_dir, target)):
                continue
            v = unit_of(os.path.normpath(target))
            if v == u:
                continue
            graph[u].add(v)
            evidence.setdefault((u, v), f"{os.path.basename(in_layer)} includes {inc}")
    findings = []
    for members in strongly_connected(graph):
        if len(members) < 2:
            continue
        cycle = find_cycle(graph, members)
        why = "; ".join(evidence[(a, b)] for a, b in zip(cycle, cycle[1:]))
        findings.append(f"{layer_dir}: include cycle {'→'.join(cycle)} ({why})")
    return findings


def check_upward(root, layers):
    """Includes of a layer above, or of a sibling frontend."""
    by_name = {name: rank for name, rank in layers.values() if rank is not None}
    for name, _, rank in LAYERS:  # an absent layer is still above or below
        by_name.setdefault(name, rank)
    findings = []
    for layer_dir, (name, rank) in sorted(layers.items()):
        if rank is None:
            continue
        for rel in walk_files(root, layer_dir):
            if not rel.endswith((".cc", ".h")):
                continue
            for line, inc in includes_of(root, rel):
                other = inc.split("/", 1)[0] if "/" in inc else None
                if other is None or other == name or other not in by_name:
                    continue
                if by_name[other] > rank:
                    findings.append(f'{rel}:{line}: includes "{inc}": {other} is above {name} '
                                    f"in the layer order")
                elif by_name[other] == rank and (name, other) not in SIBLING_INCLUDES:
                    findings.append(f'{rel}:{line}: includes "{inc}": the frontends {name} and '
                                    f"{other} are siblings and may not include each other")
    return findings


def check(root):
    """Every finding in the tree at root, one line each."""
    if not os.path.isdir(root):
        raise BadInput(f"--root {root} is not a directory")
    present = [d for d in WALKED if os.path.isdir(os.path.join(root, d))]
    if not present:
        raise BadInput(f"--root {root} has none of {', '.join(WALKED)}: not an iomodels tree")
    files = [rel for top in present for rel in walk_files(root, top)]
    findings = check_lengths(root, files)
    layers = layers_in(root)
    for layer_dir, (name, _) in sorted(layers.items()):
        findings += check_layer_cycles(root, layer_dir, name)
    findings += check_upward(root, layers)
    return findings


class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def layer_table():
    ranks = {}
    for name, d, rank in LAYERS:
        ranks.setdefault(rank, []).append(f"{name} ({d})")
    return "\n".join(f"  {rank}  {', '.join(names)}" for rank, names in sorted(ranks.items()))


def main(argv):
    here = os.path.dirname(os.path.realpath(__file__))
    default_root = os.path.dirname(here)
    ap = Parser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
Check the shape of an iomodels source tree. It walks {', '.join(WALKED)}
under --root and reports, one line each:

  (a) a source file ({' '.join(SOURCE_EXTENSIONS)}) over {MAX_LINES} lines;
  (b) an include cycle inside one layer (a directory under src/ or bench/):
      "layer/file.h" quote includes between its files, with x.h and x.cc
      counted as one unit, so a header cycle a.h -> b.h -> a.h and a
      .cc/.h pair loop (a.cc includes b.h, b.cc includes a.h) are both
      printed as a→b→a;
  (c) an #include "X/..." in layer L where X is a layer above L, or where
      L and X are two frontends (siblings never include each other, but cli
      may include chain).""",
        epilog=f"""\
the layer order, bottom first (a layer includes only lower ranks; a missing
directory is simply absent):
{layer_table()}

exit status: 0 clean (prints nothing), 1 findings (one line each on stdout),
2 bad input (one line on stderr).

examples:
  /usr/bin/python3 tools/check-tree.py
  /usr/bin/python3 tools/check-tree.py --root /path/to/another/checkout""")
    ap.add_argument("--root", default=default_root,
                    help=f"the tree to check (default: the repository this script is in, "
                         f"{default_root})")
    args = ap.parse_args(argv)
    try:
        findings = check(args.root)
    except BadInput as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    for f in findings:
        print(f)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
