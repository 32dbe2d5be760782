#!/usr/bin/env bash
# Description: the README's test command. Installs what is missing, then runs
# each ctest label in the builds where it can fail (tests/CMakeLists.txt says
# what the labels mean):
#   1. ASan+UBSan: functional and heavy;
#   2. TSan: functional;
#   3. Release with -Werror: functional, timing (alone, RUN_SERIAL) and tools.
# The sanitizer builds leave out timing (the sanitizers slow code unevenly, so
# a CPU or latency bound measured under them says nothing) and tools (Python,
# HTML and packaging, where no sanitizer sees). The Release run comes last, so
# that its ctest summary closes the output. Each stage prints its build and
# test wall time.
#
# usage: tools/test.sh [--quick]
#   --quick   the Release stage only: every functional, timing and tools test
#             of an optimised -Werror build (the everyday loop)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
  "") ;;
  --quick) quick=1 ;;
  -h | --help)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "tools/test.sh: error: unknown option '$1' (usage: tools/test.sh [--quick])" >&2
    exit 2
    ;;
esac

tools/install-deps.sh --tests
jobs=$(nproc)

# A build directory made by another generator (the presets use Ninja) cannot
# be configured again in place: it is only a build tree, so it is made anew.
fresh_build_dir() {
  local dir=build/$1
  if [[ -f $dir/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "== $1: $dir was made by another generator; removing it ==" >&2
    rm -rf "$dir"
  fi
}

# stage PRESET LABELS [last]: configure, build, then run the tests whose
# label matches the regular expression LABELS. The last stage prints nothing
# after ctest, whose summary closes the output.
stage() {
  local preset=$1 labels=$2 last=${3:-} t0 t1 t2
  fresh_build_dir "$preset"
  t0=$(date +%s)
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  t1=$(date +%s)
  echo "== $preset: built in $((t1 - t0)) s; running the tests labelled $labels ==" >&2
  ctest --preset "$preset" -j"$jobs" -L "$labels"
  t2=$(date +%s)
  [[ -n $last ]] || echo "== $preset: build $((t1 - t0)) s, tests $((t2 - t1)) s ==" >&2
}

if ((quick == 0)); then
  stage asan '^(functional|heavy)$'
  stage tsan '^functional$'
fi
stage ci '^(functional|timing|tools)$' last
