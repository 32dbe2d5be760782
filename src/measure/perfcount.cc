// Description: perf_event_open counters of another process tree (see
// perfcount.h).
#include "measure/perfcount.h"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "measure/recorder.h"

namespace iomodels {
namespace {

constexpr const char* kTracefsDirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
constexpr const char* kSysEnterId = "/events/raw_syscalls/sys_enter/id";

int perf_open(uint32_t type, uint64_t config, pid_t pid) {
  perf_event_attr a{};
  a.size = sizeof a;
  a.type = type;
  a.config = config;
  a.disabled = 1;
  a.enable_on_exec = 1;
  a.inherit = 1;
  a.exclude_hv = 1;
  return static_cast<int>(::syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

std::string perf_refusal(int err, const char* what) {
  std::string s = std::string("perf_event_open(") + what + "): " + std::strerror(err);
  if (err == EACCES || err == EPERM) {
    int level = 0;
    if (FILE* f = std::fopen("/proc/sys/kernel/perf_event_paranoid", "r")) {
      if (std::fscanf(f, "%d", &level) != 1) level = 0;
      std::fclose(f);
      s += " (kernel.perf_event_paranoid is " + std::to_string(level) +
           "; root, or a lower setting, may count)";
    }
  }
  return s;
}

uint64_t read_id(const char* dir) {
  const std::string path = std::string(dir) + kSysEnterId;
  uint64_t id = 0;
  if (FILE* f = std::fopen(path.c_str(), "re")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1) id = v;
    std::fclose(f);
  }
  return id;
}

// In a child with a mount namespace of its own: tracefs mounted there only,
// the id read and handed back through a pipe. The namespace ends with it.
uint64_t id_from_private_tracefs(std::string* why) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) {
    *why = std::string("pipe: ") + std::strerror(errno);
    return 0;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    *why = std::string("fork: ") + std::strerror(errno);
    ::close(p[0]);
    ::close(p[1]);
    return 0;
  }
  if (pid == 0) {
    ::close(p[0]);
    uint64_t id = 0;
    int err = 0;
    if (::unshare(CLONE_NEWNS) < 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
        ::mount("tracefs", kTracefsDirs[0], "tracefs", 0, nullptr) < 0) {
      err = errno;
    } else {
      id = read_id(kTracefsDirs[0]);
    }
    const uint64_t msg[2] = {id, static_cast<uint64_t>(err)};
    [[maybe_unused]] auto w = ::write(p[1], msg, sizeof msg);
    ::_exit(0);
  }
  ::close(p[1]);
  uint64_t msg[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(p[0], msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  ::close(p[0]);
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof msg) || msg[0] == 0) {
    *why = "tracefs is not mounted, and mounting it privately failed" +
           (msg[1] != 0 ? std::string(": ") + std::strerror(static_cast<int>(msg[1])) : "") +
           " (as root: mount -t tracefs nodev /sys/kernel/tracing)";
    return 0;
  }
  return msg[0];
}

}  // namespace

uint64_t syscall_tracepoint_id(std::string* why) {
  for (const char* dir : kTracefsDirs)
    if (const uint64_t id = read_id(dir); id != 0) return id;
  return id_from_private_tracefs(why);
}

bool ProcessCounters::open(pid_t pid, bool syscalls, std::string* why) {
  cpu_.reset(perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, pid));
  if (!cpu_) {
    *why = perf_refusal(errno, "task-clock");
    return false;
  }
  ctx_.reset(perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES, pid));
  if (!ctx_) {
    *why = perf_refusal(errno, "context-switches");
    cpu_.reset();
    return false;
  }
  if (!syscalls) {
    syscalls_why_ = "--count-syscalls off";
    return true;
  }
  std::string idwhy;
  const uint64_t id = syscall_tracepoint_id(&idwhy);
  if (id == 0) {
    syscalls_why_ = idwhy;
    return true;
  }
  syscalls_.reset(perf_open(PERF_TYPE_TRACEPOINT, id, pid));
  if (!syscalls_) syscalls_why_ = perf_refusal(errno, "raw_syscalls:sys_enter");
  return true;
}

CounterSample ProcessCounters::read() const {
  CounterSample s;
  s.t_ns = now_ns();
  const auto value = [](const Fd& fd) -> uint64_t {
    uint64_t v = 0;
    if (fd && ::read(fd.get(), &v, sizeof v) != static_cast<ssize_t>(sizeof v)) v = 0;
    return v;
  };
  s.cpu_ns = value(cpu_);
  s.ctx = value(ctx_);
  s.syscalls = value(syscalls_);
  return s;
}

}  // namespace iomodels
