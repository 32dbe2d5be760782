// Description: helpers shared by the tests: scenarios, fd and thread counts,
// running the real binary.
#pragma once

#include <dirent.h>
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
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "run/session.h"

namespace iomodels::test {

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

// Runs the iomodels binary with `args` (a shell-quoted string).
inline CommandResult run_iomodels(const std::string& args) {
  CommandResult r;
  const std::string cmd = std::string(IOMODELS_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace iomodels::test
