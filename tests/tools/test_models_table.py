# Description: tools/models-table.py's statistics: the interval of the median
# and the signed-rank interval of a paired shift each cover the truth, over
# many draws from known distributions, as often as they claim.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import importlib.util
import math
import os
import random
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir,
                      "tools", "models-table.py")
spec = importlib.util.spec_from_file_location("models_table", SCRIPT)
models_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(models_table)


class MedianIntervalTest(unittest.TestCase):
    def test_the_claimed_coverage_holds_for_skewed_and_symmetric_samples(self):
        rng = random.Random(7)
        draws = 4000
        for name, draw, median in (
                ("exponential", lambda: rng.expovariate(1.0), math.log(2)),
                ("normal", lambda: rng.gauss(5.0, 1.0), 5.0),
                ("lognormal", lambda: rng.lognormvariate(0.0, 0.8), 1.0)):
            for n in (3, 6, 9, 20):
                covered = 0
                claimed = None
                for _ in range(draws):
                    lo, hi, claimed = models_table.median_interval([draw() for _ in range(n)])
                    covered += lo <= median <= hi
                # Three standard errors of a binomial proportion over `draws`.
                slack = 3 * math.sqrt(claimed * (1 - claimed) / draws)
                with self.subTest(distribution=name, n=n):
                    self.assertAlmostEqual(covered / draws, claimed, delta=slack)
                    if n >= 6:
                        self.assertGreaterEqual(claimed, 0.95)

    def test_the_interval_holds_the_median_and_is_made_of_samples(self):
        xs = [3.0, 1.0, 2.0, 9.0, 4.0, 5.0, 7.0]
        lo, hi, _ = models_table.median_interval(xs)
        self.assertIn(lo, xs)
        self.assertIn(hi, xs)
        self.assertLessEqual(lo, 4.0)
        self.assertGreaterEqual(hi, 4.0)
        self.assertEqual(models_table.median_interval([2.5]), (2.5, 2.5, 0.0))


class SignedRankShiftTest(unittest.TestCase):
    def test_the_tables_coverage_and_the_claimed_coverage_hold(self):
        # n = 10: P(T+ <= 8) = 25/1024, the two-sided 5% value of the tables.
        d = [0.1, -0.2, 0.3, 0.05, 0.12, -0.04, 0.2, 0.15, 0.08, 0.01]
        est, lo, hi, cov = models_table.signed_rank_shift(d)
        self.assertAlmostEqual(cov, 1 - 2 * 25 / 1024)
        self.assertTrue(lo <= est <= hi)
        rng = random.Random(3)
        draws, covered = 2000, 0
        for _ in range(draws):
            _, lo, hi, cov = models_table.signed_rank_shift([0.3 + rng.gauss(0, 1) for _ in range(8)])
            covered += lo <= 0.3 <= hi
        self.assertGreaterEqual(cov, 0.95)
        self.assertAlmostEqual(covered / draws, cov, delta=3 * math.sqrt(cov * (1 - cov) / draws))


if __name__ == "__main__":
    unittest.main()
