// Description: io_uring refused by a seccomp filter (as in a container): the
// real binary reports the uring models unavailable with the reason, and the
// other models still run.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <string>

#include "util.h"

namespace {

// Runs the iomodels binary with `args` in a child whose io_uring_setup
// returns EPERM (a seccomp filter survives exec). Returns exit code and output.
iomodels::test::CommandResult run_without_io_uring(const std::string& args) {
  int out[2];
  REQUIRE(::pipe(out) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(out[0]);
    if (!iomodels::test::deny_io_uring()) ::_exit(99);
    const std::string cmd = std::string(IOMODELS_BINARY) + " " + args;
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(98);
  }
  ::close(out[1]);
  iomodels::test::CommandResult r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace

TEST_CASE("io_uring blocked by seccomp: reported unavailable, the rest runs", "[faults]") {
  auto r = run_without_io_uring("list");
  INFO(r.out);
  REQUIRE(r.exit_code != 99);  // the filter could not be installed
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("io_uring: no: io_uring_setup: Operation not permitted") != std::string::npos);
  CHECK(r.out.find("unavailable: io_uring_setup: Operation not permitted") != std::string::npos);

  r = run_without_io_uring("run -m uring -c 4 -r 5 -l 0");
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("Operation not permitted") != std::string::npos);

  r = run_without_io_uring("run -m epoll -c 4 -r 5 -l 0");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("requests/s") != std::string::npos);
}
