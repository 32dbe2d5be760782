// Description: a grid point over its repetitions: the median of each figure
// with its distribution-free 95% interval, whether the point is resolved
// (CPU per request and throughput known to ±precision), why not when it is
// not, and the reporter that adds all this to Google Benchmark's reports and
// sums it up at the end.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iomodels::bench {

// The half-width, relative to the median, within which a point's CPU per
// request and throughput must be known for the point to be resolved: the
// design's bar for a published figure, and the default of --precision.
inline constexpr double kDefaultPrecision = 0.05;
// The coverage of every interval.
inline constexpr double kLevel = 0.95;
// The fewest repetitions whose order-statistic interval of the median reaches
// 95% (the range of 6 covers it with 1 - 2/64 = 96.9%); fewer cannot resolve.
inline constexpr size_t kMinRepetitions = 6;
// Other processes' CPU, in cores, beyond which a repetition counts as
// disturbed (the test runner's bound for a busy machine).
inline constexpr double kBusyOthersCores = 0.25;

// The figures that decide whether a point is resolved.
inline constexpr const char* kCpuCounter = "cpu_us_per_req";
inline constexpr const char* kThroughputCounter = "items_per_second";
// Every figure that gets an interval: counters <figure>_lo and <figure>_hi on
// the point's median aggregate.
inline constexpr const char* kIntervalFigures[] = {kCpuCounter, kThroughputCounter, "p50_us",
                                                   "p99_us", "syscalls_per_req"};
// Per repetition: what other processes and steal took meanwhile, in cores.
inline constexpr const char* kOthersCounter = "others_cores";
// Per repetition: the regime (completions or ready descriptors per wait).
inline constexpr const char* kEventsCounter = "events_per_wait";
// On the mean and median aggregates: 1 resolved, 0 not.
inline constexpr const char* kResolvedCounter = "resolved";

// One figure over the repetitions of a point.
struct Spread {
  size_t n = 0;
  double median = 0;      // the middle value; the mean of the two middle ones for even n
  double lo = 0, hi = 0;  // the median's interval (stats::median_interval); NaN without reps
  double coverage = 0;    // what the interval covers: below kLevel for fewer than 6
  double min = 0, max = 0;
  // The interval's larger distance from the median, relative to it; infinite
  // for a zero median or no interval.
  double half_width() const;
};
Spread spread_of(std::vector<double> values);

// One point over its repetitions.
struct PointSpread {
  std::string name;                       // the run name, without the aggregate's suffix
  std::map<std::string, Spread> figures;  // those of kIntervalFigures every repetition had
  std::vector<double> others;             // kOthersCounter of each repetition that had it
  Spread events;                          // kEventsCounter; n == 0 without it
  bool resolved = false;
  std::string why;  // for an unresolved point: what its interval is and what was seen
};

// Works a point out from each figure's values over its repetitions (a
// figure missing from some repetition is left out) and decides it:
// resolved when there are kMinRepetitions and the intervals of CPU per
// request and throughput are within ±precision.
PointSpread resolve(std::string name, const std::map<std::string, std::vector<double>>& values,
                    double precision);

// The repetitions of every point, from the runs Google Benchmark reports, and
// each point's resolution once its aggregates are reported (Google Benchmark
// reports a point's repetitions, then its aggregates). Both reporters feed one
// log; a run seen twice counts once.
class SpreadLog {
 public:
  using Run = benchmark::BenchmarkReporter::Run;
  explicit SpreadLog(double precision = kDefaultPrecision) : precision_(precision) {}
  // Notes `runs`, one batch as a reporter receives it, and returns the point
  // whose aggregates the batch holds, if any. Without the repetitions (only
  // aggregates reported) the point has no interval and is unresolved.
  std::optional<PointSpread> note(const std::vector<Run>& runs);
  const std::vector<PointSpread>& points() const { return points_; }
  double precision() const { return precision_; }

 private:
  double precision_;
  // run name -> repetition index -> counter -> value
  std::map<std::string, std::map<int64_t, std::map<std::string, double>>> reps_;
  std::vector<PointSpread> points_;
};

// The closing summary: how many points are resolved, and each unresolved one
// with its intervals and why; "" when no point had repetitions.
std::string resolution_summary(const std::vector<PointSpread>& points, double precision);

// Passes every run on to `inner` (a console, JSON or CSV reporter), with
// kResolvedCounter on each point's mean and median aggregates and the
// interval counters on its median. With `summary`, prints
// resolution_summary after the last run: on the console reporter's output,
// or on stderr when the display is not the console.
class ResolvingReporter final : public benchmark::BenchmarkReporter {
 public:
  ResolvingReporter(benchmark::BenchmarkReporter* inner, SpreadLog* log, bool summary)
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
