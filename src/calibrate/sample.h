// Description: one measurement of one side of a calibrate comparison
// (iomodels, fio or sockperf), in the figures both sides report.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace iomodels::calibrate {

struct Sample {
  double ops_per_s = 0;
  double p50_us = 0, p99_us = 0;
  double cpu_us_per_op = 0;
  uint64_t ops = 0;
  double wall_s = 0;
  // How this sample was taken (tool figures, peer state).
  nlohmann::json extra = nlohmann::json::object();
};

// The sample's figures, then its extra keys, as one JSON object.
nlohmann::json sample_json(const Sample& s);

}  // namespace iomodels::calibrate
