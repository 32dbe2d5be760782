# Description: tools/report.py's comparison with a previous results
# directory: the ratio new/old, its interval from the exact rank-sum
# distribution and the verdict, worked out as `iomodels compare` does.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import os
import random
import sys
import unittest

TOOLS = os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir, "tools")
sys.path.insert(0, os.path.realpath(TOOLS))
import report  # noqa: E402


class ShiftInterval(unittest.TestCase):
    def test_hand_worked(self):
        # 3 against 3 fully apart: 20 orders, one with U = 0: even the extreme
        # ratios cover only 90%.
        ratio, lo, hi, coverage = report.shift_interval([1, 2, 3], [4, 5, 6])
        self.assertAlmostEqual(coverage, 0.9)
        self.assertAlmostEqual(lo, 4 / 3)
        self.assertAlmostEqual(hi, 6.0)
        self.assertAlmostEqual(ratio, 2.5)
        # 5 against 5: P(U < 3) = 4/252, so k = 3 covers 1 - 8/252.
        *_, coverage = report.shift_interval([1, 11, 21, 31, 41], [2, 3, 4, 5, 6])
        self.assertAlmostEqual(coverage, 1 - 8 / 252)
        self.assertIsNone(report.shift_interval([0, 1], [1, 2]))
        self.assertIsNone(report.shift_interval([], [1, 2]))

    def test_coverage_of_a_known_shift(self):
        rng = random.Random(3)
        covered, draws = 0, 1500
        for _ in range(draws):
            a = [rng.lognormvariate(0, 0.3) for _ in range(6)]
            b = [1.5 * rng.lognormvariate(0, 0.3) for _ in range(7)]
            _, lo, hi, claimed = report.shift_interval(a, b)
            covered += lo <= 1.5 <= hi
        self.assertGreaterEqual(claimed, 0.95)
        sd = (claimed * (1 - claimed) / draws) ** 0.5
        self.assertLess(abs(covered / draws - claimed), 3 * sd)

    def test_verdicts(self):
        same = [10, 10.1, 9.9, 10.05, 9.95, 10.02]
        slower = [v * 1.3 for v in same]
        cpu = report.shift_interval(same, slower)
        self.assertEqual(report.verdict("cpu_us_per_req", cpu), "worse")
        self.assertEqual(report.verdict("items_per_second", cpu), "better")
        self.assertTrue(report.verdict("p99_us", report.shift_interval(same, same))
                        .startswith("tie ±"))
        self.assertEqual(report.verdict("p99_us", report.shift_interval(same[:3], slower[:3])),
                         "too few")
        self.assertEqual(report.verdict("p99_us", None), "-")


if __name__ == "__main__":
    unittest.main()
