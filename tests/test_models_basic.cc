// Description: every model × transport completes with every byte verified.
#include <catch2/catch.hpp>

#include "util.h"

using namespace iomodels;

TEST_CASE("blocking and epoll complete a small run on every transport", "[models]") {
  for (const char* model : {"blocking", "epoll"}) {
    for (Transport t : all_transports()) {
      DYNAMIC_SECTION(model << " on " << transport_name(t)) {
        ScenarioResult r;
        const Status s = run_scenario(test::scenario(model, t, 8, 4096, "0", 20), &r);
        INFO(s.message());
        REQUIRE(s.ok());
        CHECK(r.latency.count() == 8 * 20);
        CHECK(r.peer.requests >= 8 * 20);
      }
    }
  }
}
