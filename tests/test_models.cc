// Description: every registered model × transport completes with every byte
// verified at 1, 64 and 1,000 connections, and a killed peer is an error, not
// a hang.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "util.h"

using namespace iomodels;

namespace {

struct Case {
  uint32_t conns;
  uint32_t size;
  const char* latency;
  uint64_t rounds;
};

// Runs `sc`; a model that does not apply is a skip with its reason, anything
// else must complete every request of every connection.
void check_completes(const Scenario& sc) {
  if (std::string why = why_not(*find_model(sc.model), sc.workload); !why.empty()) {
    WARN("skipped, not applicable: " << why);
    return;
  }
  ScenarioResult r;
  const Status s = run_scenario(sc, &r);
  if (s.not_applicable()) {
    WARN("skipped, not applicable: " << s.message());
    return;
  }
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(r.latency.count() == uint64_t{sc.workload.connections} * sc.rounds);
  CHECK(r.peer.requests >= uint64_t{sc.workload.connections} * sc.rounds);
  CHECK(r.peer.protocol_errors == 0);
}

}  // namespace

TEST_CASE("every model completes on every transport at 1 and 64 and 1000 connections", "[models]") {
  // Small rounds keep the file well under a minute: the slowest models
  // (blocking, threadpool) serve connections one (or T) at a time.
  const Case cases[] = {
      {1, 4096, "1ms", 5},
      {64, 4096, "0", 5},
      {1000, 4096, "0", 3},
  };
  for (const ModelInfo* m : all_models()) {
    for (Transport t : all_transports()) {
      for (const Case& c : cases) {
        DYNAMIC_SECTION(m->name << " on " << transport_name(t) << ", " << c.conns
                                << " connections") {
          Scenario sc =
              test::scenario(std::string(m->name), t, c.conns, c.size, c.latency, c.rounds);
          check_completes(sc);
        }
      }
    }
  }
}

TEST_CASE("every model completes 1 MiB responses (many partial reads) and 1-byte ones",
          "[models]") {
  for (const ModelInfo* m : all_models()) {
    DYNAMIC_SECTION(m->name << ", 1 MiB at 4 socketpair connections") {
      check_completes(
          test::scenario(std::string(m->name), Transport::kSocketpair, 4, 1 << 20, "0", 3));
    }
    DYNAMIC_SECTION(m->name << ", 1 MiB at 4 pipe connections") {
      check_completes(test::scenario(std::string(m->name), Transport::kPipe, 4, 1 << 20, "0", 3));
    }
    DYNAMIC_SECTION(m->name << ", 1 byte at 64 tcp connections, 1ms") {
      check_completes(test::scenario(std::string(m->name), Transport::kTcp, 64, 1, "1ms", 3));
    }
  }
}

TEST_CASE("a model whose peer is killed mid-run returns an error and does not hang", "[models]") {
  for (const char* model :
       {"threads", "polling", "polling-sleep", "threadpool", "poll", "select", "epoll-et"}) {
    for (Transport t : all_transports()) {
      DYNAMIC_SECTION(model << " on " << transport_name(t)) {
        Scenario sc = test::scenario(model, t, 8, 4096, "20ms", 0);
        std::unique_ptr<Session> session;
        Status s = Session::open(sc, &session);
        INFO(s.message());
        REQUIRE(s.ok());
        // Far more rounds than can finish before the kill (1000 x 20 ms).
        std::thread killer([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          session->workload().kill_peer();
        });
        const auto t0 = std::chrono::steady_clock::now();
        s = session->rounds(1000);
        const double took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        killer.join();
        INFO(s.message());
        CHECK_FALSE(s.ok());
        CHECK_FALSE(s.not_applicable());
        // The scenario's timeout is 20 s: an error well before that came
        // from the dead peer (EOF), not from a timeout.
        CHECK(took < 5.0);
        CHECK(s.message().find("timed out") == std::string::npos);
      }
    }
  }
}

TEST_CASE("a model whose peer died before the run returns an error (no SIGPIPE)", "[models]") {
  for (const char* model :
       {"threads", "polling", "polling-sleep", "threadpool", "poll", "select", "epoll-et"}) {
    for (Transport t : all_transports()) {
      DYNAMIC_SECTION(model << " on " << transport_name(t)) {
        std::unique_ptr<Session> session;
        Status s = Session::open(test::scenario(model, t, 4, 4096, "0", 0), &session);
        INFO(s.message());
        REQUIRE(s.ok());
        session->workload().kill_peer();
        // Let the kernel tear the peer's ends down, so the first write fails.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        s = session->rounds(3);
        INFO(s.message());
        CHECK_FALSE(s.ok());
        CHECK(s.message().find("timed out") == std::string::npos);
      }
    }
  }
}
