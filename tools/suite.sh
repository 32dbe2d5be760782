#!/usr/bin/env bash
# Description: the README's first command: installs what is missing, builds the
# release preset, runs the default benchmark suite into results/<date>-<host>/
# (Google Benchmark JSON, latency spectra, console table) and plots it.
#
# Installed (cmake --install, or the .deb) as `iomodels-suite`, it skips the
# install and build steps, runs the installed `iomodels` and `iomodels-plot`
# beside it, and writes results/<date>-<host>/ under the current directory.
#
# usage: tools/suite.sh [--force] [iomodels bench arguments...]
#   --force   overwrite an existing results/<date>-<host>/ directory
#   anything else is passed to `iomodels bench` after the defaults below, so
#   it overrides them (e.g. --models epoll,uring --benchmark_filter=conns:64
#   --benchmark_repetitions=12)
# Every point runs 6 times for 0.1 s, the repetitions of all points
# interleaved in a random order (so a disturbance spreads over many points
# instead of spoiling one), then round after round the points not yet
# resolved get more interleaved repetitions until all are or --max-time is
# spent (6 minutes for the grid, 90 s for the file transport); the console,
# the JSON and the plots give each point's median with its 95% interval
# (order statistics) and mark whether it is resolved: both intervals, of CPU
# per request and of throughput, within ±5% of their medians (--precision).
# The console ends with "resolved: X of N points" and an
# "UNRESOLVED <name>: <why>" line for each other point. A 95% interval, and so
# a resolved point, takes at least 6 repetitions. On the project's 2-core VM
# the grid takes its 6 minutes and the file transport about a minute, plus
# the build.
# With no arguments it also runs the file transport (1 and 16 reads in
# flight) into results/<date>-<host>/file/, and the sweep: every model at
# 5,000, 20,000 and 40,000 requests/s offered, in the server role
# (sweep.json, sweep.png) and the client role (sweep-client.json,
# sweep-client.png), about two minutes more; with more than 2 CPUs (nproc),
# the thread-per-core models (epoll-tpc, uring-tpc) at --threads 1, 2, 4, ...
# up to nproc, 64 connections x 4 KiB x 1 ms in the client role, 6
# interleaved repetitions (threads.json, threads.md; under a minute on 64
# CPUs); the io_uring feature ladder, uring-ladder step by step in both roles
# and both arrival regimes at 64 connections x 4 KiB, 6 rounds (ladder.json,
# ladder.md, ladder.svg; about two minutes); and, from the source tree, the
# example clients of examples/ beside their models (exec/table.md, plots).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -f "$here/../CMakeLists.txt" && -f "$here/plot.py" ]]; then
  source_tree=1
  cd "$here/.."
  iomodels=build/release/iomodels
  plot=(/usr/bin/python3 tools/plot.py)
  plot_sweep=(/usr/bin/python3 tools/plot_sweep.py)
  report=(/usr/bin/python3 tools/report.py)
  threads_sweep=(/usr/bin/python3 tools/threads_sweep.py)
  plot_ladder=(/usr/bin/python3 tools/ladder_plot.py)
else
  source_tree=0
  iomodels="$here/iomodels"
  plot=("$here/iomodels-plot")
  plot_sweep=("$here/iomodels-plot-sweep")
  report=("$here/iomodels-report")
  threads_sweep=("$here/iomodels-threads-sweep")
  plot_ladder=("$here/iomodels-plot-ladder")
fi

# Before the caller's arguments: Google Benchmark takes the last value of a flag.
repeat=(--benchmark_repetitions=6 --benchmark_min_time=0.1
  --benchmark_enable_random_interleaving=true)
grid_time=(--max-time 360s)
file_time=(--max-time 90s)

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

if ((source_tree)); then
  tools/install-deps.sh
  cmake --preset release >/dev/null
  cmake --build --preset release -j"$(nproc)"
fi

# Results go to a temporary directory that is renamed into place only when
# the suite and the plots are done: an interrupted run leaves no half-written
# results directory behind.
tmp="$dir.partial.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
echo "suite.sh: running the suite into $dir (6 interleaved repetitions of 0.1 s for every point," \
  "then more for the points not resolved: the default grid takes 6 minutes)" >&2
"$iomodels" bench "${repeat[@]}" "${grid_time[@]}" \
  --benchmark_out="$tmp/bench.json" --benchmark_out_format=json \
  --latency-out "$tmp/spectra.json" "${args[@]+"${args[@]}"}" | tee "$tmp/console.txt"
