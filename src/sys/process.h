// Description: child processes: spawn() forks and execs a program in a
// process group of its own that dies with its parent, reap() waits for it
// until a deadline and then stops its group, find_executable() searches PATH,
// and cpu_ns_of() reads a process's CPU time from /proc/PID/stat.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sys/fd.h"

namespace iomodels::sys {

struct SpawnOptions {
  // Made the child's stdin, stdout and stderr (dup2); -1 leaves the one it
  // inherits. The same descriptor may be given for several.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Descriptors the program keeps open across exec (their FD_CLOEXEC is
  // cleared in the child only).
  std::vector<int> keep_fds;
  // The program's whole environment when set; otherwise this process's.
  std::optional<std::vector<std::string>> environment;
  // "NAME=value" entries added to that environment, each replacing a
  // variable of the same name.
  std::vector<std::string> env_add;
  // argv[0] without a '/' is looked up on PATH (execvp); otherwise it is
  // run as given (execve).
  bool search_path = true;
  // A process group of its own (pid = group id), so that reap() and a
  // caller's kill(-pid) stop whatever the program starts in turn. Off, the
  // child stays in this process's group and gets its terminal's signals.
  bool own_group = true;
  // The child starts with no signal blocked and with SIGPIPE and SIGINT at
  // their defaults, whatever this process had set.
  bool default_signals = false;
  // The signal the child gets when this process dies (PR_SET_PDEATHSIG).
  // SIGKILL leaves nothing running; SIGTERM lets a child that cleans up
  // after itself do so. The kernel sends it when the thread that called
  // spawn() ends, so call it from a thread that outlives the child.
  int death_signal = SIGKILL;
  // The child ignores SIGINT: a Ctrl-C that reaches this process's group is
  // then this process's alone to act on.
  bool ignore_sigint = false;
  // The child waits before exec until Child::start(), so that the parent can
  // prepare around its pid first: its CPUs (sys::set_affinity(cpus, pid),
  // which its threads and children inherit), its limits (prlimit), counters
  // that count from exec.
  bool hold = false;
  // systemd socket activation (sd_listen_fds(3)): this descriptor becomes the
  // child's fd 3, and its environment gets LISTEN_FDS=1, LISTEN_FDNAMES and
  // LISTEN_PID, the child's own pid (written in the child, after the fork).
  // spawn() refuses (-EINVAL) when a descriptor of keep_fds or stdio is 3.
  int listen_fd = -1;
  std::string listen_fd_name = "iomodels";
};

// A child that spawn() forked. Killing and reaping it is the caller's (see
// reap()); this object only holds the pipes that start it and report its exec.
class Child {
 public:
  pid_t pid() const { return pid_; }
  // Lets a held child go on to exec, then waits until it has: 0 once the
  // program runs, or -errno why exec failed (the child then exits with 127
  // and still needs reaping). Later calls return the same result.
  long start();

 private:
  friend long spawn(const std::vector<std::string>& argv, const SpawnOptions& options, Child* out);
  pid_t pid_ = -1;
  Fd go_;             // held: a byte written here lets the child exec
  Fd exec_report_;    // end of file once exec succeeded; its errno otherwise
  long started_ = 1;  // 1: not yet known
};

// Forks and execs argv (not empty) as `options` say. The child dies with
// this process (PR_SET_PDEATHSIG, options.death_signal), also if this
// process died before the child could ask for it (it then exits with 127).
// Returns 0 with *out's pid set, or -errno from pipe2 or fork (no child
// then). Unless options.hold, the exec has already been waited for:
// out->start() returns its result.
long spawn(const std::vector<std::string>& argv, const SpawnOptions& options, Child* out);

// How a child ended, as reap() found it.
struct ExitInfo {
  int status = 0;          // as wait4 gives it
  rusage usage{};          // its whole life: every thread, and descendants it reaped
  bool timed_out = false;  // the deadline passed and reap() stopped it
};

// WEXITSTATUS, or 128 + the signal that ended it, as a shell reports it.
int exit_code(int wait_status);

// Waits for child `pid` until `deadline_ns` (CLOCK_MONOTONIC nanoseconds, the
// clock of measure's now_ns(); 0 waits for ever). Past it, SIGTERM goes to
// its process group (to it alone if it leads none), and SIGKILL follows
// `term_grace_ns` later (at once when 0). It is reaped in every case, so no
// zombie is left. Returns 0, or -errno from wait4 (e.g. ECHILD).
long reap(pid_t pid, uint64_t deadline_ns, uint64_t term_grace_ns, ExitInfo* out);

// Why find_executable() found nothing.
struct NotExecutable {
  enum class Reason {
    kNone,
    kStat,          // a name with a '/': stat failed, with `stat_errno`
    kNotRegular,    // a name with a '/': a directory, a device, ...
    kNoPermission,  // a name with a '/': a regular file without execute permission
    kNotOnPath,     // no directory on PATH holds an executable of that name
  };
  Reason reason = Reason::kNone;
  int stat_errno = 0;
};

// The path of this process's own executable (/proc/self/exe); empty if the
// kernel cannot say.
std::string self_executable();

// The executable regular file `name` would run as: itself if it has a '/',
// else the first match on PATH (or /usr/local/bin:/usr/bin:/bin when PATH is
// unset); empty if there is none, and then *why (when given) says why.
std::string find_executable(const std::string& name, NotExecutable* why = nullptr);

// utime + stime of process `pid` so far, in nanoseconds (/proc/PID/stat, in
// clock ticks), or -errno (-ENOENT once it is gone and reaped).
long cpu_ns_of(pid_t pid);

}  // namespace iomodels::sys
