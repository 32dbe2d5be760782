# Description: tools/check-tree.py on small fake trees built in a temporary
# directory: each kind of finding is found, a clean tree passes, bad input exits 2.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir,
                      "tools", "check-tree.py")


def run(*args):
    p = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout.splitlines(), p.stderr.splitlines()


class FakeTree:
    """A temporary tree with the layout of the repository: a few layers, each
    with a header and its source, including only downwards."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="check_tree_")
        self.root = self._tmp.name
        self.write("src/sys/fd.h", '#pragma once\n')
        self.write("src/sys/fd.cc", '#include "sys/fd.h"\n')
        self.write("src/measure/clock.h", '#pragma once\n#include "sys/fd.h"\n')
        self.write("src/measure/clock.cc", '#include "measure/clock.h"\n')
        self.write("src/run/session.h", '#pragma once\n#include "measure/clock.h"\n')
        self.write("src/run/session.cc", '#include "run/session.h"\n#include "sys/fd.h"\n')
        self.write("src/cli/cmd.cc", '#include "run/session.h"\n#include <string>\n')
        self.write("bench/grid.cc", '#include "run/session.h"\n')
        self.write("tests/test_fd.cc", '#include "sys/fd.h"\n#include "util.h"\n')
        self.write("tools/tool.py", "print('hello')\n" * MAX)

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def cleanup(self):
        self._tmp.cleanup()


MAX = 600


class CheckTreeTest(unittest.TestCase):
    def setUp(self):
        self.tree = FakeTree()
        self.addCleanup(self.tree.cleanup)

    def check(self):
        return run("--root", self.tree.root)

    def test_clean_tree_passes(self):
        # No src/peer here: a layer not created yet is simply absent. A file
        # of exactly the limit passes.
        code, out, err = self.check()
        self.assertEqual((code, out, err), (0, [], []))

    def test_file_over_the_limit(self):
        self.tree.write("src/measure/long.cc", "// x\n" * (MAX + 1))
        self.tree.write("examples/node/long.js", "x;\n" * (MAX + 5))
        code, out, _ = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(sorted(line.split(",")[0] for line in out),
                         ["examples/node/long.js: 605 lines", "src/measure/long.cc: 601 lines"])

    def test_other_files_are_not_counted(self):
        self.tree.write("tests/data.json", "{}\n" * (MAX + 1))
        self.tree.write("tools/__pycache__/tool.py", "x\n" * (MAX + 1))
        self.assertEqual(self.check()[0], 0)

    def test_header_cycle(self):
        self.tree.write("src/measure/a.h", '#pragma once\n#include "measure/b.h"\n')
        self.tree.write("src/measure/b.h", '#pragma once\n#include "measure/a.h"\n')
        code, out, _ = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(len(out), 1, out)
        self.assertTrue(out[0].startswith("src/measure: include cycle a→b→a"), out[0])

    def test_cc_h_pair_loop(self):
        self.tree.write("src/run/a.h", "#pragma once\n")
        self.tree.write("src/run/a.cc", '#include "run/a.h"\n#include "run/b.h"\n')
        self.tree.write("src/run/b.h", "#pragma once\n")
        self.tree.write("src/run/b.cc", '#include "run/b.h"\n#include "run/a.h"\n')
        code, out, _ = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(out, ["src/run: include cycle a→b→a (a.cc includes run/b.h; "
                               "b.cc includes run/a.h)"])

    def test_longer_cycle_in_bench(self):
        self.tree.write("bench/x.h", '#include "bench/y.h"\n')
        self.tree.write("bench/y.h", '#include "z.h"\n')  # same directory, no prefix
        self.tree.write("bench/z.h", '#include "bench/x.h"\n')
        code, out, _ = self.check()
        self.assertEqual(code, 1)
        self.assertTrue(out[0].startswith("bench: include cycle x→y→z→x"), out)

    def test_includes_that_point_down_are_no_cycle(self):
        self.tree.write("src/run/a.h", '#pragma once\n#include "run/session.h"\n')
        self.tree.write("src/run/a.cc", '#include "run/a.h"\n#include "run/session.h"\n')
        self.assertEqual(self.check()[0], 0)

    def test_upward_include(self):
        self.tree.write("src/sys/bad.cc", '#include "sys/fd.h"\n#include "run/session.h"\n')
        code, out, _ = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(out, ['src/sys/bad.cc:2: includes "run/session.h": run is above sys '
                               "in the layer order"])

    def test_include_of_an_absent_layer_above(self):
        # peer is above measure even where src/peer does not exist yet.
        self.tree.write("src/measure/bad.h", '#include "peer/wire.h"\n')
        code, out, _ = self.check()
        self.assertEqual(code, 1)
        self.assertIn("peer is above measure", out[0])

    def test_frontends_may_not_include_each_other(self):
        self.tree.write("src/cli/grid_user.cc", '#include "bench/grid.h"\n')
        code, out, _ = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(len(out), 1, out)
        self.assertIn("the frontends cli and bench are siblings", out[0])

    def test_bad_input_exits_2_with_one_line(self):
        missing = os.path.join(self.tree.root, "missing")
        a_file = os.path.join(self.tree.root, "tools", "tool.py")
        empty = os.path.join(self.tree.root, "src", "sys")  # none of src, tests, ...
        for args in (["--root", missing], ["--root", a_file], ["--root", empty], ["--bogus"],
                     ["--root"]):
            with self.subTest(args=args):
                code, out, err = run(*args)
                self.assertEqual(code, 2)
                self.assertEqual(out, [])
                self.assertEqual(len(err), 1, err)
                self.assertTrue(err[0].startswith("check-tree.py: error: "), err)

    def test_help_teaches_the_rules(self):
        code, out, _ = run("--help")
        self.assertEqual(code, 0)
        text = "\n".join(out)
        for word in ("--root", "600", "cycle", "sys (src/sys)", "exit status"):
            self.assertIn(word, text)


if __name__ == "__main__":
    unittest.main()
