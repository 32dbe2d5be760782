// Description: calibrate's statistics: medians of each side's samples, the
// ratio iomodels ÷ tool (of the medians, and pair by pair with its
// interval), and whether a row meets its goal.
#pragma once

#include <string>
#include <vector>

#include "calibrate/sample.h"
#include "measure/resolution.h"

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

// iomodels ÷ tool pair by pair (sample k of each side ran back to back), per
// figure: the median of the pairs' ratios with its 95% interval.
struct PairedRatios {
  PairedRatio ops_per_s, p50_us, p99_us, cpu_us_per_op;
};
PairedRatios paired_ratios(const std::vector<Sample>& ours, const std::vector<Sample>& theirs);

// "higher" | "lower" (the interval lies wholly above or below 1) | "tie";
// "none" with fewer than kMinRepetitions pairs.
std::string paired_word(const PairedRatio& r);

// A goal judged by the paired ratio's interval against the goal's bar: met
// when the interval lies wholly on the goal's side of it, not met when wholly
// on the other, undecided when it holds the bar. With fewer than
// kMinRepetitions pairs there is no 95% interval: judged by the medians'
// ratio, and said so.
struct GoalVerdict {
  bool met = false;
  std::string word;  // "met" | "NOT met" | "undecided: ..." | "... on the medians alone (...)"
  std::string by;    // "interval" | "medians"
};
GoalVerdict judge_goal(Goal goal, const PairedRatios& r, const Medians& ours,
                       const Medians& theirs);

// The four medians as a JSON object, keyed as a sample.
nlohmann::json medians_json(const Medians& m);

}  // namespace iomodels::calibrate
