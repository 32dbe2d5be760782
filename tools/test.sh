#!/usr/bin/env bash
# Description: the README's test command: installs what is missing, then
#   1. builds with ASan+UBSan and runs the tests,
#   2. builds with TSan and runs the tests,
#   3. builds Release with -Werror and runs every test, the timing ones included.
# Under the sanitizers the tests tagged [serial] (CPU and timing assertions)
# are left out: the sanitizers slow code down unevenly, and what those tests
# assert is measured in the Release run, which comes last so that its ctest
# summary closes the output.
#
# usage: tools/test.sh [--quick]   (--quick: the Release run only)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --tests
jobs=$(nproc)

if [[ "${1:-}" != "--quick" ]]; then
  for preset in asan tsan; do
    echo "== $preset: build and test (timing tests left out) ==" >&2
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j"$jobs"
    ctest --preset "$preset" -j"$jobs" -E '^serial:|^fuzz_parse$'
  done
fi

echo "== release (-Werror): build and run every test ==" >&2
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$jobs"
ctest --preset ci -j"$jobs"
