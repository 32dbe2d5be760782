#!/usr/bin/env bash
# Description: the README's first command: installs what is missing, builds the
# release preset, runs the default benchmark suite into results/<date>-<host>/
# (Google Benchmark JSON, latency spectra, console table) and plots it.
#
# usage: tools/suite.sh [--force] [iomodels bench arguments...]
#   --force   overwrite an existing results/<date>-<host>/ directory
#   anything else is passed to `iomodels bench` (e.g. --models epoll,uring
#   --benchmark_filter=conns:64 --benchmark_repetitions=3)
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
args=()
for a in "$@"; do
  if [[ "$a" == "--force" ]]; then force=1; else args+=("$a"); fi
done

dir="results/$(date +%Y-%m-%d)-$(hostname -s)"
if [[ -e "$dir" && $force -eq 0 ]]; then
  echo "suite.sh: error: $dir exists; use --force to overwrite it" >&2
  exit 2
fi

tools/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"

# A fresh directory: no stale plot or note from an earlier run survives --force.
rm -rf "$dir"
mkdir -p "$dir"
echo "suite.sh: running the suite into $dir (the default grid takes about 3 minutes)" >&2
build/release/iomodels bench \
  --benchmark_out="$dir/bench.json" --benchmark_out_format=json \
  --latency-out "$dir/spectra.json" "${args[@]+"${args[@]}"}" | tee "$dir/console.txt"
/usr/bin/python3 tools/plot.py "$dir/bench.json" --spectra "$dir/spectra.json" --out "$dir"
echo "suite.sh: results and plots in $dir" >&2
