# Description: tools/threads_sweep.py (the suite's threads sweep) and its
# section in tools/report.py: the --threads levels up to nproc, interleaved
# repetitions (every point once per repetition) of the suite's client-role
# workload, a model that does not apply skipped with its reason, bad input
# refused with exit 2 and one line; threads.json read back and shown as a
# table in the report, a file of another kind refused. The runs are a stand-in
# binary's, which writes fixed figures: nothing is measured here.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOLS = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir,
                                      os.pardir, "tools"))
sys.path.insert(0, TOOLS)
import report  # noqa: E402
import threads_sweep  # noqa: E402

SCRIPT = os.path.join(TOOLS, "threads_sweep.py")

# A stand-in for `iomodels run`: logs its arguments, writes a result whose CPU
# per request is the --threads it was given and whose loops are that clamped to
# the connections; "nope-tpc" is not applicable, as the binary says it.
FAKE = """#!/usr/bin/python3
import json, sys
a = sys.argv[1:]
with open(sys.argv[0] + ".log", "a") as f:
    f.write(" ".join(a) + "\\n")
model = a[a.index("-m") + 1]
if model == "nope-tpc":
    sys.stderr.write("iomodels: not applicable: nope-tpc on socketpair: io_uring is disabled\\n")
    sys.exit(2)
n = int(a[a.index("--threads") + 1])
with open(a[a.index("--json") + 1], "w") as f:
    json.dump({"cpu_us_per_req": float(n), "items_per_second": 1000.0 * n,
               "model_facts": {"threads": min(n, int(a[a.index("-c") + 1]))}}, f)
"""


class Levels(unittest.TestCase):
    def test_powers_of_two_then_nproc(self):
        self.assertEqual(threads_sweep.thread_counts(1), [1])
        self.assertEqual(threads_sweep.thread_counts(2), [1, 2])
        self.assertEqual(threads_sweep.thread_counts(3), [1, 2, 3])
        self.assertEqual(threads_sweep.thread_counts(8), [1, 2, 4, 8])
        self.assertEqual(threads_sweep.thread_counts(12), [1, 2, 4, 8, 12])

    def test_never_beyond_the_connections(self):
        self.assertEqual(threads_sweep.thread_counts(256), [1, 2, 4, 8, 16, 32, 64])


class Sweep(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.fake = os.path.join(self.dir, "iomodels")
        with open(self.fake, "w") as f:
            f.write(FAKE)
        os.chmod(self.fake, 0o755)

    def tearDown(self):
        self.tmp.cleanup()

    def sweep(self, *args):
        return subprocess.run([sys.executable, SCRIPT, "--binary", self.fake, "--out", self.dir,
                               "--seed", "1", *args], capture_output=True, text=True, timeout=120)

    def runs(self):
        with open(self.fake + ".log") as f:
            return [line.split() for line in f.read().splitlines()]

    def test_interleaved_repetitions_of_every_point(self):
        p = self.sweep("--max-threads", "4", "--repetitions", "6")
        self.assertEqual(p.returncode, 0, p.stderr)
        runs = self.runs()
        points = {(m, n) for m in ("epoll-tpc", "uring-tpc") for n in (1, 2, 4)}
        self.assertEqual(len(runs), 6 * len(points))
        # Each repetition runs every point once before the next begins.
        for rep in range(6):
            block = runs[rep * 6:(rep + 1) * 6]
            got = {(a[a.index("-m") + 1], int(a[a.index("--threads") + 1])) for a in block}
            self.assertEqual(got, points)
        for a in runs:
            self.assertEqual(a[0], "run")
            for flag, value in (("-c", "64"), ("-s", "4KiB"), ("-l", "1ms"), ("-r", "200")):
                self.assertEqual(a[a.index(flag) + 1], value)
        with open(os.path.join(self.dir, "threads.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["kind"], "iomodels-threads-sweep")
        self.assertEqual(doc["threads"], [1, 2, 4])
        self.assertEqual(len(doc["points"]), 6)
        for pt in doc["points"]:
            self.assertEqual(len(pt["repetitions"]), 6)
            self.assertEqual(pt["cpu_us_per_req"]["median"], pt["threads"])
            self.assertEqual(pt["loops"], pt["threads"])
        self.assertIn("| `uring-tpc` | 4 | 4 |", p.stdout)

    def test_a_model_that_does_not_apply_is_skipped_with_its_reason(self):
        p = self.sweep("--max-threads", "2", "--repetitions", "2", "--models",
                       "epoll-tpc,nope-tpc")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.dir, "threads.json")) as f:
            doc = json.load(f)
        self.assertEqual({pt["model"] for pt in doc["points"]}, {"epoll-tpc"})
        self.assertIn("io_uring is disabled", doc["skipped"]["nope-tpc"])
        self.assertIn("`nope-tpc` skipped", p.stdout)

    def test_bad_input_exits_2_naming_the_option(self):
        for args, option in ((["--max-threads", "0"], "--max-threads"),
                             (["--repetitions", "1"], "--repetitions"),
                             (["--rounds", "0"], "--rounds")):
            p = self.sweep(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn(option, p.stderr)
        self.assertFalse(os.path.exists(self.fake + ".log"))


class ReportSection(unittest.TestCase):
    def point(self, model, n):
        fig = {"median": 2.5 * n, "lo": 2.0 * n, "hi": 3.0 * n, "coverage": 0.97}
        return {"model": model, "threads": n, "loops": n, "cpu_us_per_req": fig,
                "requests_per_s": fig}

    def test_a_table_of_every_point(self):
        doc = {"kind": "iomodels-threads-sweep", "cores": 8, "workload": ["-c", "64"],
               "rounds": 200, "repetitions": 6,
               "points": [self.point("epoll-tpc", 1), self.point("<b>", 8)],
               "skipped": {"uring-tpc": "io_uring <disabled>"}}
        with tempfile.TemporaryDirectory() as d:
            self.assertIsNone(report.load_threads(d))
            with open(os.path.join(d, "threads.json"), "w") as f:
                json.dump(doc, f)
            h = report.threads_table(report.load_threads(d))
        self.assertIn('id="threads"', h)
        self.assertEqual(h.count("<tr>"), 1 + 2)  # the header, then one row per point
        self.assertIn("2.50 [2.00, 3.00]", h)
        self.assertIn("&lt;b&gt;", h)
        self.assertIn("io_uring &lt;disabled&gt;", h)
        self.assertNotIn("<b>", h)

    def test_another_kind_of_file_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            for bad in ({"points": []}, [1, 2], {"kind": "iomodels-threads-sweep",
                                                  "points": [{"model": "x"}]}):
                with open(os.path.join(d, "threads.json"), "w") as f:
                    json.dump(bad, f)
                with self.assertRaises(report.plot.InputError):
                    report.load_threads(d)


if __name__ == "__main__":
    unittest.main()
