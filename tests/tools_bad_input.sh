#!/bin/sh
# Description: runs tools/plot.py and tools/models-table.py on bad inputs and
# checks each is refused with exit code 2 and a one-line message, quickly.
# usage: tests/tools_bad_input.sh SOURCE_DIR IOMODELS_BINARY
set -u
src=$1
bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
skipped=

# expect_refusal NAME PATTERN COMMAND...: exit code 2, one line on stderr
# matching PATTERN, nothing on stdout, within 20 s.
expect_refusal() {
    name=$1
    pattern=$2
    shift 2
    timeout 20 "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$pattern" "$tmp/err" || [ -s "$tmp/out" ]; then
        echo "FAIL $name: exit $rc, $lines stderr lines:"
        sed 's/^/  /' "$tmp/err" "$tmp/out"
        failures=$((failures + 1))
    else
        echo "ok   $name: $(cat "$tmp/err")"
    fi
}

plot_py=$src/tools/plot.py
good=$src/results/reference/bench.json

# A benchmark with a non-numeric and a NaN counter.
sed 's/"cpu_us_per_req": [0-9.e+-]*/"cpu_us_per_req": "fast"/' "$good" >"$tmp/text.json"
expect_refusal "plot non-numeric counter" 'cpu_us_per_req is not a finite number' /usr/bin/python3 "$plot_py" --out "$tmp/plots" "$tmp/text.json"
sed 's/"items_per_second": [0-9.e+-]*/"items_per_second": NaN/' "$good" >"$tmp/nan.json"
expect_refusal "plot NaN counter" 'items_per_second is not a finite number' /usr/bin/python3 "$plot_py" --out "$tmp/plots" "$tmp/nan.json"
printf '{"benchmarks": [' >"$tmp/notjson.json"
expect_refusal "plot truncated JSON" 'is not JSON' /usr/bin/python3 "$plot_py" --out "$tmp/plots" "$tmp/notjson.json"

# Spectra with a point missing its keys, and one out of range.
printf '{"spectra": {"blocking/tcp/conns:1/size:64/lat_us:0": [{"fraction": 0.5}]}}' >"$tmp/spec1.json"
expect_refusal "plot spectrum point without us" "without 'fraction' and 'us'" /usr/bin/python3 "$plot_py" --out "$tmp/plots" "$good" --spectra "$tmp/spec1.json"
printf '{"spectra": {"x": [{"fraction": 7, "us": 3}]}}' >"$tmp/spec2.json"
expect_refusal "plot spectrum fraction out of range" 'is not a number in \[0, 1\]' /usr/bin/python3 "$plot_py" --out "$tmp/plots" "$good" --spectra "$tmp/spec2.json"

# A 65 MiB input is refused by its size before it is read.
head -c $((65 << 20)) /dev/zero | tr '\0' ' ' >"$tmp/huge.json"
expect_refusal "plot huge input" 'over the limit of 64 MiB' /usr/bin/python3 "$plot_py" --out "$tmp/plots" "$tmp/huge.json"

# models-table: --repeat 0, and a usage error of the binary propagated.
expect_refusal "models-table --repeat 0" 'repeat must be at least 1' \
    /usr/bin/python3 "$src/tools/models-table.py" --binary "$bin" --repeat 0
if [ -x "$bin" ]; then
    expect_refusal "models-table bad run flag" 'refused the flags' \
        /usr/bin/python3 "$src/tools/models-table.py" --binary "$bin" --repeat 1 -- --no-such-flag
else
    skipped="models-table bad run flag: $bin is not built"
fi

# exec_table: --repetitions 0, a binary that is not there.
expect_refusal "exec_table --repetitions 0" '--repetitions: must be at least 1' \
    /usr/bin/python3 "$src/tools/exec_table.py" --binary "$bin" --repetitions 0
expect_refusal "exec_table missing binary" '--binary: .* is not an executable' \
    /usr/bin/python3 "$src/tools/exec_table.py" --binary "$tmp/no-such-iomodels"

[ "$failures" -eq 0 ] || exit 1
if [ -n "$skipped" ]; then
    echo "skip $skipped"
    exit 77
fi
