// Description: helpers shared by the tests: skipping with the reason,
// test cases registered per model, scenarios, fd and thread counts, running
// the real binary.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <source_location>
#include <stdexcept>
#include <string>

#include "run/session.h"
#include "sys/fd.h"
#include "sys/process.h"

namespace iomodels::test {

// --- skipping -----------------------------------------------------------------

// The exit code ctest counts as a skip (SKIP_RETURN_CODE in
// tests/CMakeLists.txt; liburing's T_EXIT_SKIP). Catch2 2.13 has no SKIP.
inline constexpr int kSkipExitCode = 77;

// Ends this process as a skipped test: "skipped: <reason>" on stderr, exit
// code 77, no destructor run. ctest runs every test case as a process of its
// own, so exactly that test is counted as skipped (run the binary by hand and
// it stops here, saying why). Only for a mechanism a probe found unavailable: call it
// before the first check, so no failure can be hidden behind the skip.
[[noreturn]] inline void skip(const std::string& reason) {
  std::fflush(stdout);
  std::fprintf(stderr, "skipped: %s\n", reason.c_str());
  std::fflush(stderr);
  std::_Exit(kSkipExitCode);
}

// Skips if the kernel cannot run `m` at all (its unavailable() probe says
// why: io_uring refused by seccomp or sysctl, say). Not for a workload `m`
// does not apply to: that is a refusal the tests check, never a skip.
inline void skip_if_unavailable(const ModelInfo& m) {
  if (m.unavailable == nullptr) return;
  if (const std::string why = m.unavailable(); !why.empty()) skip(std::string(m.name) + ": " + why);
}

// --- one test case per model ---------------------------------------------------

namespace detail {
class PerModelCase final : public Catch::ITestInvoker {
 public:
  PerModelCase(void (*body)(const ModelInfo&), const ModelInfo* m) : body_(body), m_(m) {}
  void invoke() const override { body_(*m_); }

 private:
  void (*body_)(const ModelInfo&);
  const ModelInfo* m_;
};

class PerTransportCase final : public Catch::ITestInvoker {
 public:
  PerTransportCase(void (*body)(Transport), Transport t) : body_(body), t_(t) {}
  void invoke() const override { body_(t_); }

 private:
  void (*body_)(Transport);
  Transport t_;
};
}  // namespace detail

// Registers one Catch test case per transport the peer serves, named
// "<prefix><transport>", so that each is run, counted and skipped on its own.
inline bool register_per_transport(const std::string& prefix, const std::string& tags,
                                   void (*body)(Transport),
                                   std::source_location where = std::source_location::current()) {
  for (Transport t : all_transports()) {
    Catch::AutoReg(new detail::PerTransportCase(body, t),
                   Catch::SourceLineInfo(where.file_name(), where.line()), Catch::StringRef(),
                   Catch::NameAndTags(prefix + std::string(transport_name(t)), tags));
  }
  return true;
}

// Registers, at static initialisation, one Catch test case per model in the
// registry that `wanted` selects (every model when it is null), named
// "<prefix><model name>": ctest then runs, counts and skips each model on its
// own, and a newly registered model is tested without a line changed here.
// The registry is constant-initialised data (each ModelInfo is an aggregate
// of literals and function pointers), so it can be read this early; a model
// whose name is still empty here would not be, and fails the run at start.
//   const bool kRegistered = test::register_per_model("matrix: ", "[models]", body);
inline bool register_per_model(const std::string& prefix, const std::string& tags,
                               void (*body)(const ModelInfo&),
                               bool (*wanted)(const ModelInfo&) = nullptr,
                               std::source_location where = std::source_location::current()) {
  for (const ModelInfo* m : all_models()) {
    if (m->name.empty()) {
      try {
        throw std::logic_error("a registered model has no name yet at static initialisation");
      } catch (...) {
        Catch::getMutableRegistryHub().registerStartupException();
      }
      continue;
    }
    if (wanted != nullptr && !wanted(*m)) continue;
    const std::string name = prefix + std::string(m->name);
    // AutoReg copies the name and tags and owns the invoker.
    Catch::AutoReg(new detail::PerModelCase(body, m),
                   Catch::SourceLineInfo(where.file_name(), where.line()), Catch::StringRef(),
                   Catch::NameAndTags(name, tags));
  }
  return true;
}

// --- scenarios and counts ------------------------------------------------------

inline Scenario scenario(std::string model, Transport t, uint32_t conns, uint32_t size,
                         const std::string& latency, uint64_t rounds) {
  Scenario sc;
  sc.model = std::move(model);
  sc.workload.transport = t;
  sc.workload.connections = conns;
  sc.workload.size = size;
  std::string why;
  parse_latency(latency, &sc.workload.latency, &why);
  sc.rounds = rounds;
  sc.run.timeout_ns = 20'000'000'000ull;
  return sc;
}

// Entries in a /proc/self directory (fd or task).
inline int count_entries(const char* dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n - (std::string(dir) == "/proc/self/fd" ? 1 : 0);  // opendir's own fd
}
inline int open_fds() { return count_entries("/proc/self/fd"); }
inline int threads() { return count_entries("/proc/self/task"); }

// This process's threads by tid, each with its name (/proc/self/task/<tid>/comm).
inline std::map<int, std::string> thread_names() {
  std::map<int, std::string> out;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::getline(f, out[std::atoi(e->d_name)]);
    }
    ::closedir(d);
  }
  return out;
}

