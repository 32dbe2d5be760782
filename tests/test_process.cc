// Description: sys's process toolkit: spawn() redirects and extends what a
// program starts with and reports an exec that failed, a held child waits for
// start(), reap() stops a process group past its deadline and leaves no
// zombie, find_executable() says why it found nothing, cpu_ns_of() reads a
// process's CPU.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "measure/recorder.h"
#include "sys/fd.h"
#include "sys/process.h"

using namespace iomodels;

TEST_CASE("sys process: spawn redirects stdio and adds to the environment", "[sys]") {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  Fd from(p[0]), to(p[1]);
  sys::SpawnOptions o;
  o.stdout_fd = to.get();
  o.stderr_fd = to.get();
  o.env_add = {"IOMODELS_TEST_WORD=hello", "HOME=/nowhere"};
  sys::Child child;
  REQUIRE(sys::spawn({"sh", "-c", "echo \"$IOMODELS_TEST_WORD $HOME\"; echo oops >&2; exit 3"}, o,
                     &child) == 0);
  to.reset();
  CHECK(child.start() == 0);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(from.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  CHECK(out == "hello /nowhere\noops\n");
  sys::ExitInfo x;
  REQUIRE(sys::reap(child.pid(), 0, 0, &x) == 0);
  CHECK_FALSE(x.timed_out);
  CHECK(sys::exit_code(x.status) == 3);
  // Reaped: nothing is left to wait for.
  CHECK(sys::reap(child.pid(), 0, 0, &x) == -ECHILD);
}

TEST_CASE("sys process: an exec that fails is reported to the parent", "[sys]") {
  sys::Child child;
  REQUIRE(sys::spawn({"/no/such/program"}, sys::SpawnOptions{}, &child) == 0);
  CHECK(child.start() == -ENOENT);
  CHECK(child.start() == -ENOENT);  // the same answer again
  sys::ExitInfo x;
  REQUIRE(sys::reap(child.pid(), 0, 0, &x) == 0);
  CHECK(sys::exit_code(x.status) == 127);
}

TEST_CASE("sys process: a held child execs only once started", "[sys]") {
  sys::SpawnOptions o;
  o.hold = true;
  sys::Child child;
  REQUIRE(sys::spawn({"/bin/sh", "-c", "exit 5"}, o, &child) == 0);
  // Still this program: it waits before exec.
  const auto exe_of = [](const std::string& proc) {
    char buf[4096];
    const ssize_t n = ::readlink((proc + "/exe").c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(exe_of("/proc/" + std::to_string(child.pid())) == exe_of("/proc/self"));
  // Its own process group, made before spawn() returned.
  CHECK(::getpgid(child.pid()) == child.pid());
  CHECK(child.start() == 0);
  sys::ExitInfo x;
  REQUIRE(sys::reap(child.pid(), 0, 0, &x) == 0);
  CHECK(sys::exit_code(x.status) == 5);
}

TEST_CASE("sys process: reap past the deadline stops the whole group", "[sys]") {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  Fd from(p[0]), to(p[1]);
  sys::SpawnOptions o;
  o.stdout_fd = to.get();
  sys::Child child;
  // The shell's child prints its pid: it is in the shell's group.
  REQUIRE(sys::spawn({"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, o, &child) == 0);
  to.reset();
  std::string line;
  char c;
  while (::read(from.get(), &c, 1) == 1 && c != '\n') line += c;
  const pid_t sleeper = static_cast<pid_t>(std::stol(line));
  REQUIRE(sleeper > 0);
  const uint64_t t0 = now_ns();
  sys::ExitInfo x;
  // SIGTERM first; a shell waiting in `wait` ends with it, within the grace.
  REQUIRE(sys::reap(child.pid(), t0 + 200'000'000, 5'000'000'000ull, &x) == 0);
  CHECK(x.timed_out);
  CHECK(sys::exit_code(x.status) == 128 + SIGTERM);
  CHECK(now_ns() - t0 >= 200'000'000);
  // The sleeper got the signal too: gone, or a zombie until init reaps it.
  const auto dead = [](pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string id, comm, state;
    return !(f >> id >> comm >> state) || state == "Z";
  };
  bool gone = false;
  for (int i = 0; i < 200 && !(gone = dead(sleeper)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(gone);
}

TEST_CASE("sys process: find_executable says why, cpu_ns_of reads a process's CPU", "[sys]") {
  const std::string sh = sys::find_executable("sh");
  REQUIRE_FALSE(sh.empty());
  CHECK(::access(sh.c_str(), X_OK) == 0);
  using Reason = sys::NotExecutable::Reason;
  sys::NotExecutable why;
  CHECK(sys::find_executable("/no/such/dir/sh", &why).empty());
  CHECK(why.reason == Reason::kStat);
  CHECK(why.stat_errno == ENOENT);
  CHECK(sys::find_executable("/tmp", &why).empty());
  CHECK(why.reason == Reason::kNotRegular);
  CHECK(sys::find_executable("no-such-tool-xyz", &why).empty());
  CHECK(why.reason == Reason::kNotOnPath);
  CHECK(sys::find_executable("/bin/sh", &why) == "/bin/sh");
  CHECK(why.reason == Reason::kNone);

  // 100 ms of this thread's CPU shows in the process's utime + stime (clock
  // ticks: 10 ms each here, so half of it at least).
  const long before = sys::cpu_ns_of(::getpid());
  REQUIRE(before >= 0);
  const uint64_t until = thread_cpu_ns() + 100'000'000;
  volatile uint64_t spin = 0;
  while (thread_cpu_ns() < until) spin = spin + 1;
  CHECK(sys::cpu_ns_of(::getpid()) - before >= 50'000'000);

  // A process that is gone has none.
  sys::Child child;
  REQUIRE(sys::spawn({"/bin/true"}, sys::SpawnOptions{}, &child) == 0);
  sys::ExitInfo x;
  REQUIRE(sys::reap(child.pid(), 0, 0, &x) == 0);
  CHECK(sys::cpu_ns_of(child.pid()) < 0);
}
