// Description: holding up: no fd or thread left behind by any model, no byte
// lost under a storm of timer signals, 10,000 connections, and bad input to
// the real binary answered with one line and exit code 2.
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "util.h"

using namespace iomodels;

namespace {

// Runs `model` once; not-applicable combinations are skipped with a warning.
bool run_ok(const Scenario& sc) {
  ScenarioResult r;
  const Status s = run_scenario(sc, &r);
  if (s.not_applicable()) {
    WARN("skipped: " << s.message());
    return true;
  }
  INFO(sc.model << ": " << s.message());
  CHECK(s.ok());
  CHECK(r.latency.count() == sc.rounds * sc.workload.connections);
  return s.ok();
}

extern "C" void on_alarm(int) {}

// The kernel ends io_uring's SQPOLL and io-wq threads asynchronously after the
// ring is closed: give /proc/self/task up to 2 s to reach `want`.
int threads_settled(int want) {
  int n = test::threads();
  for (int i = 0; i < 200 && n != want; ++i) {
    ::usleep(10'000);
    n = test::threads();
  }
  return n;
}

}  // namespace

TEST_CASE("every model leaves open fds and threads as it found them", "[robustness]") {
  // Before any model ran: the runner's own threads (one, or two under TSan).
  const int baseline = test::threads();
  for (const ModelInfo* m : all_models()) {
    if (!why_not(*m, WorkloadOptions{}).empty()) continue;
    DYNAMIC_SECTION(m->name) {
      // A first run creates what lives for the process (the io_uring probe, caches).
      run_ok(test::scenario(std::string(m->name), Transport::kSocketpair, 16, 512, "0", 3));
      const int fds = test::open_fds();
      const int threads = threads_settled(baseline);
      for (Transport t : all_transports())
        run_ok(test::scenario(std::string(m->name), t, 16, 512, "0", 3));
      CHECK(test::open_fds() == fds);
      CHECK(threads_settled(threads) == threads);
    }
  }
}

TEST_CASE("a timer signal every 100 us loses no byte in blocking and thread models",
          "[robustness][serial]") {
  struct sigaction sa {};
  sa.sa_handler = on_alarm;  // no SA_RESTART: every blocked call sees EINTR
  struct sigaction old {};
  REQUIRE(::sigaction(SIGALRM, &sa, &old) == 0);
  itimerval storm{{0, 100}, {0, 100}};
  REQUIRE(::setitimer(ITIMER_REAL, &storm, nullptr) == 0);
  for (const char* model : {"blocking", "threads", "threadpool", "poll", "epoll"}) {
    if (find_model(model) == nullptr) continue;
    for (Transport t : all_transports()) {
      // Big responses: many partial reads, each one a chance to be interrupted.
      run_ok(test::scenario(model, t, 4, 256 * 1024, "100us", 5));
    }
  }
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
}

TEST_CASE("10,000 connections complete with every byte verified", "[robustness][scale][serial]") {
  for (const char* model : {"epoll", "epoll-et", "uring", "poll"}) {
    const ModelInfo* m = find_model(model);
    if (m == nullptr || !why_not(*m, WorkloadOptions{}).empty()) continue;
    for (Transport t : {Transport::kSocketpair, Transport::kTcp}) {
      INFO(model << " on " << transport_name(t));
      run_ok(test::scenario(model, t, 10'000, 256, "1ms", 2));
    }
  }
}

TEST_CASE("threads at 10,000 connections runs or refuses up front with the reason",
          "[robustness][scale][serial]") {
  if (find_model("threads") == nullptr) return;
  ScenarioResult r;
  const Status s =
      run_scenario(test::scenario("threads", Transport::kSocketpair, 10'000, 64, "1ms", 1), &r);
  if (!s.ok()) {
    INFO(s.message());
    CHECK(s.message().find("thread") != std::string::npos);
  } else {
    CHECK(r.latency.count() == 10'000);
  }
}

TEST_CASE("bad input to the binary: one line naming the option, exit code 2", "[robustness]") {
  const char* bad[] = {
      "run --model nosuch",        "run --transport carrier-pigeon",
      "run --connections 0",       "run --connections -5",
      "run --connections 10001",   "run --size 0",
      "run --size 2MiB",           "run --size 1.5",
      "run --latency 5xs",         "run --latency -1ms",
      "run --latency 1e999s",      "run --latency uniform:2ms-1ms",
      "run --requests 0",          "run --timeout 0",
      "run --verify maybe",        "run --peer nohostport",
      "run --peer 127.0.0.1:7000",  // needs --transport tcp
      "run --no-such-flag",        "frobnicate",
  };
  for (const char* args : bad) {
    const auto r = test::run_iomodels(args);
    INFO(args << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("error:") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
}

TEST_CASE("run --json writes the result atomically and completely", "[robustness]") {
  const std::string path = "/tmp/iomodels-test-run.json";
  std::remove(path.c_str());
  auto r = test::run_iomodels("run -m epoll -c 4 -r 5 -l 0 --json " + path);
  REQUIRE(r.exit_code == 0);
  FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f != nullptr);
  std::fclose(f);
  // A failed run writes no results file.
  std::remove(path.c_str());
  r = test::run_iomodels("run -m epoll -c 4 -r 5 -l 0 --size 0 --json " + path);
  CHECK(r.exit_code == 2);
  CHECK(std::fopen(path.c_str(), "r") == nullptr);
}
