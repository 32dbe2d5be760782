#!/bin/sh
# Description: writes report.html from results/reference with tools/report.py
# (and a comparison with itself), checks it is self-contained, renders it in
# headless Chromium and checks the rendered page has its plots and tables;
# checks bad input is refused with exit code 2 and one line. Skipped (77)
# without chromium.
# usage: tests/report_html.sh SOURCE_DIR
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Bad input: one line, exit 2, nothing written.
for bad in "$tmp/missing" "$src/tools"; do
    /usr/bin/python3 "$src/tools/report.py" "$bad" --out "$tmp/bad.html" >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ ! -e "$tmp/bad.html" ] ||
        fail "report.py $bad: exit $rc, stderr: $(cat "$tmp/err")"
    echo "ok   refused $bad: $(cat "$tmp/err")"
done
/usr/bin/python3 "$src/tools/report.py" "$src/results/reference" --previous "$tmp/missing" \
    --out "$tmp/bad.html" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--previous" "$tmp/err" || fail "--previous missing: $(cat "$tmp/err")"
echo "ok   refused --previous: $(cat "$tmp/err")"

/usr/bin/python3 "$src/tools/report.py" "$src/results/reference" \
    --previous "$src/results/reference" --out "$tmp/report.html" >/dev/null ||
    fail "report.py on results/reference"
# Self-contained: no script, stylesheet, image or frame loaded from elsewhere.
if grep -Eiq '<(script|img|link|iframe)[^>]*(src|href)=' "$tmp/report.html"; then
    fail "report.html loads something from outside"
fi
svgs=$(grep -o '<svg' "$tmp/report.html" | wc -l)
[ "$svgs" -ge 8 ] || fail "report.html has $svgs SVG plots, want at least 8"
echo "ok   report.html written, $svgs inline SVG plots"

command -v chromium >/dev/null || { echo "SKIP: chromium is not installed (tools/install-deps.sh --tests)"; exit 77; }
# No network at all: a proxy that does not exist catches any fetch.
timeout 120 chromium --headless --no-sandbox --disable-gpu --proxy-server=127.0.0.1:9 \
    --user-data-dir="$tmp/profile" --dump-dom "file://$tmp/report.html" \
    >"$tmp/dom.html" 2>"$tmp/chromium.err" || fail "chromium --dump-dom: $(tail -3 "$tmp/chromium.err")"
for id in environment points compare map_2x2 cpu_waste latency scaling; do
    grep -q "id=\"$id\"" "$tmp/dom.html" || fail "rendered page has no #$id"
done
rendered=$(grep -o '<svg' "$tmp/dom.html" | wc -l)
[ "$rendered" -eq "$svgs" ] || fail "rendered page has $rendered SVGs, file has $svgs"
rows=$(grep -o '<tr' "$tmp/dom.html" | wc -l)
points=$(/usr/bin/python3 -c "
import sys; sys.path.insert(0, '$src/tools'); import plot
print(sum(len(plot.load_benchmarks([p])[0]) for p in
  ['$src/results/reference/bench.json', '$src/results/reference/file/bench.json']))")
[ "$rows" -gt "$points" ] || fail "rendered page has $rows table rows, fewer than $points points"
echo "ok   rendered in chromium: $rendered SVG plots, $rows table rows for $points points"
