# Description: tools/report.py's section of programs under run --exec: the
# Markdown tools/exec_table.py prints becomes HTML tables and notes, escaped.
"""Run: /usr/bin/python3 -m unittest discover -s tests/tools -p 'test_*.py' -v"""

import os
import sys
import unittest

TOOLS = os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir, "tools")
sys.path.insert(0, os.path.realpath(TOOLS))
import report  # noqa: E402

TABLE = """| server or model | offered/s | CPU µs/request |
|---|---|---:|
| asyncio_server.py | 5000 | 70.1 [66.0, 75.2] |
| `epoll` (built-in) | 5000 | 9.5 |

3 repetitions <interleaved>.
"""


class MarkdownHtml(unittest.TestCase):
    def test_a_table_and_a_note(self):
        h = report.markdown_html(TABLE)
        self.assertEqual(h.count("<table>"), 1)
        self.assertEqual(h.count("<th>"), 3)
        self.assertEqual(h.count("<tr>"), 3)  # the separator row is dropped
        self.assertIn("<td><code>epoll</code> (built-in)</td>", h)
        self.assertIn("<td>70.1 [66.0, 75.2]</td>", h)
        self.assertIn('<p class="note">3 repetitions &lt;interleaved&gt;.</p>', h)

    def test_two_tables_stay_apart(self):
        h = report.markdown_html("| a |\n|---|\n| 1 |\n\n| b |\n|---|\n| 2 |\n")
        self.assertEqual(h.count("<table>"), 2)


if __name__ == "__main__":
    unittest.main()
