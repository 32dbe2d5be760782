#!/bin/sh
# Description: `iomodels compare` on real `iomodels bench` runs of this build:
# a run compared with itself shows no change anywhere and passes every gate,
# and a run where epoll burns three times the CPU per request
# (IOMODELS_TEST_SLOWDOWN, a knob for testing compare) is flagged on epoll's
# cpu_us_per_req and fails a 20% gate. Runs alone (RUN_SERIAL): it measures CPU.
# usage: tests/compare_bench.sh IOMODELS_BINARY
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

grid="--models poll,epoll --connections 4 --sizes 64 --latencies 0
  --benchmark_repetitions=5 --benchmark_min_time=0.1"
bench() { # bench OUT [ENV=VALUE]: one run of the grid into OUT
    out=$1
    shift
    # shellcheck disable=SC2086
    env "$@" "$bin" bench $grid --benchmark_out="$out" --benchmark_out_format=json \
        >"$out.console" 2>&1 || fail "bench $*: $(tail -5 "$out.console")"
}

# A malformed knob is refused before any work, with one line and exit 2.
IOMODELS_TEST_SLOWDOWN=epoll:lots "$bin" bench --models epoll >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -q IOMODELS_TEST_SLOWDOWN "$tmp/out" ||
    fail "IOMODELS_TEST_SLOWDOWN=epoll:lots: exit $rc: $(cat "$tmp/out")"
IOMODELS_TEST_SLOWDOWN=select:20 "$bin" bench --models epoll >"$tmp/out" 2>&1
[ $? -eq 2 ] || fail "IOMODELS_TEST_SLOWDOWN naming a model not run: $(cat "$tmp/out")"
echo "ok   malformed IOMODELS_TEST_SLOWDOWN refused: $(cat "$tmp/out")"

bench "$tmp/a.json"
bench "$tmp/slow.json" IOMODELS_TEST_SLOWDOWN=epoll:200
# The console prints the counters as plain decimals, no SI suffix.
grep -q "cpu_us_per_req=[0-9.]* " "$tmp/a.json.console" || fail "console: $(head -20 "$tmp/a.json.console")"
if grep -Eq "_per_req=[0-9.]+[munkM] " "$tmp/a.json.console"; then
    fail "console counters with SI suffixes: $(grep _per_req "$tmp/a.json.console" | head -3)"
fi

# A run against itself: every figure of both benchmarks unchanged (+0.0%,
# p = 1, a tie) and no gate fails. test_compare.cc checks the same
# on recorded data; here the file is one this build's bench just wrote, so all
# six figures must still be found in what bench writes today. Two separate runs of the same
# build are not compared here: on a shared 2-core VM CPU per request moves by
# 5-30% between runs and once moved 56% (p = 0.012): the environment changed
# between the runs and compare is right to say so, so no gate can tell that
# from a regression. The slowdown below is three times, beyond any such drift.
"$bin" compare "$tmp/a.json" "$tmp/a.json" --fail-on cpu_us_per_req:0 \
    --fail-on items_per_second:0 >"$tmp/same" 2>&1 || fail "a run against itself: $(cat "$tmp/same")"
rows=$(grep -cE "^(poll|epoll)/.* [+-]0\.0% .* 1\.000  (tie ±[0-9.]+%|-)$" "$tmp/same")
[ "$rows" -eq 12 ] || fail "a run against itself: $rows of 12 rows show +0.0%, p = 1 and a tie: $(cat "$tmp/same")"
! grep -Eq ' (worse|better)$' "$tmp/same" || fail "a run against itself flagged a change: $(cat "$tmp/same")"
echo "ok   a run against itself: 12 figures unchanged, nothing flagged, no gate fails"

"$bin" compare "$tmp/a.json" "$tmp/slow.json" >"$tmp/slow" 2>&1 || fail "compare: $(cat "$tmp/slow")"
grep -E "^epoll/.* cpu_us_per_req .* worse$" "$tmp/slow" >/dev/null ||
    fail "epoll's threefold slowdown not flagged: $(cat "$tmp/slow")"
"$bin" compare "$tmp/a.json" "$tmp/slow.json" --fail-on cpu_us_per_req:20 >"$tmp/gate" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q -- "--fail-on: epoll/" "$tmp/gate" ||
    fail "the 20% gate did not fail on epoll (exit $rc): $(cat "$tmp/gate")"
echo "ok   epoll burning three times the CPU per request: flagged, and the 20% gate fails:"
grep -E "^epoll/.* cpu_us_per_req " "$tmp/slow"
