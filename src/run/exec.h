// Description: `run --exec`: a program that is not iomodels' measured on the
// same workload. The harness starts the peer, then the program with the
// connections and the environment of docs/protocol.md, and measures it from
// outside: its process tree's CPU, context switches and syscalls (the
// kernel's counters, measurement window only), the peer's checks of every
// request and each connection's turnaround, and the latencies the program
// reports itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run/exec_run.h"
#include "run/session.h"
#include "sys/status.h"

namespace iomodels {

struct ExecSpec {
  std::string command;            // as typed, for messages and results
  std::vector<std::string> argv;  // argv[0] is the resolved path that is executed
  bool count_syscalls = true;     // the raw_syscalls:sys_enter counter
  std::string quadrant;           // the user's word for it (quadrant_name), or empty
};

// Splits CMD into words as a shell would (quotes, backslashes, $VARIABLES;
// no command substitution, no redirection) and resolves the first through
// PATH. Status::invalid naming --exec when CMD is empty, cannot be split, or
// names nothing executable.
Status parse_exec_command(const std::string& cmd, ExecSpec* out);
// The name results give the program when --name is not given: the script's
// file name when the program is an interpreter given one (python3
// examples/python/blocking.py: "blocking.py"), else the program's, past an
// `env` and its options and assignments (env -u X python3 a.py: "a.py"). The
// extension stays: it keeps a program apart from the model it mirrors.
std::string exec_default_name(const ExecSpec& spec);

// Runs the program once on sc's workload (a local peer; the frontend
// refuses anything else) and fills *out. The client role: the figures over
// the measurement window from the peer's first request to its last response.
// The server role (exec_server.cc): the program is the server of the load
// generator's schedule; after a warm-up, the window is sc.rounds requests
// per connection, the kernel's counters read at its two edges.
// Errors name what went wrong: the program's exit status or signal, a
// request the peer refused (counted by kind), requests missing, a program
// that made no request for sc.run.timeout_ns (killed, with its process
// group). Status::invalid when the program cannot be started.
Status run_exec(const Scenario& sc, const ExecSpec& spec, ScenarioResult* out);

}  // namespace iomodels
