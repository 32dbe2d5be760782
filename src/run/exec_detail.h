// Description: what the two roles of `run --exec` share (exec.cc the client
// role, exec_server.cc the server role): the program's environment, starting
// it held under the kernel's counters, and the words for how it ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "measure/perfcount.h"
#include "run/scenario.h"
#include "sys/fd.h"
#include "sys/process.h"
#include "workload/workload.h"

namespace iomodels {
struct ExecSpec;  // run/exec.h
}  // namespace iomodels

namespace iomodels::detail {

// The environment of docs/protocol.md (section 1, or the server role's),
// on top of ours and without any IOMODELS_ variable of ours. report_fd < 0:
// none (the server role).
std::vector<std::string> program_environment(const Scenario& sc, const Workload& w, int report_fd);

// The connections' program ends (w.conns()) kept across exec, made blocking.
void hand_connections(const Workload& w, sys::SpawnOptions* so);

// A program started under the kernel's counters (when they open).
struct Program {
  sys::Child child;
  pid_t pid = -1;
  ProcessCounters counters;
  bool counting = false;
  std::string counters_why;  // why not counting
  uint64_t t_exec = 0;       // CLOCK_MONOTONIC right after its exec
  Fd pidfd;                  // readable once it has exited; empty before Linux 5.3
};

// Spawns spec.argv as `so` says (held), on sc's CPUs, opens its counters,
// then lets it exec, as a child subreaper so that what it orphans comes back
// here. Status::invalid when it cannot be started.
Status start_program(const Scenario& sc, const ExecSpec& spec, sys::SpawnOptions so, Program* out);

// Whether the program has exited (without reaping it).
bool program_exited(const Program& p);

// "exited with status 1", "was killed by signal 9 (Killed)".
std::string status_text(int wait_status);

// run_exec in the server role (exec_server.cc).
Status run_exec_server(const Scenario& sc, const ExecSpec& spec, ScenarioResult* out);

// Kills and reaps what the program left in its group; true when there was any.
bool kill_leftovers(pid_t pid);

}  // namespace iomodels::detail