// The kernel ends io_uring's SQPOLL and io-wq threads asynchronously after the
// ring is closed, and a joined thread's /proc/self/task entry can outlive
// pthread_join by a moment: gives /proc/self/task up to 2 s to reach `want`,
// and returns the count it settled at.
inline int threads_settled(int want) {
  int n = threads();
  for (int i = 0; i < 200 && n != want; ++i) {
    ::usleep(10'000);
    n = threads();
  }
  return n;
}

// The thread count once it has stayed the same for 100 ms (at most 2 s): a
// baseline taken while an earlier run's threads are still exiting would make
// a later, correct count look like a loss.
inline int threads_quiet() {
  int n = threads();
  for (int i = 0, same = 0; i < 200 && same < 10; ++i) {
    ::usleep(10'000);
    const int m = threads();
    same = m == n ? same + 1 : 0;
    n = m;
  }
  return n;
}

// A fresh directory (mkdtemp) under `base`, removed with everything in it
// when the test is done, whether it passed or not.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& prefix = "iomodels", const std::string& base = "/tmp") {
    std::string tmpl = base + "/" + prefix + "_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    char real[PATH_MAX];
    path = ::realpath(tmpl.c_str(), real) != nullptr ? real : tmpl;
  }
  ~TempDir() {
    ::nftw(
        path.c_str(),
        [](const char* p, const struct stat*, int, FTW*) { return ::remove(p) == 0 ? 0 : 0; }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// A JSON file the binary wrote; fails the test if it cannot be read.
inline nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

// From now on io_uring_setup fails with EPERM in this process (a seccomp
// filter, as a container runtime would install; it cannot be removed, so
// call it in a child). False if the filter could not be installed.
inline bool deny_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs a shell command: its exit code (128 + signal if killed) and its
// stdout and stderr together. exit_code stays -1 if it could not start.
// As popen would: `/bin/sh -c "CMD 2>&1"` in this process's group, its stdout
// on a pipe.
inline CommandResult run_shell(const std::string& cmd) {
  CommandResult r;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return r;
  Fd from(p[0]), to(p[1]);
  sys::SpawnOptions o;
  o.stdout_fd = to.get();
  o.search_path = false;
  o.own_group = false;
  sys::Child child;
  if (sys::spawn({"/bin/sh", "-c", cmd + " 2>&1"}, o, &child) != 0) return r;
  to.reset();
  const bool started = child.start() == 0;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(from.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) r.out.append(buf, static_cast<size_t>(n));
  sys::ExitInfo x;
  if (sys::reap(child.pid(), 0, 0, &x) == 0 && started) r.exit_code = sys::exit_code(x.status);
  return r;
}

// Runs the iomodels binary with `args` (a shell-quoted string).
inline CommandResult run_iomodels(const std::string& args) {
  return run_shell(std::string(IOMODELS_BINARY) + " " + args);
}

}  // namespace iomodels::test
