# Description: tools/plot.py's map (map_2x2), drawn as plot.py draws it: in
# every panel no two labels overlap, no label covers a point, no two leader
# lines cross, and every model is named next to its point (or a leader away)
# or numbered there and listed in a key; for the reference results, for 15
# points piled on one another, and for other crowds.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import json
import math
import os
import random
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.realpath(os.path.join(HERE, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tools"))
REFERENCE = os.path.join(ROOT, "results", "reference", "bench.json")

try:
    import matplotlib

    matplotlib.use("Agg")
except ImportError:
    matplotlib = None
else:
    import plot  # noqa: E402
    from plotlib.geometry import cross  # noqa: E402

# Pixels two boxes may share, or a box may reach into a marker, from
# rounding: the labels are placed at the figure's dpi and checked at the PNG's.
SLACK = 0.5

MODELS = (("blocking", "sync-blocking"), ("threads", "sync-blocking"),
          ("polling", "sync-nonblocking"), ("polling-sleep", "sync-nonblocking"),
          ("threadpool", "async-blocking"), ("select", "multiplexing"), ("poll", "multiplexing"),
          ("epoll", "async-nonblocking"), ("epoll-et", "async-nonblocking"),
          ("coro-epoll", "async-nonblocking"), ("uring", "async-nonblocking"),
          ("uring-fixed", "async-nonblocking"), ("uring-sqpoll", "async-nonblocking"),
          ("uring-multishot", "async-nonblocking"), ("coro-uring", "async-nonblocking"))


def row(model, quadrant, real_us, cpu_us, conns=8, lat_us=0, transport="socketpair"):
    """One run of a benchmark as iomodels bench writes it."""
    name = f"{model}/{transport}/conns:{conns}/size:4096/lat_us:{lat_us}/process_time/real_time"
    rate = 8e6 / real_us
    return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1,
            "iterations": 100, "time_unit": "us", "real_time": real_us, "cpu_time": cpu_us,
            "items_per_second": rate, "cpu_util": cpu_us / real_us, "cpu_us_per_req": cpu_us / 8,
            "cpu_user_us_per_req": cpu_us / 32, "cpu_sys_us_per_req": cpu_us * 3 / 32,
            "p50_us": 50, "p99_us": 90, "label": quadrant}


def load(rows):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"context": {"kernel": "test"}, "benchmarks": rows}, f)
        return plot.load_benchmarks([path])


def touches(box, centre, radius):
    """How far (pixels) a disc reaches into a box; 0 or less when apart."""
    x = min(max(centre[0], box[0]), box[2])
    y = min(max(centre[1], box[1]), box[3])
    return radius - math.hypot(centre[0] - x, centre[1] - y)


def markers(ax):
    """[(centre, radius)] in pixels of every marker scatter drew in ax: the
    disc reaching the farthest corner of its path, and its edge."""
    from matplotlib.collections import PathCollection

    out = []
    scale = ax.figure.dpi / 72
    for c in ax.collections:
        if not isinstance(c, PathCollection):
            continue
        reach = max(math.hypot(x, y) for path in c.get_paths() for x, y in path.vertices)
        size = max(c.get_sizes())
        edge = max(c.get_linewidths(), default=0) / 2
        for xy in c.get_offset_transform().transform(c.get_offsets()):
            out.append((tuple(xy), (reach * math.sqrt(size) + edge) * scale))
    return out


def overlap(a, b):
    """The side of the square two boxes share, 0 when apart."""
    return max(0.0, min(min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])))


