// Description: child processes (process.h): fork and exec with the exec's
// failure reported through a CLOEXEC pipe, a deadline-bounded reap that stops
// the child's process group, the PATH search and the /proc/PID/stat reader.
//
// These calls are not counted in the syscall counters: they are made outside
// any measured window, and what a forked child counts is lost with it anyway.
#include "sys/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sys/time.h"

extern char** environ;

namespace iomodels::sys {
namespace {

// The environment spawn() hands to execve: `base` with `add` on top, each
// entry of `add` replacing a variable of the same name.
std::vector<std::string> merged_environment(const std::vector<std::string>& base,
                                            const std::vector<std::string>& add) {
  std::vector<std::string> env;
  for (const std::string& e : base) {
    const std::string name = e.substr(0, e.find('=') + 1);
    const bool replaced = std::any_of(add.begin(), add.end(), [&](const std::string& a) {
      return a.compare(0, name.size(), name) == 0;
    });
    if (!replaced) env.push_back(e);
  }
  env.insert(env.end(), add.begin(), add.end());
  return env;
}

std::vector<char*> pointers_to(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (std::string& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Makes `fd` the child's descriptor `target` (in the child: system calls only).
void install_stdio(int fd, int target) {
  if (fd < 0) return;
  if (fd == target)
    ::fcntl(fd, F_SETFD, 0);  // dup2 onto itself would leave FD_CLOEXEC set
  else
    ::dup2(fd, target);
}

// systemd's first passed descriptor (SD_LISTEN_FDS_START).
constexpr int kListenFd = 3;

// Writes `v` in decimal at `at`, NUL-terminated (in the child: no allocation).
void write_decimal(char* at, long v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) *at++ = digits[--n];
  *at = '\0';
}

// Sends `sig` to the process group `pid` leads, or to `pid` alone when it
// leads none (no group has its id then).
void signal_group(pid_t pid, int sig) {
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

// Whether child `pid` has exited (or the wait failed) by `deadline_ns`. It is
// not reaped here: wait4 in reap() does that and takes its rusage.
bool exited_by(pid_t pid, uint64_t deadline_ns) {
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  for (;;) {
    const uint64_t now = monotonic_ns();
    if (now >= deadline_ns) return false;
    // At most a second per wait, so a clock that jumps is noticed soon.
    const int ms = static_cast<int>(std::min<uint64_t>((deadline_ns - now) / 1'000'000 + 1, 1000));
    if (pidfd) {
      pollfd p{pidfd.get(), POLLIN, 0};
      const int n = ::poll(&p, 1, ms);
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return true;
      continue;
    }
    // No pidfd (before Linux 5.3): ask waitid every 10 ms instead.
    siginfo_t si{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
    if (si.si_pid == pid) return true;
    const timespec pause{0, 10'000'000};
    ::nanosleep(&pause, nullptr);
  }
}

}  // namespace

long Child::start() {
  if (started_ != 1) return started_;
  if (go_) {
    long n;
    do {
      n = ::write(go_.get(), "g", 1);
    } while (n < 0 && errno == EINTR);
    go_.reset();
  }
  int exec_errno = 0;
  long n;
  do {
    n = ::read(exec_report_.get(), &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  exec_report_.reset();
  started_ = n == static_cast<long>(sizeof exec_errno) ? -exec_errno : 0;
  return started_;
}

long spawn(const std::vector<std::string>& argv, const SpawnOptions& o, Child* out) {
  *out = Child();
  // Everything the child needs is made before the fork: after it, in a
  // process that may have other threads, the child only makes system calls.
  std::vector<std::string> args = argv;
  std::vector<char*> arg_ptrs = pointers_to(args);
  std::vector<std::string> env;
  const bool activate = o.listen_fd >= 0;
  if (activate) {
    const auto is3 = [](int fd) { return fd == kListenFd; };
    if (std::any_of(o.keep_fds.begin(), o.keep_fds.end(), is3) || is3(o.stdin_fd) ||
        is3(o.stdout_fd) || is3(o.stderr_fd))
      return -EINVAL;
  }
  const bool own_env = o.environment || !o.env_add.empty() || activate;
  if (own_env) {
    std::vector<std::string> base;
    if (o.environment) {
      base = *o.environment;
    } else {
      for (char** e = environ; *e != nullptr; ++e) base.emplace_back(*e);
    }
    std::vector<std::string> add = o.env_add;
    if (activate) {
      add.push_back("LISTEN_FDS=1");
      add.push_back("LISTEN_FDNAMES=" + o.listen_fd_name);
      // Room for any pid; the child writes its own in and ends the string there.
      add.push_back("LISTEN_PID=" + std::string(20, '0'));
    }
    env = merged_environment(base, add);
  }
  std::vector<char*> env_ptrs = pointers_to(env);
  char* listen_pid = nullptr;  // the digits of LISTEN_PID=, in env
  for (std::string& e : env)
    if (activate && e.rfind("LISTEN_PID=", 0) == 0) listen_pid = e.data() + 11;

  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return -errno;
  Fd report_r(p[0]), report_w(p[1]);
  Fd go_r, go_w;
  if (o.hold) {
    if (::pipe2(p, O_CLOEXEC) < 0) return -errno;
    go_r.reset(p[0]);
    go_w.reset(p[1]);
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    if (o.own_group) ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, o.death_signal);
    // The parent died before the request was made: it would never come.
    if (::getppid() != parent) ::_exit(127);
    if (o.default_signals) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::signal(SIGINT, SIG_DFL);
    }
    if (o.ignore_sigint) ::signal(SIGINT, SIG_IGN);
    install_stdio(o.stdin_fd, 0);
    install_stdio(o.stdout_fd, 1);
    install_stdio(o.stderr_fd, 2);
    for (int fd : o.keep_fds) ::fcntl(fd, F_SETFD, 0);
    if (activate) {
      install_stdio(o.listen_fd, kListenFd);
      write_decimal(listen_pid, ::getpid());
    }
    if (o.hold) {
      char go;
      while (::read(go_r.get(), &go, 1) < 0 && errno == EINTR) {
      }
    }
    if (o.search_path && !own_env)
      ::execvp(arg_ptrs[0], arg_ptrs.data());
    else if (o.search_path)
      ::execvpe(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    else
      ::execve(arg_ptrs[0], arg_ptrs.data(), own_env ? env_ptrs.data() : environ);
    const int e = errno;
    [[maybe_unused]] auto n = ::write(report_w.get(), &e, sizeof e);
    ::_exit(127);
  }
  // Also here: whichever runs first, the group exists before the parent
  // signals it. EACCES once the child has exec'd is harmless: it made it.
  if (o.own_group) ::setpgid(pid, pid);
  out->pid_ = pid;
  out->go_ = std::move(go_w);
  out->exec_report_ = std::move(report_r);
  report_w.reset();  // only the child's copy keeps it open, until its exec
  if (!o.hold) out->start();
  return 0;
}

int exit_code(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

long reap(pid_t pid, uint64_t deadline_ns, uint64_t term_grace_ns, ExitInfo* out) {
  *out = ExitInfo();
  if (deadline_ns != 0 && !exited_by(pid, deadline_ns)) {
    out->timed_out = true;
    if (term_grace_ns == 0) {
      signal_group(pid, SIGKILL);
    } else {
      signal_group(pid, SIGTERM);
      if (!exited_by(pid, monotonic_ns() + term_grace_ns)) signal_group(pid, SIGKILL);
    }
  }
  while (::wait4(pid, &out->status, 0, &out->usage) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string find_executable(const std::string& name, NotExecutable* why) {
  NotExecutable unused;
  NotExecutable& w = why != nullptr ? *why : unused;
  w = NotExecutable();
  using Reason = NotExecutable::Reason;
  const auto runnable = [&](const std::string& p) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      w = {Reason::kStat, errno};
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      w = {Reason::kNotRegular, 0};
      return false;
    }
    if (::access(p.c_str(), X_OK) != 0) {
      w = {Reason::kNoPermission, 0};
      return false;
    }
    return true;
  };
  if (name.find('/') != std::string::npos) return runnable(name) ? name : "";
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";  // an empty entry means the current directory
    if (const std::string full = dir + "/" + name; runnable(full)) {
      w = NotExecutable();
      return full;
    }
    start = end + 1;
  }
  w = {Reason::kNotOnPath, 0};
  return "";
}

long cpu_ns_of(pid_t pid) {
  if (pid <= 0) return -ESRCH;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  Fd f(::open(path, O_RDONLY | O_CLOEXEC));
  if (!f) return -errno;
  char buf[1024];
  long n;
  do {
    n = ::read(f.get(), buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return n < 0 ? -errno : -ENOENT;
  buf[n] = '\0';
  // The name (field 2) is in parentheses and may hold spaces or ')': the
  // fields that follow start after the last ')'.
  const char* s = std::strrchr(buf, ')');
  if (s == nullptr) return -EINVAL;
  ++s;
  uint64_t utime = 0, stime = 0;
  // Field 3 (state) is the first after the name; utime and stime are 14 and 15.
  for (int field = 3; field <= 15; ++field) {
    while (*s == ' ') ++s;
    if (*s == '\0') return -EINVAL;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (field == 14) utime = v;
    if (field == 15) stime = v;
    s = end;
    while (*s != '\0' && *s != ' ') ++s;  // the rest of a field that is not a number
  }
  const uint64_t ns_per_tick = 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  return static_cast<long>((utime + stime) * ns_per_tick);
}

}  // namespace iomodels::sys
