// Description: a figure's median and interval over repeated runs, and a
// point's verdict with what was seen during its runs.
#include "measure/resolution.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "measure/stats.h"

namespace iomodels {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Events per wait that move by more than this factor between repetitions
// mean the connections fell into step (or out of it) part of the time.
constexpr double kRegimeFactor = 1.5;

std::string fmt(double v) {
  char buf[48];
  const double a = std::fabs(v);
  std::snprintf(buf, sizeof buf, a >= 1000 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v);
  return buf;
}

// "cpu_us_per_req 3.41 [3.10, 4.02] ±18%".
std::string describe(const std::string& what, const Spread& s) {
  std::string out = what + " " + fmt(s.median);
  if (std::isnan(s.lo)) return out;
  char pct[32];
  std::snprintf(pct, sizeof pct, " ±%.0f%%", s.half_width() * 100);
  return out + " [" + fmt(s.lo) + ", " + fmt(s.hi) + "]" + pct;
}

// What was seen during an unresolved point's repetitions.
std::string causes(const PointSpread& p) {
  std::string out;
  size_t busy = 0;
  double most = 0;
  for (double o : p.others) {
    busy += o > kBusyOthersCores ? 1 : 0;
    most = std::max(most, o);
  }
  char buf[200];
  if (busy > 0) {
    std::snprintf(buf, sizeof buf,
                  "other processes used more than %.2f core during %zu of %zu repetitions (up to "
                  "%.2f)",
                  kBusyOthersCores, busy, p.others.size(), most);
    out = buf;
  }
  if (p.events.n >= 2 && p.events.min > 0 && p.events.max > kRegimeFactor * p.events.min) {
    std::snprintf(buf, sizeof buf,
                  "events per wait ranged %s to %s: the connections' wake-ups batched in some "
                  "repetitions and not in others",
                  fmt(p.events.min).c_str(), fmt(p.events.max).c_str());
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  if (out.empty()) {
    if (p.others.empty()) return "other processes' CPU not recorded";
    std::snprintf(buf, sizeof buf,
                  "other processes stayed under %.2f core and the regime held: the spread is "
                  "the run's own; more repetitions narrow it",
                  kBusyOthersCores);
    out = buf;
  }
  return out;
}

}  // namespace

double Spread::half_width() const {
  if (n == 0 || std::isnan(lo) || median == 0) return std::numeric_limits<double>::infinity();
  return std::max(median - lo, hi - median) / std::fabs(median);
}

Spread spread_of(std::vector<double> values) {
  Spread s;
  s.n = values.size();
  if (values.empty()) {
    s.lo = s.hi = s.median = s.min = s.max = kNaN;
    return s;
  }
  std::sort(values.begin(), values.end());
  s.median = stats::median(values);
  s.min = values.front();
  s.max = values.back();
  if (s.n >= 2) {
    const stats::Interval in = stats::median_interval(values, kLevel);
    s.lo = in.lo;
    s.hi = in.hi;
    s.coverage = in.coverage;
  } else {
    s.lo = s.hi = kNaN;
  }
  return s;
}

PointSpread resolve(std::string name, const std::map<std::string, std::vector<double>>& values,
                    double precision) {
  PointSpread p;
  p.name = std::move(name);
  for (const char* f : kIntervalFigures)
    if (const auto it = values.find(f); it != values.end() && !it->second.empty())
      p.figures[f] = spread_of(it->second);
  if (const auto it = values.find(kOthersCounter); it != values.end()) p.others = it->second;
  if (const auto it = values.find(kCpuCounter); it != values.end()) p.cpu = it->second;
  if (const auto it = values.find(kEventsCounter); it != values.end())
    p.events = spread_of(it->second);

  const auto cpu = p.figures.find(kCpuCounter);
  const auto thr = p.figures.find(kThroughputCounter);
  if (cpu == p.figures.end() || thr == p.figures.end()) {
    p.why = "no CPU per request or throughput in its repetitions";
    return p;
  }
  const size_t n = std::min(cpu->second.n, thr->second.n);
  if (n < kMinRepetitions) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%zu repetitions: a 95%% interval needs at least %zu", n,
                  kMinRepetitions);
    p.why = buf;
    return p;
  }
  std::string wide;
  for (const auto* f : {&*cpu, &*thr})
    if (!(f->second.half_width() <= precision))
      wide += (wide.empty() ? "" : ", ") + describe(f->first, f->second);
  p.resolved = wide.empty();
  if (!p.resolved) p.why = wide + "; " + causes(p);
  return p;
}

