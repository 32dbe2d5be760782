// Description: medians, ratios and goals of calibrate's comparisons.
#include "calibrate/stats.h"

#include <algorithm>

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

nlohmann::json medians_json(const Medians& m) {
  return {{"ops_per_s", m.ops_per_s},
          {"p50_us", m.p50_us},
          {"p99_us", m.p99_us},
          {"cpu_us_per_op", m.cpu_us_per_op}};
}

}  // namespace iomodels::calibrate
