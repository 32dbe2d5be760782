// Description: the demo's race: three downloads asked for in the order A, B,
// C from devices of different latencies, finished in the order their data
// came, once with callbacks and once with co_await.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "run/session.h"

namespace iomodels::cli {

// One way of waiting for the three, and the order they finished in.
struct RaceRun {
  std::string how;              // "callbacks (epoll)" or "co_await (three tasks)"
  std::string order;            // names in the order finished, e.g. "BCA"
  std::vector<double> sent_ms;  // per download (A, B, C): when its request left
  std::vector<double> done_ms;  // per download (A, B, C): when its data was used
  Status status;
};

struct Race {
  std::array<uint64_t, 3> latency_ns{};  // A, B, C: 3, 1 and 2 thirds of --latency
  RaceRun callbacks, awaits;
};

// Runs the race twice on sc's transport and size, each download on a peer of
// its own. sc.workload.latency must be a fixed latency of at least 3 ms.
Race run_race(const Scenario& sc);

}  // namespace iomodels::cli