std::string rank_against(const std::vector<RankEntry>& entries, const std::string& reference) {
  struct Entry {
    std::string model;
    double ratio, lo, hi;
  };
  // place -> model -> its repetitions' CPU per request, places in the order seen
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, const std::vector<double>*>> cells;
  for (const RankEntry& e : entries) {
    if (cells.count(e.place) == 0) order.push_back(e.place);
    cells[e.place][e.model] = &e.cpu;
  }
  const auto usable = [](const std::vector<double>* cpu) {
    return cpu->size() >= kMinRankRepetitions &&
           std::all_of(cpu->begin(), cpu->end(), [](double v) { return v > 0; });
  };
  std::string out;
  for (const std::string& place : order) {
    const auto& models = cells[place];
    const auto ref = models.find(reference);
    if (ref == models.end() || !usable(ref->second) || models.size() < 2) continue;
    std::vector<double> base;
    for (double v : *ref->second) base.push_back(std::log(v));
    std::vector<Entry> cheaper, tie, dearer;
    for (const auto& [model, cpu] : models) {
      if (model == reference || !usable(cpu)) continue;
      std::vector<double> logs;
      for (double v : *cpu) logs.push_back(std::log(v));
      const stats::Shift s = stats::shift_between(base, logs, kLevel);
      if (s.interval.coverage < kLevel) continue;
      Entry e{model, std::exp(s.estimate), std::exp(s.interval.lo), std::exp(s.interval.hi)};
      (e.hi < 1 ? cheaper : e.lo > 1 ? dearer : tie).push_back(e);
    }
    if (cheaper.empty() && tie.empty() && dearer.empty()) continue;
    out += "  " + place + ":\n";
    for (auto* group : {&cheaper, &tie, &dearer}) {
      if (group->empty()) continue;
      std::sort(group->begin(), group->end(),
                [](const Entry& a, const Entry& b) { return a.ratio < b.ratio; });
      out += group == &cheaper ? "    cheaper:" : group == &tie ? "    tie:    " : "    dearer: ";
      for (size_t i = 0; i < group->size(); ++i) {
        const Entry& e = (*group)[i];
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s %s %.2f [%.2f, %.2f]", i ? "," : "", e.model.c_str(),
                      e.ratio, e.lo, e.hi);
        out += buf;
      }
      out += "\n";
    }
  }
  return out;
}

bool PairedRatio::has_interval() const { return s.n >= 2 && !std::isnan(s.lo); }
bool PairedRatio::decided() const { return has_interval() && s.n >= kMinRepetitions; }
int PairedRatio::side_of(double bar) const { return s.hi < bar ? -1 : s.lo > bar ? 1 : 0; }

PairedRatio paired_ratio(const std::vector<double>& num, const std::vector<double>& den) {
  std::vector<double> r;
  for (size_t k = 0; k < std::min(num.size(), den.size()); ++k)
    if (den[k] > 0) r.push_back(num[k] / den[k]);
  return {spread_of(std::move(r))};
}

std::string paired_ratio_text(const PairedRatio& r) {
  char buf[96];
  if (r.has_interval())
    std::snprintf(buf, sizeof buf, "%.2f [%.2f, %.2f]", r.s.median, r.s.lo, r.s.hi);
  else
    std::snprintf(buf, sizeof buf, "%.2f", r.s.median);
  return buf;
}

nlohmann::json paired_ratio_json(const PairedRatio& r, const std::string& verdict) {
  const auto or_null = [](double x) {
    return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x);
  };
  return {{"median", r.s.median},
          {"lo", or_null(r.s.lo)},
          {"hi", or_null(r.s.hi)},
          {"coverage", r.s.coverage},
          {"verdict", verdict}};
}

}  // namespace iomodels
