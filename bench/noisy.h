// Description: a grid point's spread over its repetitions (median and
// coefficient of variation of CPU per request and of throughput), the noisy
// marker, and the reporter that adds the marker to Google Benchmark's reports
// and sums the noisy points up at the end.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iomodels::bench {

// A point is noisy when the coefficient of variation of cpu_us_per_req or of
// items_per_second over its repetitions is above this: its figure then moves
// between repetitions by as much as the differences between models that the
// grid is meant to show (the design's bar for a published figure is 5%).
inline constexpr double kNoisyCv = 0.05;

// The counters whose spread decides whether a point is noisy.
inline constexpr const char* kCpuCounter = "cpu_us_per_req";
inline constexpr const char* kThroughputCounter = "items_per_second";
// The counter added to each point's mean and median aggregates: 1 noisy, 0 not.
inline constexpr const char* kNoisyCounter = "noisy";

// One figure over the repetitions of a point.
struct Spread {
  size_t n = 0;
  double median = 0;  // the middle value; the mean of the two middle ones for even n
  double mean = 0;
  // Sample standard deviation (n - 1) over the mean, as Google Benchmark's
  // "cv" aggregate; 0 for fewer than two values or a mean of 0.
  double cv = 0;
  double min = 0, max = 0;  // NaN when only Google Benchmark's aggregates were seen
};
Spread spread_of(std::vector<double> values);

// One point over its repetitions.
struct PointSpread {
  std::string name;  // the run name, without the aggregate's suffix
  Spread cpu, throughput;
  bool noisy = false;
};
bool is_noisy(const Spread& cpu, const Spread& throughput);

// The repetitions of every point, from the runs Google Benchmark reports, and
// each point's spread once its aggregates are reported (Google Benchmark
// reports a point's repetitions, then its aggregates, after its last
// repetition). Both reporters feed one log; a run seen twice counts once.
class SpreadLog {
 public:
  using Run = benchmark::BenchmarkReporter::Run;
  // Notes `runs`, one batch as a reporter receives it, and returns the
  // spread of the point whose aggregates the batch holds, if any. The spread
  // is worked out from the repetitions; with only the aggregates reported
  // (--benchmark_*_aggregates_only), from Google Benchmark's median and cv.
  std::optional<PointSpread> note(const std::vector<Run>& runs);
  // Every point whose aggregates were reported, in that order.
  const std::vector<PointSpread>& points() const { return points_; }

 private:
  // run name -> repetition index -> (cpu_us_per_req, items_per_second)
  std::map<std::string, std::map<int64_t, std::pair<double, double>>> reps_;
  std::vector<PointSpread> points_;
};

// The closing summary: how many points are noisy, and each noisy one with its
// medians and CVs; "" when no point had repetitions.
std::string noisy_summary(const std::vector<PointSpread>& points);

// Passes every run on to `inner` (a console, JSON or CSV reporter), with the
// counter kNoisyCounter added to each point's mean and median aggregates.
// With `summary`, prints noisy_summary after the last run: on the console
// reporter's output, or on stderr when the display is not the console.
class NoisyReporter final : public benchmark::BenchmarkReporter {
 public:
  NoisyReporter(benchmark::BenchmarkReporter* inner, SpreadLog* log, bool summary)
      : inner_(inner), log_(log), summary_(summary) {}
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  benchmark::BenchmarkReporter* inner_;
  SpreadLog* log_;
  bool summary_;
};

}  // namespace iomodels::bench
