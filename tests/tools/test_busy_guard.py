# Description: tests/busy_guard.py: a pass stays a pass, a failure beside a
# process that spins on a core becomes a skip naming the load, bad usage exits 2.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import importlib.util
import os
import subprocess
import sys
import time
import unittest

GUARD = os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, "busy_guard.py")
_spec = importlib.util.spec_from_file_location("busy_guard", GUARD)
busy_guard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(busy_guard)
machine_busy_s = busy_guard.machine_busy_s


def guard(*cmd):
    p = subprocess.run([sys.executable, GUARD, *cmd], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


class BusyGuardTest(unittest.TestCase):
    def test_a_pass_and_a_skip_keep_their_codes(self):
        self.assertEqual(guard("--", "true")[0], 0)
        self.assertEqual(guard("--", "sh", "-c", "exit 77")[0], 77)

    def test_a_failure_is_never_a_pass(self):
        # On a quiet machine the failure's own code; on a busy one a skip.
        self.assertIn(guard("--", "sh", "-c", "exit 3")[0], (3, 77))

    def test_a_failure_beside_a_spinning_process_is_a_skip_naming_the_load(self):
        # Not a child of the guard: the rest of the machine, spinning one core
        # for as long as the guarded command runs.
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            rc, err = guard("--", "sh", "-c", "sleep 1; exit 3")
        finally:
            spinner.kill()
            spinner.wait()
        self.assertEqual(rc, 77, err)
        self.assertIn("skipped: the machine was busy", err)
        self.assertIn("(exit status 3)", err)

    def test_the_commands_own_cpu_is_not_counted_as_load(self):
        # The command spins a core for a second (through a child of its own)
        # and fails. Whatever else the machine does, the load the guard names
        # must leave out that core: at most the machine's whole busy time over
        # the run, measured here, less most of a core.
        wall0, busy0 = time.monotonic(), machine_busy_s()
        rc, err = guard("--", sys.executable, "-c",
                        "import subprocess,sys;"
                        "subprocess.run([sys.executable,'-c','import time\\n"
                        "t=time.time()\\nwhile time.time()-t<1: pass']);sys.exit(3)")
        machine = (machine_busy_s() - busy0) / (time.monotonic() - wall0)
        self.assertIn(rc, (3, 77), err)
        if rc == 77:
            load = float(err.split("took ")[1].split(" core")[0])
            self.assertLess(load, machine - 0.7, err)

    def test_bad_usage_exits_2_with_one_line(self):
        for args in ((), ("true",), ("--",), ("--", "/nonexistent/cmd")):
            rc, err = guard(*args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("busy_guard.py: error:", err)


if __name__ == "__main__":
    unittest.main()
