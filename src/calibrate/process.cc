// Description: calibrate's process runner: spawning a tool in its own process
// group with its output in memory files, reaping it by a deadline, and the
// signal handler that kills the tools and removes the data file.
#include "calibrate/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "measure/recorder.h"
#include "sys/cleanup.h"
#include "sys/fd.h"
#include "sys/status.h"

namespace iomodels::calibrate {
namespace {

// What an interrupted calibration leaves behind: the data file it made and
// the tools it started. Kept in plain storage so the signal handler can use it.
char g_data_path[4096];
std::atomic<pid_t> g_children[2];

void remember_child(pid_t pid) {
  for (auto& c : g_children) {
    pid_t zero = 0;
    if (c.compare_exchange_strong(zero, pid)) return;
  }
}

extern "C" void on_fatal_signal(int sig) {
  // Only async-signal-safe calls: kill, unlink, signal, raise.
  for (auto& c : g_children)
    if (const pid_t p = c.load(); p > 0) ::kill(-p, SIGKILL);
  if (g_data_path[0] != '\0') ::unlink(g_data_path);
  sys::remove_temp_paths_now();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void forget_child(pid_t pid) {
  for (auto& c : g_children) {
    pid_t p = pid;
    c.compare_exchange_strong(p, 0);
  }
}

Cleanup::Cleanup() {
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
}

Cleanup::~Cleanup() {
  if (g_data_path[0] != '\0') ::unlink(g_data_path);
  g_data_path[0] = '\0';
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
}

void Cleanup::own_data_file(const std::string& path) {
  std::snprintf(g_data_path, sizeof g_data_path, "%s", path.c_str());
}

std::string read_memfd(int fd) {
  std::string s;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return s;
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // Its own process group: fio's job processes are stopped with it.
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execvp(args[0], args.data());
    const int e = errno;
    char msg[256];
    const int n = std::snprintf(msg, sizeof msg, "cannot run %s: %s\n", args[0], std::strerror(e));
    if (n > 0) (void)!::write(2, msg, static_cast<size_t>(n));
    ::_exit(127);
  }
  remember_child(pid);
  return pid;
}

void reap(pid_t pid, uint64_t deadline_ns, ToolRun* r) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    for (;;) {
      const uint64_t now = now_ns();
      if (now >= deadline_ns) {
        ::kill(-pid, SIGKILL);
        r->timed_out = true;
        break;
      }
      pollfd p{pidfd, POLLIN, 0};
      const int ms =
          static_cast<int>(std::min<uint64_t>((deadline_ns - now) / 1'000'000 + 1, 1000));
      const int n = ::poll(&p, 1, ms);
      if (n > 0) break;
      if (n < 0 && errno != EINTR) break;
    }
    ::close(pidfd);
  }
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  forget_child(pid);
  r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r->user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  r->sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

ToolRun run_tool(const std::vector<std::string>& argv, uint64_t limit_ns) {
  ToolRun r;
  Fd out(::memfd_create("calibrate-out", MFD_CLOEXEC));
  Fd err(::memfd_create("calibrate-err", MFD_CLOEXEC));
  if (!out || !err) {
    r.err = "memfd_create: " + errno_text(-errno);
    return r;
  }
  const uint64_t t0 = now_ns();
  const pid_t pid = spawn(argv, out.get(), err.get());
  if (pid < 0) {
    r.err = "fork: " + errno_text(pid);
    return r;
  }
  reap(pid, t0 + limit_ns, &r);
  r.wall_s = static_cast<double>(now_ns() - t0) / 1e9;
  r.out = read_memfd(out.get());
  r.err = read_memfd(err.get());
  return r;
}

std::string first_line(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
    start = end + 1;
  }
  return "(no output)";
}

std::string tool_failure(const std::string& tool, const ToolRun& r) {
  if (r.timed_out) return tool + " did not finish in time and was killed";
  return tool + " exited with " + std::to_string(r.exit_code) + ": " +
         first_line(r.err.empty() ? r.out : r.err);
}

std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string full = dir + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
    start = end + 1;
  }
  return "";
}

std::string tool_version(const std::string& exe) {
  const ToolRun r = run_tool({exe, "--version"}, 10'000'000'000ull);
  return first_line(r.out.empty() ? r.err : r.out);
}

}  // namespace iomodels::calibrate
