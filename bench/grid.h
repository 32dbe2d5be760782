// Description: the benchmark grid (model × transport × connections × size ×
// latency) registered with Google Benchmark: one benchmark per point, one
// iteration = every connection completes `requests_per_iteration` requests
// in the scenario's pattern (free-running by default, as `iomodels run`).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run/session.h"
#include "run/slowdown.h"

namespace iomodels::bench {

// What to register. `base` carries the run options (timeout, pool threads,
// verify, seed, ...) shared by every point.
struct Grid {
  std::vector<std::string> models;
  std::vector<Transport> transports;
  std::vector<uint32_t> connections;
  std::vector<uint32_t> sizes;
  std::vector<LatencySpec> latencies;
  uint64_t requests_per_iteration = 8;
  Scenario base;
  // For testing `iomodels compare` only: the model named here burns this many
  // percent more CPU per request (set from IOMODELS_TEST_SLOWDOWN=MODEL:PCT).
  std::string slow_model;
  double slow_percent = 0;
};

// Grid::slow_model from the value of kSlowdownEnv (run/slowdown.h): nothing
// when unset; throws frontend::UsageError on a malformed value.
void parse_test_slowdown(const char* value, Grid* g);

// "<model>/<transport>/conns:<N>/size:<B>/lat_us:<L>", then
// "/jitter:uniform:<A>-<B>" or "/jitter:exp" for a latency that is not
// constant (LatencySpec::name_part), "/rate:<R>" in
// open loop and "/lockstep" for that pattern. Google Benchmark
// appends "/process_time/real_time/threads:1" to it in its reports.
std::string benchmark_name(const Scenario& sc);
// The suffix Google Benchmark appends to every name registered here.
inline constexpr const char* kNameSuffix = "/process_time/real_time/threads:1";

// Registers every point of the grid, in order (model outermost, latency
// innermost) and returns their names.
std::vector<std::string> register_grid(const Grid& grid);

// Sets how often the next RunSpecifiedBenchmarks repeats the point whose run
// name (with kNameSuffix) is `run_name`, over --benchmark_repetitions; false
// for a name register_grid did not register.
bool set_repetitions(const std::string& run_name, int n);

// Called with its name when a benchmark starts running after another one
// (not on each of its iteration-count trials or consecutive repetitions):
// once per benchmark, or once per repetition when they are interleaved.
void on_benchmark_start(std::function<void(const std::string&)> hook);

// Closes the session kept open for the last benchmark (its peer and fds).
void close_sessions();

// {name: latency spectrum of the reported (last) run}, for --latency-out.
const nlohmann::json& spectra();
// Benchmarks that were skipped (not applicable) or failed: {name: reason}.
const std::vector<std::pair<std::string, std::string>>& skipped();

}  // namespace iomodels::bench
