// Description: one row of calibrate's report (an iomodels model against one
// tool configuration), its samples, and how it is printed and written as JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calibrate/fio.h"
#include "calibrate/iomodels_side.h"
#include "calibrate/sample.h"
#include "calibrate/sockperf.h"
#include "calibrate/stats.h"
#include "run/session.h"

namespace iomodels::calibrate {

struct Row {
  std::string part;  // "fio" | "sockperf"
  uint32_t qd = 1;
  std::string tool;  // "fio psync, 16 jobs"
  std::string tool_command;
  std::string model;
  std::string compares;  // what the row compares, in words
  Scenario sc;
  FioJob fio;                                   // the fio part only
  SockperfWait sockperf = SockperfWait::kRecv;  // the sockperf part only
  Step step = Step::kBatch;                     // how the iomodels side is driven
  std::vector<Sample> ours, theirs;
  std::string failed;           // why the row has no result
  bool not_applicable = false;  // the kernel lacks a feature: reported, not a failure
  // The goal, if this row has one (goal_text empty: none).
  std::string goal_text;
  Goal goal = Goal::kP50;
};

// The row as text: what it compares, each side's medians, their ratios and
// the goal.
void print_row(const Row& r);

// The row as JSON: its medians, samples, ratios and goal, or why it has none.
nlohmann::json row_json(const Row& r);

}  // namespace iomodels::calibrate
