// Description: what a run of a program under `run --exec` adds to its result
// (ScenarioResult::exec), apart from how the program is run (run/exec.h), so
// that the figures can report it without depending on the runner.
#pragma once

#include <cstdint>
#include <string>

namespace iomodels {

// How often the kernel's counters of a program are read while it runs; the
// window's ends fall between two readings and are interpolated.
inline constexpr int kExecSampleMs = 5;
// A measurement window of fewer readings than this is too short for its CPU
// and syscalls per request to count: a warning says so.
inline constexpr int kExecMinSamples = 20;

// What only a program run under --exec has (ScenarioResult::exec).
struct ExecRun {
  std::string command;
  std::string quadrant;  // as ExecSpec::quadrant
  // Empty when the kernel's counters covered the measurement window; else
  // why not, and the CPU and context switches are the program's whole life.
  std::string counters_why;
  std::string syscalls_why;  // empty when syscalls were counted
  uint64_t reported = 0;     // latencies the program reported (IOMODELS_REPORT_FD)
  double life_s = 0;         // from its exec to its exit
  double life_cpu_s = 0;     // CPU over that whole life (rusage)
  double startup_s = 0;      // from its exec to the peer's first request
  bool leftovers = false;    // processes of its group still ran when it exited (killed)
  // The server role: how it ended after the window ("was stopped by SIGTERM
  // once its connections closed"); empty in the client role.
  std::string ended;
};

}  // namespace iomodels