@unittest.skipIf(matplotlib is None, "matplotlib is not installed (python3-matplotlib)")
class MapLabels(unittest.TestCase):
    def render(self, results, errored, context):
        """Draws the map as plot.py does; [(Placed, geometry)], one a panel."""
        plot.FILE_ONLY = all(r.get("transport") == "file" for r in results)
        plot.UNRESOLVED_LABEL = plot.unresolved_label(context)
        plot.SPREAD_NOTE = plot.spread_note(results, plot.UNRESOLVED_LABEL)
        placed = []
        with tempfile.TemporaryDirectory() as out:
            written = plot.plot_map(results, context, sorted(errored.items()), out, placed)
            self.assertEqual(sorted(os.path.basename(p) for p in written),
                             ["map_2x2.png", "map_2x2.svg"])
        fig = placed[0].ax.figure
        fig.set_dpi(110)  # as the PNG is saved
        fig.canvas.draw()
        return [(p, p.geometry()) for p in placed]

    def check(self, results, errored=None, context=None):
        panels = self.render(results, errored or {}, context or {})
        lats = {r["lat_us"] for r in results}
        conns = {r["conns"] for r in results}
        self.assertEqual(len(panels), len(lats) * len(conns))
        for placed, g in panels:
            title = placed.ax.get_title()
            with self.subTest(panel=title):
                self.check_panel(placed, g)
        return panels

    def check_panel(self, placed, g):
        labels, leaders, centres = g["labels"], g["leaders"], g["centres"]
        names = [p[2] for p in placed.points]
        drawn = markers(placed.ax)
        self.assertEqual(len(drawn), len(names))
        # Every model named, or numbered beside its point and in the key.
        self.assertEqual(sorted(placed.identified()), sorted(names))
        # No two labels overlap.
        for k, (i, kind, a) in enumerate(labels):
            for j, other, b in labels[k + 1:]:
                self.assertLessEqual(overlap(a, b), SLACK,
                                     f"{kind} of {names[i]} on {other} of {names[j]}")
        # No label covers a marker (a label beside its own point is clear of it too).
        for i, kind, a in labels:
            for c, radius in drawn:
                self.assertLessEqual(touches(a, c, radius), SLACK,
                                     f"{kind} of {names[i]} on a point")
        # The key's frame covers no marker, name or number.
        if g["frame"]:
            for c, radius in drawn:
                self.assertLessEqual(touches(g["frame"], c, radius), SLACK, "the key on a point")
            for i, kind, a in labels:
                if kind != "key":
                    self.assertLessEqual(overlap(a, g["frame"]), SLACK,
                                         f"the key on the {kind} of {names[i]}")
        # Names and numbers inside the panel, the key inside the figure.
        figure = tuple(placed.ax.figure.bbox.extents)
        for i, kind, a in labels:
            where, frame = ("figure", figure) if kind == "key" else ("panel", g["axes"])
            self.assertTrue(a[0] >= frame[0] - SLACK and a[2] <= frame[2] + SLACK
                            and a[1] >= frame[1] - SLACK and a[3] <= frame[3] + SLACK,
                            f"{kind} of {names[i]} outside the {where}")
        # No two leaders cross; each runs from its marker's edge to its label.
        for k, (i, a) in enumerate(leaders):
            for j, b in leaders[k + 1:]:
                self.assertFalse(cross(a, b), f"the leaders of {names[i]} and {names[j]} cross")
        beside = {i: box for i, kind, box in labels if kind != "key"}
        for i, (start, end) in leaders:
            self.assertAlmostEqual(math.dist(start, centres[i]), g["radius"], delta=1.5)
            self.assertLessEqual(-touches(beside[i], end, 0), 2.5)
        # A label without a leader is next to its own point.
        led = {i for i, _ in leaders}
        for i, box in beside.items():
            if i not in led:
                self.assertGreater(touches(box, centres[i], g["radius"] + 4), 0,
                                   f"the label of {names[i]} away from its point, no leader")

    def test_reference_results(self):
        results, errored, context = plot.load_benchmarks([REFERENCE])
        panels = self.check(results, errored, context)
        # A third of the points at least carry their name.
        named = sum(len(p.names) for p, _ in panels)
        self.assertGreater(named, sum(len(p.points) for p, _ in panels) / 3)

    def test_fifteen_points_piled_up(self):
        rows = [row(m, q, 1000 * (1 + 0.002 * k), 400 * (1 + 0.003 * (k % 4)))
                for k, (m, q) in enumerate(MODELS)]
        panels = self.check(*load(rows))
        placed, g = panels[0]
        self.assertEqual(len(placed.points), 15)
        # Every marker on every other.
        self.assertLess(max(math.dist(a, b) for a in g["centres"] for b in g["centres"]),
                        g["radius"])

    def test_fifteen_points_in_a_column(self):
        rows = [row(m, q, 8000 * (1 + 0.001 * k), 60 + 5 * k, lat_us=1000)
                for k, (m, q) in enumerate(MODELS)]
        self.check(*load(rows))

    def test_thirty_points_in_two_clusters(self):
        # Two transports, so each model is there twice under a longer name.
        rows = []
        for t, transport in enumerate(("socketpair", "tcp")):
            for k, (m, q) in enumerate(MODELS):
                rows.append(row(m, q, (300 + 900 * t) * (1 + 0.01 * k), 200 * (1 + 0.02 * k),
                                transport=transport))
        # A key of 30 long names has no room in the panel: the figure's
        # key lists them, right of it.
        (placed, g), = self.check(*load(rows))
        self.assertIsNone(g["frame"])
        self.assertTrue(placed.key)
        for i, kind, box in g["labels"]:
            if kind == "key":
                self.assertGreater(box[0], g["axes"][2])

    def test_random_panels(self):
        rnd = random.Random(7)
        rows = []
        for lat in (0, 1000):
            for conns in (1, 64):
                # Some models spread over decades, the rest in one tight cluster.
                x0, y0 = 10 ** rnd.uniform(2, 4), 10 ** rnd.uniform(1, 3)
                for m, q in MODELS:
                    if rnd.random() < 0.4:
                        real = 10 ** rnd.uniform(2, 5)
                        cpu = real * 10 ** rnd.uniform(-2, 0.2)
                    else:
                        real = x0 * 10 ** rnd.gauss(0, 0.04)
                        cpu = min(real * 1.5, y0 * 10 ** rnd.gauss(0, 0.04))
                    rows.append(row(m, q, real, cpu, conns=conns, lat_us=lat))
        self.check(*load(rows))


if __name__ == "__main__":
    unittest.main()
