// Description: the figures every frontend reports, derived in one place from
// a measurement, and a result as JSON (the scenario, the environment, the
// figures, the latency spectrum and the peer's own statistics).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "measure/histogram.h"
#include "measure/recorder.h"
#include "models/model.h"

namespace iomodels {

struct Scenario;
struct ScenarioResult;

// Per request, per second and the latency percentiles (microseconds). A
// figure whose part of the harness was switched off is absent, not 0: the
// latency percentiles without the histogram (has_latency), the syscall, EAGAIN
// and io_uring_enter counts without the counters (has_syscalls).
struct Figures {
  bool has_latency = true, has_syscalls = true;
  double requests_per_s = 0, bytes_per_s = 0;
  double cpu_util = 0, cpu_us_per_req = 0, user_us_per_req = 0, sys_us_per_req = 0;
  double syscalls_per_req = 0, eagain_per_req = 0, uring_enter_per_req = 0, ctx_per_req = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};
Figures figures(const Measurement& m, const Histogram& h, uint64_t requests, uint64_t bytes,
                const RunOptions& run = {});

nlohmann::json environment_json();
nlohmann::json scenario_json(const Scenario& sc);
nlohmann::json spectrum_json(const Histogram& h);
nlohmann::json result_json(const Scenario& sc, const ScenarioResult& r);

}  // namespace iomodels
