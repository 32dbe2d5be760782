// Description: turning a result into the one-screen summary and into JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "run/scenario.h"

namespace iomodels::cli {

// The per-request figures every frontend reports, derived in one place.
struct Figures {
  double requests_per_s = 0, bytes_per_s = 0;
  double cpu_util = 0, cpu_us_per_req = 0, user_us_per_req = 0, sys_us_per_req = 0;
  double syscalls_per_req = 0, eagain_per_req = 0, uring_enter_per_req = 0, ctx_per_req = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};
Figures figures(const Measurement& m, const Histogram& h, uint64_t requests, uint64_t bytes);

nlohmann::json environment_json();
nlohmann::json scenario_json(const Scenario& sc);
nlohmann::json spectrum_json(const Histogram& h);
nlohmann::json result_json(const Scenario& sc, const ScenarioResult& r);
std::string summary_text(const Scenario& sc, const ScenarioResult& r);

}  // namespace iomodels::cli
