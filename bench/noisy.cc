// Description: the spread of each grid point over its repetitions, the noisy
// marker on its aggregates, and the closing summary of the noisy points.
#include "bench/noisy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <ostream>

#include "bench/grid.h"

namespace iomodels::bench {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double counter(const benchmark::BenchmarkReporter::Run& r, const char* name) {
  const auto it = r.counters.find(name);
  return it == r.counters.end() ? kNaN : static_cast<double>(it->second.value);
}

// "epoll/socketpair/conns:64/size:4096/lat_us:1000", without the suffix
// Google Benchmark appends to every name registered by the grid.
std::string short_name(const std::string& name) {
  const std::string suffix = kNameSuffix;
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return name.substr(0, name.size() - suffix.size());
  return name;
}

std::string describe(const char* what, const Spread& s, const char* format) {
  char buf[160];
  char value[48];
  std::snprintf(value, sizeof value, format, s.median);
  std::string range;
  if (!std::isnan(s.min)) {
    char lo[48], hi[48];
    std::snprintf(lo, sizeof lo, format, s.min);
    std::snprintf(hi, sizeof hi, format, s.max);
    range = std::string(", ") + lo + ".." + hi;
  }
  std::snprintf(buf, sizeof buf, "%s %s (CV %.1f%%%s)", what, value, s.cv * 100, range.c_str());
  return buf;
}

}  // namespace

Spread spread_of(std::vector<double> values) {
  Spread s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t mid = s.n / 2;
  s.median = s.n % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  s.min = values.front();
  s.max = values.back();
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n >= 2 && s.mean != 0) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.cv = std::sqrt(sq / static_cast<double>(s.n - 1)) / s.mean;
  }
  return s;
}

bool is_noisy(const Spread& cpu, const Spread& throughput) {
  return cpu.cv > kNoisyCv || throughput.cv > kNoisyCv;
}

std::optional<PointSpread> SpreadLog::note(const std::vector<Run>& runs) {
  std::string point;  // the point whose aggregates are in this batch
  const Run* mean = nullptr;
  const Run* median = nullptr;
  const Run* cv = nullptr;
  for (const Run& r : runs) {
    if (r.error_occurred) continue;
    const std::string name = r.run_name.str();
    if (r.run_type == Run::RT_Iteration) {
      if (r.repetitions < 2) continue;
      const double c = counter(r, kCpuCounter), t = counter(r, kThroughputCounter);
      if (!std::isnan(c) && !std::isnan(t)) reps_[name][r.repetition_index] = {c, t};
      continue;
    }
    point = name;
    if (r.aggregate_name == "mean") mean = &r;
    if (r.aggregate_name == "median") median = &r;
    if (r.aggregate_name == "cv") cv = &r;
  }
  if (point.empty()) return std::nullopt;
  for (const PointSpread& p : points_)
    if (p.name == point) return p;

  PointSpread p;
  p.name = point;
  if (const auto it = reps_.find(point); it != reps_.end() && it->second.size() >= 2) {
    std::vector<double> cpu, throughput;
    for (const auto& [index, v] : it->second) {
      cpu.push_back(v.first);
      throughput.push_back(v.second);
    }
    p.cpu = spread_of(std::move(cpu));
    p.throughput = spread_of(std::move(throughput));
  } else if (median != nullptr && cv != nullptr) {
    // Only the aggregates were reported: Google Benchmark's own median and
    // cv (the same statistics as spread_of), over the runs that succeeded.
    const std::pair<Spread*, const char*> figures[] = {{&p.cpu, kCpuCounter},
                                                       {&p.throughput, kThroughputCounter}};
    for (const auto& [s, key] : figures) {
      s->n = static_cast<size_t>(median->iterations);
      s->median = counter(*median, key);
      s->mean = mean != nullptr ? counter(*mean, key) : kNaN;
      s->cv = counter(*cv, key);
      s->min = s->max = kNaN;
    }
  } else {
    return std::nullopt;
  }
  p.noisy = is_noisy(p.cpu, p.throughput);
  points_.push_back(p);
  return p;
}

std::string noisy_summary(const std::vector<PointSpread>& points) {
  if (points.empty()) return "";
  size_t reps = 0, noisy = 0;
  for (const PointSpread& p : points) {
    reps = std::max(reps, p.cpu.n);
    noisy += p.noisy ? 1 : 0;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "\nSpread over the repetitions (up to %zu per point): a point is NOISY when the "
                "CV of %s or %s is above %.0f%%\n",
                reps, kCpuCounter, kThroughputCounter, kNoisyCv * 100);
  std::string s = buf;
  if (noisy == 0) {
    std::snprintf(buf, sizeof buf, "no noisy point: all %zu points within %.0f%%\n", points.size(),
                  kNoisyCv * 100);
    return s + buf;
  }
  std::snprintf(buf, sizeof buf, "NOISY: %zu of %zu points\n", noisy, points.size());
  s += buf;
  for (const PointSpread& p : points) {
    if (!p.noisy) continue;
    s += "  NOISY " + short_name(p.name) + "  " + describe(kCpuCounter, p.cpu, "%.2f") + "  " +
         describe(kThroughputCounter, p.throughput, "%.0f") + "\n";
  }
  return s;
}

bool NoisyReporter::ReportContext(const Context& context) {
  // Google Benchmark points the file reporter's streams at the output file:
  // at this reporter, which hands them on.
  inner_->SetOutputStream(&GetOutputStream());
  inner_->SetErrorStream(&GetErrorStream());
  return inner_->ReportContext(context);
}

void NoisyReporter::ReportRuns(const std::vector<Run>& runs) {
  const std::optional<PointSpread> p = log_->note(runs);
  if (!p) return inner_->ReportRuns(runs);
  std::vector<Run> marked = runs;
  for (Run& r : marked)
    if (r.run_type == Run::RT_Aggregate && r.run_name.str() == p->name &&
        (r.aggregate_name == "mean" || r.aggregate_name == "median"))
      r.counters[kNoisyCounter] = benchmark::Counter(p->noisy ? 1 : 0);
  inner_->ReportRuns(marked);
}

void NoisyReporter::Finalize() {
  inner_->Finalize();
  if (!summary_) return;
  const std::string text = noisy_summary(log_->points());
  if (text.empty()) return;
  // After the console's table; a JSON or CSV display keeps its stdout clean.
  std::ostream& out = dynamic_cast<benchmark::ConsoleReporter*>(inner_) != nullptr
                          ? inner_->GetOutputStream()
                          : inner_->GetErrorStream();
  out << text << std::flush;
}

}  // namespace iomodels::bench
