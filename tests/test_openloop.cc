// Description: open-loop mode (--rate): rounds are paced by the schedule, and
// a model that cannot keep up shows its queueing in the latency, counted from
// each scheduled start (no coordinated omission).
#include <catch2/catch.hpp>

#include "util.h"

using namespace iomodels;

TEST_CASE("open loop paces rounds and counts latency from the schedule", "[openloop][timing]") {
  // epoll keeps up: 8 connections, 1 ms device, a round every 5 ms.
  Scenario sc = test::scenario("epoll", Transport::kSocketpair, 8, 512, "1ms", 40);
  sc.rate_per_s = 200;
  ScenarioResult open;
  REQUIRE(run_scenario(sc, &open).ok());
  CHECK(open.latency.count() == 8 * 40);
  CHECK(open.m.wall_s >= 0.9 * 39 * 0.005);          // paced, not as fast as possible
  CHECK(open.latency.percentile(0.5) >= 1'000'000);  // never faster than the device

  // blocking cannot: a round takes 8 x 2 ms = 16 ms but one is due every 5 ms.
  Scenario slow = test::scenario("blocking", Transport::kSocketpair, 8, 512, "2ms", 30);
  ScenarioResult closed;
  REQUIRE(run_scenario(slow, &closed).ok());
  slow.rate_per_s = 200;
  ScenarioResult behind;
  REQUIRE(run_scenario(slow, &behind).ok());
  CHECK(behind.latency.count() == 8 * 30);
  // Closed loop hides the backlog; open loop shows it: by the last round the
  // schedule is ~30 x 11 ms behind.
  INFO("closed p90 " << closed.latency.percentile(0.9) << " ns, open p90 "
                     << behind.latency.percentile(0.9) << " ns");
  CHECK(behind.latency.percentile(0.9) > 4 * closed.latency.percentile(0.9));
  CHECK(behind.latency.max() > 100'000'000);  // > 100 ms of queueing
}

TEST_CASE("run shows --rate as given, and 0 in any spelling is the closed loop", "[openloop]") {
  const auto slow = test::run_iomodels("run -m epoll -c 1 -s 64 -l 0 -r 3 --rate 2.5");
  INFO(slow.out);
  REQUIRE(slow.exit_code == 0);
  CHECK(slow.out.find("open loop     2.5 requests/s per connection") != std::string::npos);
  for (const char* zero : {"0", "0.0", "00"}) {
    INFO(zero);
    const auto closed =
        test::run_iomodels(std::string("run -m epoll -c 1 -s 64 -l 0 -r 3 --rate ") + zero);
    CHECK(closed.exit_code == 0);
    CHECK(closed.out.find("open loop") == std::string::npos);
  }
  for (const char* bad : {"0.0.0", ".", "-1"}) {
    INFO(bad);
    const auto r = test::run_iomodels(std::string("run -m epoll -r 3 --rate ") + bad);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--rate") != std::string::npos);
  }
}
