// Description: a calibrate sample as JSON.
#include "calibrate/sample.h"

namespace iomodels::calibrate {

nlohmann::json sample_json(const Sample& s) {
  nlohmann::json j = {
      {"ops_per_s", s.ops_per_s},         {"p50_us", s.p50_us}, {"p99_us", s.p99_us},
      {"cpu_us_per_op", s.cpu_us_per_op}, {"ops", s.ops},       {"wall_s", s.wall_s}};
  for (const auto& [k, v] : s.extra.items()) j[k] = v;
  return j;
}

}  // namespace iomodels::calibrate
