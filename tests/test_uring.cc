// Description: the io_uring models: every byte verified on every transport at
// 1, 64 and 1,000 connections and with 1 MiB responses, a dead peer reported
// within seconds, and their syscall counts (below epoll's, and what strace sees).
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "util.h"

using namespace iomodels;

namespace {

constexpr const char* kUringModels[] = {"uring", "uring-sqpoll", "uring-fixed", "uring-multishot"};

// Runs the scenario; true if it ran (false: not applicable here, with a warning).
bool run_verified(const Scenario& sc, ScenarioResult* r) {
  const Status s = run_scenario(sc, r);
  if (s.not_applicable()) {
    WARN("skipped: " << s.message());
    return false;
  }
  INFO(sc.model << " on " << transport_name(sc.workload.transport) << ", "
                << sc.workload.connections << " connections: " << s.message());
  REQUIRE(s.ok());
  CHECK(r->latency.count() == sc.rounds * sc.workload.connections);
  CHECK(r->peer.protocol_errors == 0);
  return true;
}

// SIGPIPE ignored while alive: a write to a dead peer's pipe is then -EPIPE
// in its CQE, not the end of the test process.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &sa, &old_);
  }
  ~IgnoreSigpipe() { ::sigaction(SIGPIPE, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

}  // namespace

TEST_CASE("io_uring models verify every byte on every transport at 1, 64 and 1,000 connections",
          "[uring]") {
  for (const char* model : kUringModels) {
    for (Transport t : all_transports()) {
      for (uint32_t conns : {1u, 64u, 1000u}) {
        DYNAMIC_SECTION(model << " on " << transport_name(t) << " at " << conns) {
          const uint64_t rounds = conns >= 1000 ? 5 : 30;
          ScenarioResult r;
          run_verified(test::scenario(model, t, conns, 512, "0", rounds), &r);
        }
      }
    }
  }
}

TEST_CASE("io_uring models receive 1 MiB responses in pieces", "[uring]") {
  for (const char* model : kUringModels) {
    for (Transport t : all_transports()) {
      DYNAMIC_SECTION(model << " on " << transport_name(t)) {
        ScenarioResult r;
        if (run_verified(test::scenario(model, t, 4, 1 << 20, "0", 4), &r))
          CHECK(r.bytes == 4ull * 4 * (1 << 20));
      }
    }
  }
}

TEST_CASE("io_uring models report a peer killed mid-run within seconds", "[uring]") {
  IgnoreSigpipe ignore;
  for (const char* model : kUringModels) {
    for (Transport t : all_transports()) {
      DYNAMIC_SECTION(model << " on " << transport_name(t)) {
        // Far more rounds than 200 ms holds: the run can only end by the kill.
        Scenario sc = test::scenario(model, t, 8, 4096, "1ms", 1'000'000);
        std::unique_ptr<Session> s;
        const Status opened = Session::open(sc, &s);
        if (opened.not_applicable()) {
          WARN("skipped: " << opened.message());
          continue;
        }
        REQUIRE(opened.ok());
        std::thread killer([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          s->workload().kill_peer();
        });
        const auto t0 = std::chrono::steady_clock::now();
        const Status st = s->rounds(sc.rounds);
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        killer.join();
        INFO(st.message());
        CHECK_FALSE(st.ok());
        CHECK_FALSE(st.not_applicable());
        CHECK(secs < 5.0);  // the timeout is 20 s: an error, not the watchdog
      }
    }
  }
}

TEST_CASE("uring batches: far fewer syscalls per request than epoll, all of them io_uring_enter",
          "[uring][serial]") {
  const ModelInfo* m = find_model("uring");
  REQUIRE(m != nullptr);
  if (!why_not(*m, WorkloadOptions{}).empty()) {
    WARN("skipped: " << why_not(*m, WorkloadOptions{}));
    return;
  }
  ScenarioResult ur, ep;
  REQUIRE(run_verified(test::scenario("uring", Transport::kSocketpair, 64, 64, "0", 500), &ur));
  REQUIRE(run_verified(test::scenario("epoll", Transport::kSocketpair, 64, 64, "0", 500), &ep));
  const double ur_per_req = static_cast<double>(ur.m.calls.syscalls) / ur.requests;
  const double ep_per_req = static_cast<double>(ep.m.calls.syscalls) / ep.requests;
  INFO("uring " << ur_per_req << " syscalls/request, epoll " << ep_per_req);
  // epoll needs a read and a write per request (about 2); uring submits and
  // waits for many requests in one enter.
  CHECK(ur_per_req < 0.5 * ep_per_req);
  CHECK(ur_per_req < 1.0);
  CHECK(ur.m.calls.uring_enter > 0);
  CHECK(ur.m.calls.uring_enter == ur.m.calls.syscalls);  // its only syscall
}

TEST_CASE("uring's io_uring_enter count matches strace's", "[uring][serial]") {
  if (::access("/usr/bin/strace", X_OK) != 0) {
    WARN("skipped: /usr/bin/strace is not installed");
    return;
  }
  const std::string out = "/tmp/iomodels_test_uring_strace." + std::to_string(::getpid());
  const std::string json = out + ".json";
  const int rc = std::system(
      ("/usr/bin/strace -f -c -e trace=io_uring_enter -o " + out + " " + IOMODELS_BINARY +
       " run -m uring -t socketpair -c 64 -s 64 -l 0 -r 300 --json " + json + " >/dev/null 2>&1")
          .c_str());
  std::ifstream sf(out);
  std::stringstream text;
  text << sf.rdbuf();
  if (rc != 0 && text.str().find("io_uring_enter") == std::string::npos) {
    WARN("skipped: strace could not trace the binary here (exit " << rc << "): " << text.str());
    std::remove(out.c_str());
    std::remove(json.c_str());
    return;
  }
  REQUIRE(rc == 0);
  // strace -c's table: "% time  seconds  usecs/call  calls  [errors]  syscall".
  long strace_calls = -1;
  std::string line;
  while (std::getline(text, line)) {
    if (line.find("io_uring_enter") == std::string::npos) continue;
    std::istringstream f(line);
    double pct, secs;
    long usecs;
    f >> pct >> secs >> usecs >> strace_calls;
  }
  std::ifstream jf(json);
  const nlohmann::json j = nlohmann::json::parse(jf);
  std::remove(out.c_str());
  std::remove(json.c_str());
  const auto requests = j.at("requests").get<double>();
  const auto counted = std::llround(j.at("uring_enter_per_req").get<double>() * requests);
  INFO("strace saw " << strace_calls << " io_uring_enter calls; iomodels counted " << counted
                     << " in the timed region");
  REQUIRE(strace_calls > 0);
  // strace also sees the untimed warm-up round (64 requests: at most one
  // enter each, plus a few), and nothing else calls io_uring_enter.
  CHECK(strace_calls >= counted);
  CHECK(strace_calls <= counted + 64 + 8);
}
