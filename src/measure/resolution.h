// Description: a figure over repeated runs: its median with the
// distribution-free 95% interval, and whether a point (CPU per request and
// throughput together) is resolved to a precision, and why not when it is
// not. Shared by bench's reporter and run --repeat.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iomodels {

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
// disturbed (tests/main.cc holds a timing test to it too).
inline constexpr double kBusyOthersCores = 0.25;

// The figures that decide whether a point is resolved.
inline constexpr const char* kCpuCounter = "cpu_us_per_req";
inline constexpr const char* kThroughputCounter = "items_per_second";
// Every figure that gets an interval: counters <figure>_lo and <figure>_hi on
// the point's median aggregate.
inline constexpr const char* kIntervalFigures[] = {kCpuCounter, kThroughputCounter, "p50_us",
                                                   "p99_us", "syscalls_per_req"};
// The shortest window whose other processes' CPU is recorded: /proc/stat
// counts in 10 ms ticks on each CPU, so over a shorter one the error alone
// could pass for a busy neighbour (two ticks a CPU over 0.1 s: 0.2 core on
// each of them at worst, 0.1 typically).
inline constexpr double kMinAttributionS = 0.1;
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

// A ratio of two figures paired by round (the same round's num ÷ den; a
// round whose den is 0 is left out): the median of the rounds' ratios with
// its interval, and where that interval lies against a bar.
struct PairedRatio {
  Spread s;
  // An interval to judge by: kMinRepetitions rounds or more (fewer cover
  // less than 95%, and a verdict from them would alarm falsely).
  bool decided() const;
  bool has_interval() const;  // two rounds or more: an interval, if a narrow one
  // Where the interval lies against `bar`: -1 wholly below, +1 wholly above, 0 across.
  int side_of(double bar) const;
};
PairedRatio paired_ratio(const std::vector<double>& num, const std::vector<double>& den);
// "0.67 [0.61, 0.72]", or the median alone without an interval.
std::string paired_ratio_text(const PairedRatio& r);
// {"median", "lo", "hi" (null without an interval), "coverage", "verdict"}.
nlohmann::json paired_ratio_json(const PairedRatio& r, const std::string& verdict);

// One point over its repetitions.
struct PointSpread {
  std::string name;                       // the run name, without the aggregate's suffix
  std::map<std::string, Spread> figures;  // those of kIntervalFigures every repetition had
  std::vector<double> others;             // kOthersCounter of each repetition that had it
  Spread events;                          // kEventsCounter; n == 0 without it
  std::vector<double> cpu;                // kCpuCounter of each repetition, in order
  bool resolved = false;
  std::string why;  // for an unresolved point: what its interval is and what was seen
};

// Works a point out from each figure's values over its repetitions (a
// figure missing from some repetition is left out) and decides it:
// resolved when there are kMinRepetitions and the intervals of CPU per
// request and throughput are within ±precision.
PointSpread resolve(std::string name, const std::map<std::string, std::vector<double>>& values,
                    double precision);

// The fewest repetitions a side for a ratio's 95% interval (1 - 2/70).
inline constexpr size_t kMinRankRepetitions = 4;

// One model's CPU per request over its repetitions at one place of a
// comparison (a grid point, an offered load).
struct RankEntry {
  std::string place;
  std::string model;
  std::vector<double> cpu;
};

// Rankings that admit ties: at each place (in the order first seen), every
// model's CPU per request against `reference`'s: the ratio (exp of the
// two-sample Hodges-Lehmann shift of their logarithms) with its 95% interval
// from the exact rank-sum distribution, the models grouped as cheaper, tie
// (the interval holds 1) and dearer, each by ratio: "  <place>:\n    cheaper:
// a 0.50 [0.45, 0.55]\n ...". A model with fewer than kMinRankRepetitions
// (or a zero) is left out, and so is a place without the reference; "" when
// none is left.
std::string rank_against(const std::vector<RankEntry>& entries, const std::string& reference);

}  // namespace iomodels