"${plot[@]}" "$tmp/bench.json" --spectra "$tmp/spectra.json" --out "$tmp"
# The other device: reads of a 256 MiB data file in /dev/shm (no peer), at 1
# and 16 reads in flight, for the models that apply to files. Only in the
# default suite: arguments given for the grid above may not fit it.
if ((${#args[@]} == 0)); then
  mkdir -p "$tmp/file"
  echo "suite.sh: the file transport into $dir/file" >&2
  "$iomodels" bench "${repeat[@]}" "${file_time[@]}" --transports file --connections 1,16 \
    --benchmark_out="$tmp/file/bench.json" --benchmark_out_format=json \
    --latency-out "$tmp/file/spectra.json" | tee "$tmp/file/console.txt"
  "${plot[@]}" "$tmp/file/bench.json" --spectra "$tmp/file/spectra.json" \
    --out "$tmp/file"
  # Like for like: every model at the same offered loads, in both roles.
  # Server: the peer sends 64 connections' requests on its schedule and the
  # model answers. Client: the model asks a 1 ms device, paced at the load.
  echo "suite.sh: the sweep at equal offered loads into $dir/sweep.json, sweep-client.json" >&2
  # From the source tree, a Python asyncio server beside the models, as the
  # server of the same schedule (run --exec --role server).
  exec_server=()
  if ((source_tree)); then
    exec_server=(--models all --exec "$PWD/examples/python/asyncio_server.py")
  fi
  "$iomodels" sweep --role server -c 64 -s 4KiB --rates 5000,20000,40000 --duration 500ms \
    "${exec_server[@]}" --json "$tmp/sweep.json" | tee "$tmp/sweep.txt"
  "${plot_sweep[@]}" "$tmp/sweep.json" -o "$tmp/sweep.png"
  "$iomodels" sweep --role client -c 64 -s 4KiB -l 1ms --rates 5000,20000,40000 \
    --duration 500ms --json "$tmp/sweep-client.json" | tee "$tmp/sweep-client.txt"
  "${plot_sweep[@]}" "$tmp/sweep-client.json" -o "$tmp/sweep-client.png"
  # The thread-per-core loops over --threads, where there are cores to spread
  # them over: with 2, the peer shares them and only 1 -> 2 can be shown.
  cores=$(nproc)
  if ((cores > 2)); then
    echo "suite.sh: the threads sweep (epoll-tpc, uring-tpc at --threads 1, 2, 4, ... $cores)" \
      "into $dir/threads.json" >&2
    "${threads_sweep[@]}" --binary "$iomodels" --max-threads "$cores" --out "$tmp" |
      tee "$tmp/threads.md"
  else
    echo "suite.sh: threads sweep skipped: only $cores CPUs (nproc), which the peer shares;" \
      "1 -> 2 threads is measured by: ${threads_sweep[*]} --max-threads 2 --out DIR" >&2
  fi
  # Which io_uring features pay for themselves: each step over the one before,
  # paired by round, in both roles and arrival regimes.
  echo "suite.sh: the io_uring feature ladder into $dir/ladder.json" >&2
  "$iomodels" ladder --sizes 4KiB --repeat 6 --markdown --json "$tmp/ladder.json" |
    tee "$tmp/ladder.md"
  "${plot_ladder[@]}" "$tmp/ladder.json" -o "$tmp/ladder.svg"
  # The seeds' Python (and Node.js) clients and servers under run --exec,
  # each beside the model it mirrors: one repetition, about two minutes (the
  # examples live in the source tree only).
  if ((source_tree)); then
    echo "suite.sh: the example clients and servers beside their models into $dir/exec" >&2
    mkdir -p "$tmp/exec"
    /usr/bin/python3 tools/exec_table.py --repetitions 1 --seconds 1 --out "$tmp/exec" |
      tee "$tmp/exec/table.md"
    "${plot[@]}" "$tmp/exec"/*.json --out "$tmp/exec"
  fi
fi
# The demo's stories on a timeline, one self-contained page beside the
# report, which links it (about 3 s: the device takes 300 ms a story).
echo "suite.sh: the demo's timeline into $dir/demo.html" >&2
"$iomodels" demo --html "$tmp/demo.html" --color never >/dev/null
# One self-contained page of it all: $dir/report.html.
"${report[@]}" "$tmp" --out "$tmp/report.html"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "suite.sh: results and plots in $dir" >&2
