# Description: tools/plotlib/titles.py, the findings tools/plot.py puts in
# its figures' titles: on small result sets whose finding is known (a model
# busy, medians whose intervals overlap or are apart), and on the reference
# results, where every number a title states is worked out again here.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import json
import math
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.realpath(os.path.join(HERE, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tools"))
REFERENCE = os.path.join(ROOT, "results", "reference", "bench.json")
SPECTRA = os.path.join(ROOT, "results", "reference", "spectra.json")

from plotlib import titles  # noqa: E402
from plotlib.inputs import load_benchmarks  # noqa: E402

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def result(model, lat=0, conns=1, real=100.0, cpu=10.0, per_req=5.0, lo=None, hi=None,
           p99=None, p99_range=None):
    """A result as plotlib.inputs makes it; lo and hi the interval of
    cpu_us_per_req (none when not given)."""
    r = {"model": model, "quadrant": "multiplexing", "transport": "socketpair", "size": 4096,
         "lat_us": lat, "conns": conns, "real_us": real, "cpu_us": cpu,
         "cpu_us_per_req": per_req, "p99_us": p99 if p99 is not None else float("nan"),
         "range": {}, "unresolved": False, "peer_bound": False, "reps": 6}
    if lo is not None:
        r["range"]["cpu_us_per_req"] = (lo, hi)
    if p99_range is not None:
        r["range"]["p99_us"] = p99_range
    return r


def spectrum(p99):
    return [{"fraction": 0.5, "us": p99 / 2}, {"fraction": 0.99, "us": p99},
            {"fraction": 1.0, "us": p99 * 2}]


def floor_factor(x):
    """The factor a title states for x, worked out here: rounded down."""
    return str(math.floor(x)) if x >= 10 else f"{math.floor(x * 100 + 1e-9) / 100:.2f}" \
        .rstrip("0").rstrip(".")


def mentioned(title, names):
    """The names that occur in title as whole words (uring is not in uring-fixed)."""
    return {n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", title)}


class Synthetic(unittest.TestCase):
    def test_map_one_model_busy(self):
        rs = [result("spin", lat=0, real=100, cpu=99), result("spin", lat=1000, real=100, cpu=95),
              result("nap", lat=0, real=100, cpu=20), result("nap", lat=1000, real=100, cpu=1)]
        self.assertEqual(titles.map_title(rs),
                         "spin keeps a core busy in all 2 panels; the other 1 model does in "
                         "at most 0 of 2 (CPU ≥ 90% of wall time)")

    def test_map_none_busy(self):
        rs = [result("a", real=100, cpu=50), result("b", real=100, cpu=10)]
        self.assertTrue(titles.map_title(rs).startswith("No model keeps a core busy"))

    def test_cpu_waste_overlap_is_a_tie(self):
        rs = [result("a", per_req=10.0, lo=8.0, hi=12.0),
              result("b", per_req=11.0, lo=9.0, hi=13.0)]
        title = titles.cpu_waste_title(rs)
        self.assertNotIn("×", title)
        self.assertIn("no model's CPU per request is clearly apart", title)

    def test_cpu_waste_separated_states_the_least_ratio(self):
        rs = [result("cheap", per_req=2.0, lo=1.8, hi=2.2),
              result("dear", per_req=6.0, lo=5.5, hi=6.5)]
        title = titles.cpu_waste_title(rs)
        self.assertEqual(title, f"At latency 0, 1 connection, dear burns at least "
                                f"{floor_factor(5.5 / 2.2)}× cheap's CPU per request")
        self.assertIn("2.5×", title)

    def test_cpu_waste_without_intervals_says_about(self):
        rs = [result("cheap", per_req=2.0), result("dear", per_req=7.0)]
        self.assertIn("dear burns about 3.5× cheap's", titles.cpu_waste_title(rs))

    def test_cpu_waste_picks_the_panel_with_most_models(self):
        rs = [result("a", conns=1, per_req=1.0, lo=0.9, hi=1.1),
              result("b", conns=1, per_req=50.0, lo=49.0, hi=51.0),
              result("a", conns=64, per_req=1.0, lo=0.9, hi=1.1),
              result("b", conns=64, per_req=3.0, lo=2.9, hi=3.1),
              result("c", conns=64, per_req=2.0, lo=1.9, hi=2.1)]
        self.assertIn("64 connections, b burns at least 2.63× a's",
                      titles.cpu_waste_title(rs))

    def test_latency_overlap_and_separation(self):
        a = result("a", p99=100.0, p99_range=(90.0, 120.0))
        b = result("b", p99=110.0, p99_range=(100.0, 130.0))
        title = titles.latency_title([(a, spectrum(100.0)), (b, spectrum(110.0))])
        self.assertNotIn("×", title)
        b = result("b", p99=400.0, p99_range=(380.0, 420.0))
        title = titles.latency_title([(a, spectrum(100.0)), (b, spectrum(400.0))])
        self.assertIn(f"b has the highest p99 latency, at least {floor_factor(380 / 120)}× a's",
                      title)

    def test_scaling(self):
        flat = [result("a", conns=1, per_req=5.0, lo=4.0, hi=6.0),
                result("a", conns=64, per_req=5.5, lo=4.5, hi=6.5)]
        self.assertEqual(titles.scaling_title(flat),
                         "No model's CPU per request clearly grows from 1 to 64 connections")
        grows = flat + [result("b", conns=1, per_req=2.0, lo=1.9, hi=2.1),
                        result("b", conns=64, per_req=8.0, lo=7.0, hi=9.0)]
        self.assertEqual(titles.scaling_title(grows),
                         f"b's CPU per request grows most from 1 connection to 64: at least "
                         f"{floor_factor(7.0 / 2.1)}× at latency 0")

    def test_titles_name_only_models_in_the_data(self):
        rs = [result("a", per_req=1.0, lo=0.9, hi=1.1, real=10, cpu=10, p99=10.0),
              result("b", per_req=9.0, lo=8.0, hi=10.0, p99=90.0)]
        got = [titles.map_title(rs), titles.cpu_waste_title(rs), titles.scaling_title(rs),
               titles.latency_title([(r, spectrum(r["p99_us"])) for r in rs])]
        for title in got:
            words = set(re.findall(r"[A-Za-z][\w-]*", title))
            self.assertFalse(words & {"epoll", "polling", "uring"}, title)


class Reference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.results, _, _ = load_benchmarks([REFERENCE])
        with open(SPECTRA, encoding="utf-8") as f:
            spectra = json.load(f)["spectra"]
        cls.items = [(r, spectra[r["base"]]) for r in cls.results if spectra.get(r["base"])]
        cls.models = {r["model"] for r in cls.results}

    def at(self, title):
        """The results of the panel a title names ("latency 1 ms, 64 connections")."""
        m = re.search(r"latency (\d+)(?: ms)?, (\d+) connections?", title)
        self.assertIsNotNone(m, title)
        lat = int(m.group(1)) * (1000 if "ms," in m.group(0) else 1)
        return [r for r in self.results if r["lat_us"] == lat and r["conns"] == int(m.group(2))]

    def check(self, title):
        self.assertIsInstance(title, str)
        self.assertTrue(title.strip())
        self.assertNotIn("\n", title)
        self.assertTrue(mentioned(title, self.models))

    def test_map(self):
        title = titles.map_title(self.results)
        self.check(title)
        busy = {}
        for r in self.results:
            busy.setdefault(r["model"], []).append(r["cpu_us"] >= 0.9 * r["real_us"])
        keen = {m for m, b in busy.items() if sum(b) * 2 > len(b)}
        self.assertEqual(mentioned(title.split(";")[0], self.models), keen)
        rest = [sum(b) for m, b in busy.items() if m not in keen]
        allowed = {str(len(rest)), str(max(rest)), "90",
                   *(str(len(b)) for b in busy.values())}
        self.assertLessEqual(set(NUMBER.findall(title)), allowed)

    def test_cpu_waste(self):
        title = titles.cpu_waste_title(self.results)
        self.check(title)
        here = {r["model"]: r for r in self.at(title)}
        m = re.search(r", (\S+) burns at least (\S+)× (\S+)'s", title)
        self.assertIsNotNone(m, title)
        dear, k, cheap = here[m.group(1)], m.group(2), here[m.group(3)]
        self.assertEqual(dear["cpu_us_per_req"], max(r["cpu_us_per_req"] for r in here.values()))
        self.assertEqual(cheap["cpu_us_per_req"], min(r["cpu_us_per_req"] for r in here.values()))
        least = dear["range"]["cpu_us_per_req"][0] / cheap["range"]["cpu_us_per_req"][1]
        self.assertEqual(k, floor_factor(least))
        # The factor holds at both ends of the intervals.
        self.assertGreaterEqual(dear["range"]["cpu_us_per_req"][1] /
                                cheap["range"]["cpu_us_per_req"][0], float(k))

    def test_latency(self):
        title = titles.latency_title(self.items)
        self.check(title)
        panel = {r["base"] for r in self.at(title)}
        p99 = {}
        for r, spec in self.items:
            if r["base"] in panel:
                p99[r["model"]] = next(float(p["us"]) for p in spec if float(p["fraction"]) >= 0.99)
        m = re.search(r", (\S+) has the highest p99 latency, (about|at least) (\S+)× (\S+)'s", title)
        self.assertIsNotNone(m, title)
        self.assertEqual(m.group(1), max(p99, key=p99.get))
        self.assertEqual(m.group(4), min(p99, key=p99.get))
        # The reference's p99 has no interval: the factor is "about" the ratio of the values.
        self.assertEqual(m.group(2), "about")
        ratio = p99[m.group(1)] / p99[m.group(4)]
        self.assertEqual(m.group(3), str(round(ratio)) if ratio >= 10 else
                         f"{round(ratio * 100) / 100:.2f}".rstrip("0").rstrip("."))

    def test_scaling(self):
        title = titles.scaling_title(self.results)
        self.check(title)
        m = re.search(r"^(\S+)'s CPU per request grows most from 1 connection to (\d+): "
                      r"at least (\S+)× at latency (\d+)( ms)?$", title)
        self.assertIsNotNone(m, title)
        lat = int(m.group(4)) * (1000 if m.group(5) else 1)
        best = {}
        for model in self.models:
            for la in {r["lat_us"] for r in self.results}:
                rs = sorted((r for r in self.results if r["model"] == model
                             and r["lat_us"] == la), key=lambda r: r["conns"])
                if len(rs) >= 2:
                    least = (rs[-1]["range"]["cpu_us_per_req"][0] /
                             rs[0]["range"]["cpu_us_per_req"][1])
                    best[(model, la, rs[-1]["conns"])] = least
        top = max(best, key=best.get)
        self.assertEqual((m.group(1), lat, int(m.group(2))), top)
        self.assertEqual(m.group(3), floor_factor(best[top]))


if __name__ == "__main__":
    unittest.main()
