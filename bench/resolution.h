// Description: bench's grid points over their repetitions (measure/resolution.h
// works each out): the log of the repetitions Google Benchmark reports, the
// reporter that adds each median's interval and the verdict to its reports,
// and the closing summary.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "measure/resolution.h"

namespace iomodels::bench {

// The repetitions of every point, from the runs Google Benchmark reports, and
// each point's resolution once its aggregates are reported (Google Benchmark
// reports a point's repetitions, then its aggregates). Both reporters feed one
// log; a run seen twice counts once.
class SpreadLog {
 public:
  using Run = benchmark::BenchmarkReporter::Run;
  explicit SpreadLog(double precision = kDefaultPrecision, std::string reference = "epoll")
      : precision_(precision), reference_(std::move(reference)) {}
  // Notes `runs`, one batch as a reporter receives it, and returns the point
  // whose aggregates the batch holds, if any. Without the repetitions (only
  // aggregates reported) the point has no interval and is unresolved.
  std::optional<PointSpread> note(const std::vector<Run>& runs);
  const std::vector<PointSpread>& points() const { return points_; }
  double precision() const { return precision_; }
  const std::string& reference() const { return reference_; }

 private:
  double precision_;
  std::string reference_;
  // run name -> repetition index -> counter -> value
  std::map<std::string, std::map<int64_t, std::map<std::string, double>>> reps_;
  std::vector<PointSpread> points_;
};

// The closing summary: how many points are resolved, and each unresolved one
// with its intervals and why; "" when no point had repetitions.
std::string resolution_summary(const std::vector<PointSpread>& points, double precision);

// rank_against over bench's points (a grid point is a point's name without
// its model), with a heading; "" when nothing is ranked.
std::string ranking_summary(const std::vector<PointSpread>& points, const std::string& reference);

// Passes every run on to `inner` (a console, JSON or CSV reporter), with
// kResolvedCounter on each point's mean and median aggregates and the
// interval counters on its median. With `summary`, prints
// resolution_summary and ranking_summary after the last run: on the console reporter's output,
// or on stderr when the display is not the console.
class ResolvingReporter final : public benchmark::BenchmarkReporter {
 public:
  ResolvingReporter(benchmark::BenchmarkReporter* inner, SpreadLog* log, bool summary)
      : inner_(inner), log_(log), summary_(summary) {}
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;
  // Pass on only the aggregates (the log still sees every repetition).
  void hide_repetitions() { hide_repetitions_ = true; }
  // Pass the runs on as they are: Google Benchmark's CSV reporter aborts on a
  // counter its header (the first batch's) did not name.
  void leave_unmarked() { marked_ = false; }

 private:
  benchmark::BenchmarkReporter* inner_;
  SpreadLog* log_;
  bool summary_;
  bool hide_repetitions_ = false;
  bool marked_ = true;
};

}  // namespace iomodels::bench
