// Description: the Recorder tells a spinning process from a sleeping one,
// counts every thread's CPU, and agrees with CLOCK_PROCESS_CPUTIME_ID.
#include <time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <thread>

#include "measure/recorder.h"

using namespace iomodels;

namespace {

constexpr uint64_t kSpinNs = 300'000'000;
// A cap on any spin, in wall time, should the machine be overloaded.
constexpr uint64_t kWallCapNs = 5'000'000'000;

// Burns `ns` of this thread's own CPU time and returns what it burnt. The
// machine is shared: counting CPU time, not wall time, keeps the amount
// known when other processes take the core away for a while.
uint64_t spin_cpu(uint64_t ns) {
  const uint64_t c0 = thread_cpu_ns();
  const uint64_t wall_end = now_ns() + kWallCapNs;
  volatile uint64_t x = 0;
  while (thread_cpu_ns() - c0 < ns && now_ns() < wall_end) {
    // Mostly user-space work: the thread's CPU clock is a real syscall.
    for (int i = 0; i < 20'000; ++i) x = x + 1;
  }
  return thread_cpu_ns() - c0;
}

// What the Recorder says must match the threads' own CPU clocks: 10% for
// rusage's sampling plus 20 ms for the test's own overhead.
void check_cpu(const Measurement& m, uint64_t burnt_ns) {
  const double burnt_s = static_cast<double>(burnt_ns) * 1e-9;
  INFO("wall " << m.wall_s << " s, user " << m.user_s << " s, sys " << m.sys_s
               << " s; the threads' own clocks: " << burnt_s << " s");
  CHECK(m.cpu_s() >= 0.9 * burnt_s);
  CHECK(m.cpu_s() <= 1.1 * burnt_s + 0.02);
}

}  // namespace

TEST_CASE("Recorder: a spinning thread reads about one core", "[cpu][timing]") {
  Recorder rec;
  rec.start();
  const uint64_t burnt = spin_cpu(kSpinNs);
  const Measurement m = rec.stop();
  check_cpu(m, burnt);
  CHECK(burnt >= kSpinNs);
  CHECK(m.user_s > m.sys_s);  // a user-space loop
  CHECK(m.cpu_util() < 1.3);  // one thread cannot use more than one core
  // Unloaded, the spinner has the core to itself: util ~ 1. When other
  // processes took it (wall well above the CPU burnt) only the match with
  // the thread's own clock above can be checked.
  if (m.wall_s < 1.5 * static_cast<double>(burnt) * 1e-9) {
    CHECK(m.cpu_util() > 0.7);
  } else {
    WARN("the machine is busy: util " << m.cpu_util() << " not compared with 1 core");
  }
}

TEST_CASE("Recorder: a sleeping thread reads about zero", "[cpu][timing]") {
  Recorder rec;
  rec.start();
  std::this_thread::sleep_for(std::chrono::nanoseconds(kSpinNs));
  const Measurement m = rec.stop();
  INFO("wall " << m.wall_s << " s, cpu " << m.cpu_s() << " s");
  CHECK(m.wall_s >= 0.3);
  CHECK(m.cpu_util() < 0.05);
  CHECK(m.voluntary_ctx >= 1);  // it went to sleep at least once
}

TEST_CASE("Recorder: another thread's CPU is included", "[cpu][timing]") {
  Recorder rec;
  rec.start();
  uint64_t burnt = 0;
  std::thread worker([&] { burnt = spin_cpu(kSpinNs); });
  worker.join();  // the measuring thread sleeps in join
  const Measurement m = rec.stop();
  check_cpu(m, burnt);
  CHECK(m.cpu_util() < 1.3);
  if (m.wall_s < 1.5 * static_cast<double>(burnt) * 1e-9) CHECK(m.cpu_util() > 0.7);
}

TEST_CASE("Recorder: two spinning threads read about two cores", "[cpu][timing]") {
  Recorder rec;
  rec.start();
  uint64_t a_ns = 0, b_ns = 0;
  std::thread a([&] { a_ns = spin_cpu(kSpinNs); });
  std::thread b([&] { b_ns = spin_cpu(kSpinNs); });
  a.join();
  b.join();
  const Measurement m = rec.stop();
  check_cpu(m, a_ns + b_ns);
  CHECK(m.cpu_util() < 2.3);
  if (std::thread::hardware_concurrency() >= 2 &&
      m.wall_s < 1.5 * static_cast<double>(std::max(a_ns, b_ns)) * 1e-9)
    CHECK(m.cpu_util() > 1.4);
}

TEST_CASE("process_cpu_ns agrees with the Recorder's user + sys", "[cpu][timing]") {
  Recorder rec;
  const uint64_t c0 = process_cpu_ns();
  rec.start();
  std::thread worker([] { spin_cpu(kSpinNs / 2); });
  spin_cpu(kSpinNs / 2);
  worker.join();
  const Measurement m = rec.stop();
  const double clock_s = static_cast<double>(process_cpu_ns() - c0) * 1e-9;
  INFO("process clock " << clock_s << " s, rusage " << m.cpu_s() << " s");
  CHECK(clock_s >= 0.29);
  // rusage splits user/sys by sampling, but their sum is the same runtime.
  CHECK(std::fabs(clock_s - m.cpu_s()) < 0.02 + 0.1 * clock_s);
}
