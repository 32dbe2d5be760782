// Description: the Catch2 test runner. SIGPIPE is ignored as in the binary:
// a write to a peer that died must come back as -EPIPE. A [timing] test case
// that fails while other processes took the CPU is counted as skipped, with
// the load that was measured, instead of failed.
#define CATCH_CONFIG_RUNNER
// Catch2 2.13's console reporter indents a wrapped test name past its first
// ": ", and loops for ever, printing, when that indent reaches the console
// width (80 by default): a per-model name such as "coroutines cost about as
// much CPU per request as the loops of their mechanism: coro-uring" hangs the
// report of its failure. Wider than any test name here.
#define CATCH_CONFIG_CONSOLE_WIDTH 400
#include <time.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "measure/env.h"
#include "measure/recorder.h"
#include "measure/resolution.h"

namespace {

// The exit code ctest counts as a skip (SKIP_RETURN_CODE, as test::skip).
constexpr int kSkipExitCode = 77;

// Other processes' CPU above this share of one core during a timing test
// means the test measured its neighbours as much as itself (the bound bench
// and run use for a disturbed repetition). A quiet VM here shows under 0.05
// core of background and steal.
constexpr double kBusyCores = iomodels::kBusyOthersCores;

double now_s() { return static_cast<double>(iomodels::now_ns()) / 1e9; }

bool has_tag(const Catch::TestCaseInfo& info, const char* tag) {
  for (const std::string& t : info.tags)
    if (t == tag) return true;
  return false;
}

// Measures the CPU that the rest of the machine used while each test case
// ran; when a [timing] case failed and that was above kBusyCores, the
// process ends as a skip that names the load.
struct BusyMachineListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo&) override {
    wall0_ = now_s();
    busy0_ = iomodels::machine_busy_cpu_s();
    own0_ = iomodels::process_tree_cpu_s();
  }

  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    if (stats.totals.assertions.failed == 0 || !has_tag(stats.testInfo, "timing")) return;
    const double wall = now_s() - wall0_;
    const double others =
        (iomodels::machine_busy_cpu_s() - busy0_) - (iomodels::process_tree_cpu_s() - own0_);
    if (wall <= 0 || others / wall <= kBusyCores) return;
    std::fflush(stdout);
    std::fprintf(stderr,
                 "skipped: the machine was busy: other processes (or the hypervisor's steal) "
                 "took %.2f core over the test's %.2f s (the bound is %.2f); its timing "
                 "assertions above measured them, not the code\n",
                 others / wall, wall, kBusyCores);
    std::fflush(stderr);
    std::_Exit(kSkipExitCode);
  }

 private:
  double wall0_ = 0, busy0_ = 0, own0_ = 0;
};

}  // namespace

CATCH_REGISTER_LISTENER(BusyMachineListener)

int main(int argc, char* argv[]) {
  std::signal(SIGPIPE, SIG_IGN);
  // TSan starts a background thread of its own at the first pthread_create;
  // start it now, so that tests counting this process's threads see a
  // baseline that includes it.
  std::thread([] {}).join();
  return Catch::Session().run(argc, argv);
}
