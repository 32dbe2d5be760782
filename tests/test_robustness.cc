// Description: holding up: no byte lost by any model under a storm of timer
// signals, 10,000 connections on the mechanisms that wait on many at once,
// and bad input to the real binary answered with one line and exit code 2.
// (Leaks after a session: the model matrix, test_model_matrix.cc.)
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "util.h"

using namespace iomodels;

namespace {

void run_verified(const Scenario& sc) {
  ScenarioResult r;
  const Status s = run_scenario(sc, &r);
  INFO(sc.model << " on " << transport_name(sc.workload.transport) << ", "
                << sc.workload.connections << " connections: " << s.message());
  REQUIRE(s.ok());
  CHECK(r.latency.count() == sc.rounds * sc.workload.connections);
}

extern "C" void on_alarm(int) {}

// Every blocked call sees EINTR (no SA_RESTART), and every wait in src/sys
// must retry it without losing or repeating a byte.
void check_signal_storm(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  struct sigaction old {};
  REQUIRE(::sigaction(SIGALRM, &sa, &old) == 0);
  itimerval storm{{0, 100}, {0, 100}};
  REQUIRE(::setitimer(ITIMER_REAL, &storm, nullptr) == 0);
  struct Restore {
    struct sigaction old;
    ~Restore() {
      itimerval off{};
      ::setitimer(ITIMER_REAL, &off, nullptr);
      ::sigaction(SIGALRM, &old, nullptr);
    }
  } restore{old};
  for (Transport t : all_transports()) {
    // Where the model does not apply, the matrix checks it refuses.
    if (!why_not(m, test::scenario(std::string(m.name), t, 1, 1, "0", 1).workload).empty())
      continue;
    // Big responses: many partial reads, each one a chance to be interrupted.
    run_verified(test::scenario(std::string(m.name), t, 4, 256 * 1024, "100us", 5));
  }
}

// The mechanisms that wait on any number of connections with one call
// (select stops at FD_SETSIZE; the others serve one connection per thread
// or sweep them all).
bool waits_on_many(const ModelInfo& m) {
  return m.mechanism == Mechanism::kEpoll || m.mechanism == Mechanism::kPoll ||
         m.mechanism == Mechanism::kIoUring;
}

void check_10k_connections(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  for (Transport t : {Transport::kSocketpair, Transport::kTcp})
    run_verified(test::scenario(std::string(m.name), t, 10'000, 256, "1ms", 2));
}

// A thread per connection at 10,000 connections may exceed what the machine
// allows (threads-max, memory for stacks): then it must refuse up front,
// saying so, not fail halfway.
bool thread_per_connection(const ModelInfo& m) { return m.mechanism == Mechanism::kThreads; }

void check_10k_threads(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  ScenarioResult r;
  const Status s = run_scenario(
      test::scenario(std::string(m.name), Transport::kSocketpair, 10'000, 64, "1ms", 1), &r);
  if (!s.ok()) {
    INFO(s.message());
    CHECK(s.message().find("thread") != std::string::npos);
  } else {
    CHECK(r.latency.count() == 10'000);
  }
}

[[maybe_unused]] const bool kStorm = test::register_per_model(
    "a timer signal every 100 us loses no byte: ", "[robustness]", check_signal_storm);
[[maybe_unused]] const bool k10k = test::register_per_model(
    "10,000 connections complete with every byte verified: ", "[robustness][scale][heavy]",
    check_10k_connections, waits_on_many);
[[maybe_unused]] const bool k10kThreads = test::register_per_model(
    "a thread per connection at 10,000 connections runs or refuses up front: ",
    "[robustness][scale][heavy]", check_10k_threads, thread_per_connection);

}  // namespace

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
