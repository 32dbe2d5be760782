// Description: the quadrants behave as DESIGN.md says: spinning burns a core,
// sleeping waits do not; one blocking thread serialises the waits, a reactor
// overlaps them. (A proactor's fewer syscalls per request: test_uring.cc.)
#include <algorithm>
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>

#include "util.h"

using namespace iomodels;

namespace {

// 64 slow connections: every request waits 10 ms at the peer, and the
// response is tiny, so the cost is the waiting, not the copying.
constexpr uint32_t kConns = 64;
constexpr uint64_t kRounds = 3;
constexpr double kLatencyS = 0.010;

// The models named here are the quadrant table's examples (DESIGN.md), each
// standing for its row; the model matrix covers every model.
const ModelInfo& named(const std::string& model) {
  const ModelInfo* m = find_model(model);
  INFO(model);
  REQUIRE(m != nullptr);
  return *m;
}

// A skip, with the probe's reason, if any of `models` cannot run on this
// kernel (io_uring disabled, say); called before the first check.
void skip_unless_available(std::initializer_list<const char*> models) {
  for (const char* model : models) test::skip_if_unavailable(named(model));
}

void measure(const std::string& model, ScenarioResult* r, uint64_t rounds = kRounds) {
  named(model);
  Scenario sc = test::scenario(model, Transport::kSocketpair, kConns, 64, "10ms", rounds);
  const Status s = run_scenario(sc, r);
  INFO(model << ": " << s.message());
  REQUIRE(s.ok());
  REQUIRE(r->latency.count() == kConns * rounds);
}

double per_round_s(const ScenarioResult& r) { return r.m.wall_s / kRounds; }

}  // namespace

TEST_CASE("polling spins a core and the sleeping models do not", "[timing][quadrants]") {
  // A spinner wants a whole core; 0.8 leaves room for a shared machine. Other
  // load can only take CPU away from it, never add, so the best of a few
  // tries is the fair figure; 10 rounds (~100 ms) so that one preemption
  // (a few ms) does not decide it.
  const auto sleepers = {"blocking", "threadpool", "poll", "epoll", "uring"};
  skip_unless_available({"polling"});
  skip_unless_available(sleepers);
  double polling_util = 0;
  for (int attempt = 0; attempt < 5 && polling_util < 0.8; ++attempt) {
    ScenarioResult polling;
    measure("polling", &polling, 10);
    polling_util = std::max(polling_util, polling.m.cpu_util());
  }
  INFO("polling: " << polling_util << " core (best of up to five tries)");
  CHECK(polling_util >= 0.8);

  for (const char* model : sleepers) {
    ScenarioResult r;
    measure(model, &r);
    INFO(model << ": " << r.m.cpu_util() << " core, " << per_round_s(r) * 1e3 << " ms per round");
    CHECK(r.m.cpu_util() <= 0.1);
  }
}

TEST_CASE("one blocking thread serialises the waits and epoll overlaps them",
          "[timing][quadrants]") {
  skip_unless_available({"blocking", "epoll"});
  ScenarioResult blocking, epoll;
  measure("blocking", &blocking);
  measure("epoll", &epoll);
  INFO("blocking " << per_round_s(blocking) * 1e3 << " ms per round, epoll "
                   << per_round_s(epoll) * 1e3 << " ms per round");
  // blocking waits for each connection in turn: 64 x 10 ms per round.
  CHECK(per_round_s(blocking) >= 0.9 * kConns * kLatencyS);
  // epoll waits for all 64 at once: about one latency per round.
  CHECK(per_round_s(epoll) <= 0.015);
}
