// Description: calibrate's process runner: spawning a tool in its own process
// group with its output in memory files, reaping it by a deadline, and the
// signal handler that kills the tools and removes the data file.
#include "calibrate/process.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

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
  // stdin is /dev/null: a tool that reads it gets end of file, not the terminal.
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  sys::SpawnOptions o;
  o.stdin_fd = null.get();
  o.stdout_fd = out_fd;
  o.stderr_fd = err_fd;
  sys::Child child;
  if (const long e = sys::spawn(argv, o, &child); e < 0) return static_cast<pid_t>(e);
  remember_child(child.pid());
  // A tool that cannot be run reads as one that said why on its stderr and
  // exited with 127, as a shell reports it.
  if (const long e = child.start(); e < 0) {
    const std::string msg = "cannot run " + argv[0] + ": " + errno_text(e) + "\n";
    (void)!::write(err_fd, msg.data(), msg.size());
  }
  return child.pid();
}

void reap(pid_t pid, uint64_t deadline_ns, ToolRun* r) {
  sys::ExitInfo x;
  sys::reap(pid, deadline_ns, 0, &x);  // past the deadline: SIGKILL to its group at once
  forget_child(pid);
  r->timed_out = x.timed_out;
  r->exit_code = sys::exit_code(x.status);
  r->user_s = x.usage.ru_utime.tv_sec + x.usage.ru_utime.tv_usec / 1e6;
  r->sys_s = x.usage.ru_stime.tv_sec + x.usage.ru_stime.tv_usec / 1e6;
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

std::string tool_version(const std::string& exe) {
  const ToolRun r = run_tool({exe, "--version"}, 10'000'000'000ull);
  return first_line(r.out.empty() ? r.err : r.out);
}

}  // namespace iomodels::calibrate
