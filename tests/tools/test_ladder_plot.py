# Description: tools/ladder_plot.py, run as a user runs it on synthetic
# `iomodels ladder --json` files: it writes a PNG, draws a failed cell instead
# of refusing the file, refuses bad input with one line naming the argument
# and exit code 2, and replaces an existing output only when it succeeds.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir,
                                       os.pardir, "tools", "ladder_plot.py"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ratio(median, lo, hi, before, verdict):
    return {"median": median, "lo": lo, "hi": hi, "coverage": 0.96, "before": before,
            "verdict": verdict}


def step(name, cpu, ratio_to_before=None):
    s = {"name": name, "steps_in_force": name.lstrip("+ "), "cpu_us_per_req": [cpu] * 6,
         "events_per_wait": [4.0] * 6, "requests_per_s": [5000.0] * 6, "cpu_median": cpu}
    if ratio_to_before is not None:
        s["ratio_to_before"] = ratio_to_before
    return s


def cell(title="server role, 5000 requests/s offered, uniform arrivals (in step), 16 × 64 B"):
    """A cell with every kind of point: cheaper, tie, dearer, a verdict the
    plot does not know, and a ratio with no interval (nulls)."""
    return {
        "title": title, "role": "server", "regime": "step", "size": 64,
        "steps": [
            step("plain", 10.0),
            step("+ batch-wait", 8.0, ratio(0.8, 0.7, 0.9, "plain", "cheaper")),
            step("+ ring-fd", 8.1, ratio(1.01, 0.95, 1.06, "+ batch-wait", "tie")),
            step("+ fixed-files", 9.0, ratio(1.11, 1.05, 1.2, "+ ring-fd", "dearer")),
            step("+ multishot", 6.0, ratio(0.66, 0.5, 0.9, "+ fixed-files",
                                           "(fewer than 6 rounds)")),
            step("+ sqpoll", 30.0, ratio(5.0, None, None, "+ multishot", "—")),
        ],
        "skipped": [{"step": "send-zc", "why": "responses of 64 B"},
                    {"step": "bundle", "why": "the kernel lacks recv bundles"}],
        "reference": {
            "model": "epoll", "cpu_us_per_req": [9.0] * 6,
            "top_ratio": {"step": "+ sqpoll", "median": 3.3, "lo": 3.0, "hi": 3.6,
                          "verdict": "dearer"},
            "best_ratio": {"step": "+ multishot", "median": 0.67, "lo": None, "hi": None,
                           "verdict": "—"}},
    }


def ladder(cells):
    return {"environment": {"kernel": "6.1.0", "cores": 2, "cpu": "test"}, "repeat": 6,
            "unit": "CPU us per request, the model's process", "cells": cells}


class LadderPlotTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, doc):
        """Writes `doc` as JSON (a str as it is) and returns its path."""
        p = self.path(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return p

    def run_plot(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                              timeout=120)

    def assert_png(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 1000)
        self.assertEqual(data[:8], PNG_MAGIC)

    def assert_refused(self, p, *names):
        """Exit 2 and one line on stderr, `ladder_plot.py: error: ...`,
        naming each of `names`."""
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("ladder_plot.py: error: "), lines[0])
        for name in names:
            self.assertIn(name, lines[0])

    def leftovers(self):
        """Temporary files the plot left beside its output."""
        return [f for f in os.listdir(self.dir) if f.endswith(".partial")]

    def test_a_png_is_written(self):
        src = self.write("ladder.json", ladder([cell(), cell("client role, 1 ms, 16 × 4096 B")]))
        out = self.path("ladder.png")
        p = self.run_plot(src, "-o", out, "--title", "a test ladder")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assert_png(out)
        self.assertEqual(self.leftovers(), [])

    def test_a_cell_with_an_error_is_drawn_not_refused(self):
        failed = {"title": "server role, 20000 requests/s, 16 × 4096 B", "role": "server",
                  "regime": "step", "size": 4096, "steps": [], "skipped": [],
                  "error": "io_uring_setup: Operation not permitted"}
        out = self.path("failed.png")
        for cells in ([cell(), failed], [failed]):
            with self.subTest(cells=len(cells)):
                p = self.run_plot(self.write("failed.json", ladder(cells)), "-o", out)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assert_png(out)

    def test_a_ladder_without_references_or_intervals_is_drawn(self):
        c = cell()
        del c["reference"]
        c["skipped"] = []
        for s in c["steps"][1:]:
            s["ratio_to_before"].update(lo=None, hi=None, verdict="(fewer than 6 rounds)")
        out = self.path("bare.png")
        p = self.run_plot(self.write("bare.json", ladder([c])), "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_png(out)

    def test_bad_inputs_exit_2_with_one_line_naming_the_problem(self):
        good = self.write("good.json", ladder([cell()]))
        bad_step = cell()
        bad_step["steps"][2]["ratio_to_before"]["median"] = "fast"
        cases = {
            "missing file": ([self.path("nope.json"), "-o", self.path("o.png")],
                             ("LADDER", "nope.json")),
            "not JSON": ([self.write("text.json", "step,cpu\nplain,3\n"), "-o",
                          self.path("o.png")], ("LADDER", "not JSON")),
            "no cells": ([self.write("nocells.json", {"repeat": 6}), "-o", self.path("o.png")],
                         ("LADDER", "cells")),
            "not an object": ([self.write("list.json", [1, 2]), "-o", self.path("o.png")],
                              ("LADDER", "cells")),
            "empty cells": ([self.write("empty.json", ladder([])), "-o", self.path("o.png")],
                            ("LADDER", "cells")),
            "a cell without steps or error": (
                [self.write("nosteps.json", ladder([{"title": "x"}])), "-o",
                 self.path("o.png")], ("LADDER", "cells[0]", "steps")),
            "a ratio that is not a number": (
                [self.write("badratio.json", ladder([bad_step])), "-o", self.path("o.png")],
                ("LADDER", "cells[0].steps[2].ratio_to_before.median")),
            "-o in a missing directory": ([good, "-o", self.path("no/such/dir/o.png")],
                                          ("-o/--out",)),
            "-o a directory": ([good, "-o", self.dir], ("-o/--out",)),
            "no -o": ([good], ("-o/--out",)),
        }
        for what, (args, names) in cases.items():
            with self.subTest(what):
                self.assert_refused(self.run_plot(*args), *names)
        self.assertEqual(self.leftovers(), [])
        self.assertFalse(os.path.exists(self.path("o.png")))

    @unittest.skipIf(os.geteuid() == 0, "root writes into a read-only directory")
    def test_an_unwritable_directory_is_refused(self):
        good = self.write("good.json", ladder([cell()]))
        ro = self.path("ro")
        os.mkdir(ro, 0o555)
        try:
            self.assert_refused(self.run_plot(good, "-o", os.path.join(ro, "o.png")),
                                "-o/--out")
        finally:
            os.chmod(ro, 0o755)

    def test_an_existing_output_is_replaced_only_on_success(self):
        out = self.path("out.png")
        old = b"an earlier plot, kept until a new one is whole"
        with open(out, "wb") as f:
            f.write(old)
        for name, doc in (("bad.json", "{\"cells\": [tru"), ("nocells.json", {"x": 1})):
            with self.subTest(name):
                self.assert_refused(self.run_plot(self.write(name, doc), "-o", out), "LADDER")
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), old)
        p = self.run_plot(self.write("good.json", ladder([cell()])), "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_png(out)
        self.assertEqual(self.leftovers(), [])
        self.assertEqual(sorted(os.listdir(self.dir)), ["bad.json", "good.json", "nocells.json",
                                                        "out.png"])


if __name__ == "__main__":
    unittest.main()
