// Description: the warnings that qualify a result: a machine busy at the
// start (load average) and a peer that answered later than the latency it
// was asked for; on `run`'s stderr and in its JSON.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "measure/env.h"
#include "run/figures.h"
#include "util.h"

using namespace iomodels;
using nlohmann::json;

namespace {

bool has_warning(const json& warnings, const std::string& start) {
  for (const json& w : warnings)
    if (w.get<std::string>().rfind(start, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("machine_busy compares the load average with half the CPUs", "[warnings]") {
  CHECK_FALSE(machine_busy(0.9, 2));
  CHECK_FALSE(machine_busy(1.0, 2));
  CHECK(machine_busy(1.01, 2));
  CHECK(machine_busy(4.5, 8));
  CHECK_FALSE(machine_busy(-1, 2));  // unknown
  CHECK_FALSE(machine_busy(3, 0));   // no CPU count
  CHECK(load_average() >= 0);        // /proc/loadavg is there on Linux
}

TEST_CASE("peer_late compares the peer's p99 lateness with the configured latency", "[warnings]") {
  Scenario sc = test::scenario("epoll", Transport::kSocketpair, 64, 64, "1ms", 10);
  PeerStats peer;
  peer.late_p99_ns = 900'000;  // 0.9 ms beyond the due time at 1 ms: late, but within it
  CHECK_FALSE(peer_late(sc, peer));
  peer.late_p99_ns = 1'000'001;
  CHECK(peer_late(sc, peer));

  // A distribution: its typical value (uniform: the middle).
  Scenario uni = test::scenario("epoll", Transport::kSocketpair, 64, 64, "uniform:100us-300us", 10);
  peer.late_p99_ns = 150'000;
  CHECK_FALSE(peer_late(uni, peer));
  peer.late_p99_ns = 250'000;
  CHECK(peer_late(uni, peer));

  // Latency 0: every answer is "late" by its own send time; no warning.
  Scenario zero = test::scenario("epoll", Transport::kSocketpair, 64, 64, "0", 10);
  CHECK_FALSE(peer_late(zero, peer));
  // A remote peer applies its own latency; a file has no peer.
  PeerStats remote = peer;
  remote.remote = true;
  CHECK_FALSE(peer_late(uni, remote));
  PeerStats none = peer;
  none.none = true;
  CHECK_FALSE(peer_late(uni, none));
}

TEST_CASE("a result's JSON carries its warnings", "[warnings]") {
  const Scenario sc = test::scenario("epoll", Transport::kSocketpair, 64, 64, "250us", 10);
  ScenarioResult r;
  r.load_at_start = 0.0;
  r.peer.late_p99_ns = 10'000;  // 10 us beyond the due time at 250 us: on time
  json j = result_json(sc, r);
  CHECK(j.at("warnings").empty());
  CHECK_FALSE(j.at("peer").at("late").get<bool>());
  CHECK_FALSE(j.at("machine_busy_at_start").get<bool>());
  CHECK(j.at("load_average_at_start").get<double>() == 0.0);

  // Busier than any machine can be idle at, and 400 us late at 250 us.
  r.load_at_start = 1e6;
  r.peer.late_p99_ns = 400'000;
  j = result_json(sc, r);
  REQUIRE(j.at("warnings").size() == 2);
  CHECK(has_warning(j["warnings"], "the machine was busy at the start: load average 1000000.00"));
  CHECK(has_warning(j["warnings"],
                    "the peer answered late: p99 400.0 us beyond the due time at latency 250us"));
  CHECK(j.at("peer").at("late").get<bool>());
  CHECK(j.at("machine_busy_at_start").get<bool>());
  for (const json& w : j["warnings"]) CHECK(w.get<std::string>().find('\n') == std::string::npos);

  // Not measured (Session::measure alone, as bench does): null, not busy.
  r.load_at_start = -1;
  j = result_json(sc, r);
  CHECK(j.at("load_average_at_start").is_null());
  CHECK_FALSE(j.at("machine_busy_at_start").get<bool>());
}

TEST_CASE("run warns on stderr and in its JSON when the peer answers late", "[warnings][timing]") {
  // 1,000 requests that arrive together, each due 1 us after it arrives: the
  // peer reads and answers them one by one, so most leave long after 1 us.
  const test::TempDir dir("iomodels_warn");
  const std::string out = dir.file("run.json");
  const test::CommandResult r =
      test::run_iomodels("run -m epoll -c 1000 -s 64 -l 1us -r 5 --json " + out);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);  // a warning does not change the exit code
  const json doc = test::read_json(out);
  const double late_p99_us = doc.at("peer").at("late_p99_us");
  INFO("peer late p99 " << late_p99_us << " us");
  REQUIRE(doc.at("peer").at("late").get<bool>());
  CHECK(late_p99_us > 1.0);
  CHECK(has_warning(doc.at("warnings"), "the peer answered late: p99 "));
  CHECK(r.out.find("iomodels: warning: the peer answered late: p99 ") != std::string::npos);
  // The busy-machine warning follows the load average the JSON states.
  const bool busy = doc.at("machine_busy_at_start").get<bool>();
  CHECK(busy == machine_busy(doc.at("load_average_at_start").get<double>(), environment().cores));
  CHECK(busy ==
        (r.out.find("iomodels: warning: the machine was busy at the start") != std::string::npos));
}
