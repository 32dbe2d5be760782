// Description: running fio and sockperf for calibrate: finding them on PATH,
// starting them in process groups of their own with a time limit, and
// removing what an interrupted run leaves behind (children, the data file).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sys/process.h"

namespace iomodels::calibrate {

// A tool that outlives its budget by this much is killed and reported.
inline constexpr uint64_t kToolGraceNs = 60'000'000'000ull;

// --- cleanup on every exit path, signals included ---------------------------

// Owns the data file (when calibrate made it) and the signal handlers. On
// SIGINT, SIGTERM or SIGHUP the tools spawn() started are killed and the data
// file is removed before the signal takes its default course. One at a time.
class Cleanup {
 public:
  Cleanup();
  ~Cleanup();
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;

  void own_data_file(const std::string& path);

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction old_[3];
};

// For a child of spawn() that its caller waited for itself (waitpid): the
// signal handler must no longer kill its (reused) process group.
void forget_child(pid_t pid);

// --- running a tool -----------------------------------------------------------

struct ToolRun {
  int exit_code = -1;  // or 128 + signal
  bool timed_out = false;
  std::string out, err;
  double user_s = 0, sys_s = 0;  // the child's rusage from wait4: its whole life
  double wall_s = 0;
};

// Everything written to the memory file `fd`, from its start.
std::string read_memfd(int fd);

// argv joined with spaces, as the JSON reports the command.
std::string command_text(const std::vector<std::string>& argv);

// Starts argv (sys::spawn) with stdout and stderr in memory files, stdin
// /dev/null, in a process group of its own (pid = group id). The child dies
// with this process (PR_SET_PDEATHSIG). If exec fails, the child exits with
// 127 and `err_fd` says why. Returns the pid or -errno.
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd);

// Waits for `pid` at most until `deadline_ns` (then kills it); its rusage.
void reap(pid_t pid, uint64_t deadline_ns, ToolRun* r);

// Runs argv to completion (at most `limit_ns`), capturing its output.
ToolRun run_tool(const std::vector<std::string>& argv, uint64_t limit_ns);

// The first line of `text` that says something, for a one-line error.
std::string first_line(const std::string& text);

// "fio exited with 1: <first line of its output>", or that it was killed.
std::string tool_failure(const std::string& tool, const ToolRun& r);

// The executable `name` would run as (sys/process.h).
using sys::find_executable;

// The first line `exe --version` prints.
std::string tool_version(const std::string& exe);

}  // namespace iomodels::calibrate
