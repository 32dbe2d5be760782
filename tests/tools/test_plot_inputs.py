# Description: tools/plotlib/inputs.py, what tools/plot.py and tools/report.py
# read: the 95% interval of a median from order statistics (as bench's C++
# works it out), and whether a point is resolved, from the file's own marks
# (`resolved`, or an older file's `noisy`) or else from its repetitions.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import json
import math
import os
import sys
import tempfile
import unittest

TOOLS = os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir, "tools")
sys.path.insert(0, os.path.realpath(TOOLS))
from plotlib import inputs  # noqa: E402

NAME = "epoll/socketpair/conns:8/size:4096/lat_us:0/process_time/real_time/threads:1"


def run_row(cpu, rate=None, name=NAME, reps=6):
    """One repetition as iomodels bench writes it."""
    rate = rate if rate is not None else 1e6 / cpu / 8
    return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": reps,
            "iterations": 100, "time_unit": "us", "real_time": 8e6 / rate, "cpu_time": 8 * cpu,
            "items_per_second": rate, "cpu_util": cpu * rate / 1e6, "cpu_us_per_req": cpu,
            "cpu_user_us_per_req": cpu / 4, "cpu_sys_us_per_req": cpu * 3 / 4, "p50_us": 50,
            "p99_us": 90, "others_cores": 0.01, "events_per_wait": 1,
            "label": "async-nonblocking"}


def median_row(cpus, name=NAME, **counters):
    """The median aggregate of the repetitions `cpus`, with extra counters."""
    row = run_row(inputs.median(cpus), name=name)
    row.update({"name": name + "_median", "run_type": "aggregate", "aggregate_name": "median",
                "iterations": len(cpus)})
    row.update(counters)
    return row


def exact_coverage(n, k):
    """1 - 2 P(Binomial(n, 1/2) < k), in exact integers."""
    return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n


class MedianIntervalTest(unittest.TestCase):
    def test_six_values_give_their_range(self):
        lo, hi, coverage = inputs.median_interval([6, 1, 5, 2, 4, 3])
        self.assertEqual((lo, hi), (1, 6))
        self.assertAlmostEqual(coverage, 1 - 2 / 64, places=15)

    def test_ten_values_drop_one_at_each_end(self):
        v = list(range(10, 20))
        lo, hi, coverage = inputs.median_interval(reversed(v))
        # k = 2: coverage(2) = 1 - 2 * 11/1024 = 0.9785; coverage(3) = 0.891.
        self.assertEqual(exact_coverage(10, 2), 1 - 22 / 1024)
        self.assertLess(exact_coverage(10, 3), 0.95)
        self.assertEqual((lo, hi), (v[1], v[8]))
        self.assertAlmostEqual(coverage, 0.978515625, places=12)

    def test_twenty_values_drop_five_at_each_end(self):
        v = [x * 1.5 for x in range(20)]
        lo, hi, coverage = inputs.median_interval(v[::-1])
        # k = 6: coverage(6) = 0.9586 >= 0.95 > coverage(7) = 0.8847.
        self.assertGreaterEqual(exact_coverage(20, 6), 0.95)
        self.assertLess(exact_coverage(20, 7), 0.95)
        self.assertEqual((lo, hi), (v[5], v[14]))
        self.assertAlmostEqual(coverage, exact_coverage(20, 6), places=12)

    def test_below_six_values_the_range_covers_less_than_95_percent(self):
        for n in range(1, 6):
            lo, hi, coverage = inputs.median_interval(list(range(n)))
            self.assertEqual((lo, hi), (0, n - 1))
            self.assertLess(coverage, 0.95)
        self.assertTrue(all(math.isnan(x) for x in inputs.median_interval([])))

    def test_k_is_the_largest_whose_exact_coverage_reaches_the_level(self):
        for n in range(1, 120):
            lo, hi, coverage = inputs.median_interval(list(range(n)))
            k = lo + 1
            self.assertEqual(hi, n - k)
            self.assertAlmostEqual(coverage, exact_coverage(n, k), places=12)
            if k > 1:
                self.assertGreaterEqual(exact_coverage(n, k), 0.95)
            if k + 1 <= (n + 1) // 2:
                self.assertLess(exact_coverage(n, k + 1), 0.95)


class ResolvedTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, rows, context=None):
        """The one result of a bench JSON holding `rows`."""
        path = os.path.join(self.tmp.name, "bench.json")
        doc = {"benchmarks": rows}
        if context is not None:
            doc["context"] = context
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        results, errored, _ = inputs.load_benchmarks([path])
        self.assertEqual(errored, {})
        self.assertEqual(len(results), 1)
        return results[0]

    TIGHT = [3.0, 3.03, 2.98, 3.01, 2.99, 3.02]  # within ±1% of the median
    WIDE = [5.0, 6.5, 5.2, 5.8, 4.6, 6.1]  # 18% around it

    def test_the_resolved_counter_decides(self):
        r = self.load([run_row(c) for c in self.TIGHT] + [median_row(self.TIGHT, resolved=0)],
                      {"precision": "5"})
        self.assertTrue(r["unresolved"])
        r = self.load([run_row(c) for c in self.WIDE] + [median_row(self.WIDE, resolved=1)],
                      {"precision": "5"})
        self.assertFalse(r["unresolved"])
        self.assertEqual(r["reps"], 6)

    def test_an_older_files_noisy_counter_is_read_as_unresolved(self):
        tight = self.TIGHT[:3]
        r = self.load([run_row(c, reps=3) for c in tight] + [median_row(tight, noisy=1)],
                      {"noisy_cv": "0.05"})
        self.assertTrue(r["unresolved"])
        r = self.load([run_row(c, reps=3) for c in tight] + [median_row(tight, noisy=0)],
                      {"noisy_cv": "0.05"})
        self.assertFalse(r["unresolved"])

    def test_six_tight_repetitions_without_marks_are_resolved(self):
        r = self.load([run_row(c) for c in self.TIGHT])
        self.assertFalse(r["unresolved"])
        self.assertEqual(r["reps"], 6)
        self.assertEqual(r["range"]["cpu_us_per_req"], (min(self.TIGHT), max(self.TIGHT)))

    def test_six_wide_repetitions_without_marks_are_unresolved(self):
        r = self.load([run_row(c) for c in self.WIDE])
        self.assertTrue(r["unresolved"])
        # Within ±20%, the file's own precision, the same spread is resolved.
        r = self.load([run_row(c) for c in self.WIDE], {"precision": "20"})
        self.assertFalse(r["unresolved"])

    def test_three_repetitions_are_unresolved_however_tight(self):
        r = self.load([run_row(c, reps=3) for c in [3.0, 3.0, 3.0]])
        self.assertTrue(r["unresolved"])
        self.assertEqual(r["reps"], 3)
        self.assertEqual(r["range"]["cpu_us_per_req"], (3.0, 3.0))

    def test_a_single_run_is_not_marked_and_has_no_interval(self):
        r = self.load([run_row(3.0, reps=1)])
        self.assertFalse(r["unresolved"])
        self.assertEqual(r["reps"], 0)
        self.assertEqual(r["range"], {})

    def test_the_files_bounds_take_precedence_over_computed_ones(self):
        row = median_row(self.TIGHT, resolved=1, cpu_us_per_req_lo=2.5, cpu_us_per_req_hi=3.5,
                         items_per_second_lo=1000.0, items_per_second_hi=2000.0,
                         p99_us_lo=80.0, p99_us_hi=95.0)
        r = self.load([run_row(c) for c in self.TIGHT] + [row], {"precision": "5"})
        self.assertEqual(r["range"]["cpu_us_per_req"], (2.5, 3.5))
        self.assertEqual(r["range"]["items_per_second"], (1000.0, 2000.0))
        self.assertEqual(r["range"]["p99_us"], (80.0, 95.0))
        # real_us has no bounds in the file: computed from the repetitions.
        real = sorted(8e6 / (1e6 / c / 8) for c in self.TIGHT)
        self.assertEqual(r["range"]["real_us"], (real[0], real[-1]))

    def test_aggregates_without_their_repetitions_are_unresolved(self):
        r = self.load([median_row(self.TIGHT)])
        self.assertTrue(r["unresolved"])
        self.assertEqual(r["reps"], 6)
        self.assertEqual(r["range"], {})


class RunFilesTest(unittest.TestCase):
    """`iomodels run --json` files: several of one scenario are its repetitions."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, cpus):
        paths = []
        for i, cpu in enumerate(cpus):
            rate = 1e6 / cpu / 8
            doc = {"scenario": {"model": "epoll", "transport": "socketpair", "connections": 8,
                                "size": 4096, "latency": "0"},
                   "requests": 8000, "wall_s": 8000 / rate, "cpu_user_s": cpu * 8000e-6 / 4,
                   "cpu_sys_s": cpu * 8000e-6 * 3 / 4, "items_per_second": rate,
                   "cpu_util": cpu * rate / 1e6, "cpu_us_per_req": cpu,
                   "latency_us": {"p50": 50, "p99": 90}, "quadrant": "async-nonblocking"}
            path = os.path.join(self.tmp.name, f"run{i}.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            paths.append(path)
        results, _, _ = inputs.load_run_files(paths)
        self.assertEqual(len(results), 1)
        return results[0]

    def test_the_same_rule_as_for_bench(self):
        r = self.load(ResolvedTest.TIGHT)
        self.assertFalse(r["unresolved"])
        self.assertEqual(r["cpu_us_per_req"], inputs.median(ResolvedTest.TIGHT))
        self.assertEqual(r["range"]["cpu_us_per_req"],
                         (min(ResolvedTest.TIGHT), max(ResolvedTest.TIGHT)))
        self.assertTrue(self.load(ResolvedTest.WIDE)["unresolved"])
        self.assertTrue(self.load([3.0, 3.0, 3.0])["unresolved"])

    def test_a_single_run_is_not_marked(self):
        r = self.load([3.0])
        self.assertFalse(r["unresolved"])
        self.assertEqual(r["range"], {})


if __name__ == "__main__":
    unittest.main()
