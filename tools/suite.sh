#!/usr/bin/env bash
# Description: the README's first command: installs what is missing, builds the
# release preset, runs the default benchmark suite into results/<date>-<host>/
# (Google Benchmark JSON, latency spectra, console table) and plots it.
#
# usage: tools/suite.sh [--force] [iomodels bench arguments...]
#   --force   overwrite an existing results/<date>-<host>/ directory
#   anything else is passed to `iomodels bench` (e.g. --models epoll,uring
#   --benchmark_filter=conns:64 --benchmark_repetitions=3)
# With no arguments it also runs the file transport (1 and 16 reads in
# flight) into results/<date>-<host>/file/.
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

# Results go to a temporary directory that is renamed into place only when
# the suite and the plots are done: an interrupted run leaves no half-written
# results directory behind.
tmp="$dir.partial.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
echo "suite.sh: running the suite into $dir (the default grid takes a few minutes)" >&2
build/release/iomodels bench \
  --benchmark_out="$tmp/bench.json" --benchmark_out_format=json \
  --latency-out "$tmp/spectra.json" "${args[@]+"${args[@]}"}" | tee "$tmp/console.txt"
/usr/bin/python3 tools/plot.py "$tmp/bench.json" --spectra "$tmp/spectra.json" --out "$tmp"
# The other device: reads of a 256 MiB data file in /dev/shm (no peer), at 1
# and 16 reads in flight, for the models that apply to files. Only in the
# default suite: arguments given for the grid above may not fit it.
if ((${#args[@]} == 0)); then
  mkdir -p "$tmp/file"
  echo "suite.sh: the file transport into $dir/file" >&2
  build/release/iomodels bench --transports file --connections 1,16 \
    --benchmark_out="$tmp/file/bench.json" --benchmark_out_format=json \
    --latency-out "$tmp/file/spectra.json" | tee "$tmp/file/console.txt"
  /usr/bin/python3 tools/plot.py "$tmp/file/bench.json" --spectra "$tmp/file/spectra.json" \
    --out "$tmp/file"
fi
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "suite.sh: results and plots in $dir" >&2
