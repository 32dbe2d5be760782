// Description: medians, ratios and goals of calibrate's comparisons.
#include "calibrate/stats.h"

#include <algorithm>
#include <cstdio>

namespace iomodels::calibrate {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Medians medians(const std::vector<Sample>& s) {
  auto of = [&](double Sample::*f) {
    std::vector<double> v;
    for (const Sample& x : s) v.push_back(x.*f);
    return median(v);
  };
  return {of(&Sample::ops_per_s), of(&Sample::p50_us), of(&Sample::p99_us),
          of(&Sample::cpu_us_per_op)};
}

double ratio(double ours, double theirs) { return theirs > 0 ? ours / theirs : 0; }

bool goal_met(Goal goal, const Medians& ours, const Medians& theirs) {
  return goal == Goal::kOps ? ratio(ours.ops_per_s, theirs.ops_per_s) >= 1.0
                            : ratio(ours.p50_us, theirs.p50_us) <= 1.05;
}

PairedRatios paired_ratios(const std::vector<Sample>& ours, const std::vector<Sample>& theirs) {
  auto of = [&](double Sample::*f) {
    std::vector<double> a, b;
    for (const Sample& x : ours) a.push_back(x.*f);
    for (const Sample& x : theirs) b.push_back(x.*f);
    return paired_ratio(a, b);
  };
  return {of(&Sample::ops_per_s), of(&Sample::p50_us), of(&Sample::p99_us),
          of(&Sample::cpu_us_per_op)};
}

std::string paired_word(const PairedRatio& r) {
  if (!r.decided()) return "none";
  const int side = r.side_of(1.0);
  return side > 0 ? "higher" : side < 0 ? "lower" : "tie";
}

GoalVerdict judge_goal(Goal goal, const PairedRatios& r, const Medians& ours,
                       const Medians& theirs) {
  const bool ops = goal == Goal::kOps;
  const PairedRatio& p = ops ? r.ops_per_s : r.p50_us;
  const double bar = ops ? 1.0 : 1.05;
  char bar_text[16];
  std::snprintf(bar_text, sizeof bar_text, "%.2f", bar);
  GoalVerdict v;
  if (!p.decided()) {
    v.met = goal_met(goal, ours, theirs);
    v.word = std::string(v.met ? "met" : "NOT met") + " on the medians alone (" +
             std::to_string(p.s.n) + " pairs; " + std::to_string(kMinRepetitions) +
             " give a 95% interval)";
    v.by = "medians";
    return v;
  }
  v.by = "interval";
  // Ops/s: higher is the goal's side; p50: lower.
  const int side = p.side_of(bar) * (ops ? 1 : -1);
  v.met = side > 0;
  v.word = side > 0   ? "met"
           : side < 0 ? "NOT met"
                      : std::string("undecided: the interval holds ") + bar_text +
                            " (more --pairs narrow it)";
  return v;
}

nlohmann::json medians_json(const Medians& m) {
  return {{"ops_per_s", m.ops_per_s},
          {"p50_us", m.p50_us},
          {"p99_us", m.p99_us},
          {"cpu_us_per_op", m.cpu_us_per_op}};
}

}  // namespace iomodels::calibrate
