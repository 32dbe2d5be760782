// Description: each grid point's medians and their intervals over its
// repetitions, whether it is resolved and why not, the counters added to its
// aggregates, and the closing summary.
#include "bench/resolution.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <ostream>

#include "bench/grid.h"
#include "measure/stats.h"

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

}  // namespace

std::optional<PointSpread> SpreadLog::note(const std::vector<Run>& runs) {
  std::string point;  // the point whose aggregates are in this batch
  for (const Run& r : runs) {
    if (r.error_occurred) continue;
    const std::string name = r.run_name.str();
    if (r.run_type == Run::RT_Iteration) {
      if (r.repetitions < 2) continue;
      auto& rep = reps_[name][r.repetition_index];
      for (const auto& [key, c] : r.counters) rep[key] = static_cast<double>(c.value);
      continue;
    }
    point = name;
  }
  if (point.empty()) return std::nullopt;
  for (const PointSpread& p : points_)
    if (p.name == point) return p;

  std::map<std::string, std::vector<double>> values;
  if (const auto it = reps_.find(point); it != reps_.end())
    for (const auto& [index, rep] : it->second)
      for (const auto& [key, v] : rep)
        if (!std::isnan(v)) values[key].push_back(v);
  PointSpread p = resolve(point, values, precision_);
  if (values.empty()) {
    // Only the aggregates were reported (--benchmark_report_aggregates_only):
    // the medians are Google Benchmark's; no interval can be worked out.
    for (const Run& r : runs)
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median")
        for (const char* f : kIntervalFigures)
          if (const double v = counter(r, f); !std::isnan(v)) {
            Spread s = spread_of({v});
            s.n = static_cast<size_t>(r.iterations);
            p.figures[f] = s;
          }
    p.why = "the repetitions were not reported (aggregates only): no interval";
  }
  points_.push_back(p);
  return p;
}

std::string resolution_summary(const std::vector<PointSpread>& points, double precision) {
  if (points.empty()) return "";
  size_t reps = 0, resolved = 0;
  for (const PointSpread& p : points) {
    if (const auto it = p.figures.find(kCpuCounter); it != p.figures.end())
      reps = std::max(reps, it->second.n);
    resolved += p.resolved ? 1 : 0;
  }
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "\nMedians over up to %zu repetitions, each with its 95%% interval "
                "(order statistics, *_lo and *_hi on the median row). A point is resolved when "
                "the intervals of %s and %s are within ±%.0f%% of their medians.\n",
                reps, kCpuCounter, kThroughputCounter, precision * 100);
  std::string s = buf;
  std::snprintf(buf, sizeof buf, "resolved: %zu of %zu points\n", resolved, points.size());
  s += buf;
  for (const PointSpread& p : points) {
    if (p.resolved) continue;
    s += "  UNRESOLVED " + short_name(p.name) + ": " + p.why + "\n";
  }
  return s;
}

std::string ranking_summary(const std::vector<PointSpread>& points, const std::string& reference) {
  std::vector<RankEntry> entries;
  for (const PointSpread& p : points) {
    const std::string name = short_name(p.name);
    const size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    entries.push_back({name.substr(slash + 1), name.substr(0, slash), p.cpu});
  }
  const std::string out = rank_against(entries, reference);
  if (out.empty()) return "";
  return "\nCPU per request against " + reference +
         " at each grid point: the ratio [its 95% interval] (two-sample Hodges-Lehmann over the "
         "repetitions, exact rank-sum interval); tie when the interval holds 1.\n" +
         out;
}

bool ResolvingReporter::ReportContext(const Context& context) {
  // Google Benchmark points the file reporter's streams at the output file:
  // at this reporter, which hands them on.
  inner_->SetOutputStream(&GetOutputStream());
  inner_->SetErrorStream(&GetErrorStream());
  return inner_->ReportContext(context);
}

void ResolvingReporter::ReportRuns(const std::vector<Run>& runs) {
  const std::optional<PointSpread> p = log_->note(runs);
  std::vector<Run> marked;
  for (const Run& r : runs)
    if (!hide_repetitions_ || r.run_type != Run::RT_Iteration || r.error_occurred)
      marked.push_back(r);
  if (marked.empty()) return;
  if (!p || !marked_) return inner_->ReportRuns(marked);
  for (Run& r : marked) {
    if (r.run_type != Run::RT_Aggregate || r.run_name.str() != p->name) continue;
    if (r.aggregate_name == "mean" || r.aggregate_name == "median")
      r.counters[kResolvedCounter] = benchmark::Counter(p->resolved ? 1 : 0);
    if (r.aggregate_name != "median") continue;
    for (const auto& [figure, s] : p->figures) {
      if (std::isnan(s.lo)) continue;
      r.counters[figure + "_lo"] = benchmark::Counter(s.lo);
      r.counters[figure + "_hi"] = benchmark::Counter(s.hi);
    }
  }
  inner_->ReportRuns(marked);
}

void ResolvingReporter::Finalize() {
  inner_->Finalize();
  if (!summary_) return;
  const std::string text = resolution_summary(log_->points(), log_->precision()) +
                           ranking_summary(log_->points(), log_->reference());
  if (text.empty()) return;
  // After the console's table; a JSON or CSV display keeps its stdout clean.
  std::ostream& out = dynamic_cast<benchmark::ConsoleReporter*>(inner_) != nullptr
                          ? inner_->GetOutputStream()
                          : inner_->GetErrorStream();
  out << text << std::flush;
}

}  // namespace iomodels::bench
