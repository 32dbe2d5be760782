// Description: adaptive repetitions for `iomodels bench --max-time`: the
// grid runs in rounds, each adding interleaved repetitions to the points not
// yet resolved, until every point is or the time is spent. Google Benchmark
// computes its aggregates per call, so the rounds' repetitions are collected
// here and each point's mean, median, stddev and cv are worked out over all
// of them, the way Google Benchmark does over one call's.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "frontend/output.h"
#include "measure/resolution.h"

namespace iomodels::bench {

// Google Benchmark's aggregates over `reps` (the repetitions of one point, in
// order): mean, median, stddev and cv of the time per iteration and of every
// counter, over the repetitions without an error. Empty with fewer than two.
std::vector<benchmark::BenchmarkReporter::Run> aggregates_of(
    const std::vector<benchmark::BenchmarkReporter::Run>& reps);

// Every counter's values over the repetitions without an error, in order (a
// counter some repetition lacks has fewer values), for resolve().
std::map<std::string, std::vector<double>> counter_values(
    const std::vector<benchmark::BenchmarkReporter::Run>& reps);

// How many more repetitions `p`, with `n` so far, needs for its intervals to
// reach ±precision: 0 when it is resolved or cannot be (no interval); else the
// count at which a half-width shrinking as 1/sqrt(n) would get there, at least
// 2 and at most n (so a round at most doubles a point's repetitions).
size_t more_repetitions(const PointSpread& p, size_t n, double precision);

// Receives what Google Benchmark reports during the rounds: keeps each
// point's repetitions, in the order the points first appear, and drops the
// per-call aggregates.
class RoundCollector final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override;

  struct Plan {
    std::string name;  // the run name, as Google Benchmark reports it
    size_t more = 0;   // repetitions to add
  };
  // The points a next round should measure, with their repetitions to add:
  // the unresolved ones whose every repetition ran (a point that failed or
  // does not apply is not repeated).
  std::vector<Plan> plan(double precision) const;
  // Repetitions received in all.
  size_t repetitions() const { return received_; }
  size_t points() const { return order_.size(); }
  // The points none of whose repetitions failed (nor was not applicable).
  size_t measured() const;
  // One batch per point, as a reporter would have received it from one call:
  // its repetitions renumbered 0..n-1 with `repetitions` n, then
  // aggregates_of them.
  std::vector<std::vector<Run>> batches() const;
  // The longest name any batch's run reports ("<name>_stddev").
  size_t name_width() const;

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<Run>> reps_;
  size_t received_ = 0;
};

// What `bench --max-time` was asked for.
struct Rounds {
  double max_time_s = 0;      // the budget; 0: no rounds
  std::string max_time_text;  // as given, for the messages
  double precision = kDefaultPrecision;
  std::string reference = "epoll";
  // The Google Benchmark flags bench applies itself when it reports.
  std::string out_format = "json";
  bool display_aggregates_only = false, report_aggregates_only = false;
  bool mark_display = true;  // false for a CSV display (see ResolvingReporter)
};

// Runs the benchmarks Google Benchmark's flags select in rounds (the first
// with --benchmark_repetitions, then the points not resolved, interleaved,
// while the round's estimated time fits spec.max_time_s), saying on stderr
// what each round adds, then reports every point once as one call would
// have: to `shown` (the display, with the closing summaries) and, when
// given, to `out_file` in spec.out_format. Returns how many benchmarks the
// first round matched.
size_t run_in_rounds(const Rounds& spec, benchmark::BenchmarkReporter* shown,
                     frontend::OutputPath* out_file);

}  // namespace iomodels::bench
