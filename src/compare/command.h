// Description: `iomodels compare OLD.json NEW.json` (or --old F... --new
// F...): for every benchmark on both sides (`bench --benchmark_out` JSON, or
// `run --json` results) and every figure, the old and new medians, the
// change with the interval of the ratio and a verdict, the Mann-Whitney U
// p-value, a geometric-mean summary, and --fail-on thresholds for a CI gate.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frontend/command.h"

namespace iomodels::compare {

// The figures compared, each with the direction that is better.
struct Figure {
  const char* name;
  bool higher_is_better;
};
const std::vector<Figure>& figures();

// One file's samples: benchmark name -> figure name -> its repetitions.
using Samples = std::map<std::string, std::map<std::string, std::vector<double>>>;

// Reads a bench or run JSON file; throws frontend::UsageError naming `flag`
// and the file when it is neither.
Samples load_samples(const std::string& flag, const std::string& path);

}  // namespace iomodels::compare
