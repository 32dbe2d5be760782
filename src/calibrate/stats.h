// Description: calibrate's statistics: medians of each side's samples, the
// ratio iomodels ÷ tool, and whether a row meets its goal.
#pragma once

#include <vector>

#include "calibrate/sample.h"

namespace iomodels::calibrate {

// The middle value (the mean of the two middle ones for an even count); 0
// for none.
double median(std::vector<double> v);

struct Medians {
  double ops_per_s = 0, p50_us = 0, p99_us = 0, cpu_us_per_op = 0;
};

// Each figure's median over the samples, figure by figure.
Medians medians(const std::vector<Sample>& s);

// ours ÷ theirs; 0 where the tool's figure is 0.
double ratio(double ours, double theirs);

// What a row's goal asks of iomodels' medians against the tool's.
enum class Goal {
  kOps,  // ops/s ratio >= 1.0
  kP50,  // p50 ratio <= 1.05
};

bool goal_met(Goal goal, const Medians& ours, const Medians& theirs);

// The four medians as a JSON object, keyed as a sample.
nlohmann::json medians_json(const Medians& m);

}  // namespace iomodels::calibrate
