// Description: `iomodels ab` and its statistics: the interval of a median and
// the Hodges-Lehmann interval cover the truth as often as they claim (many
// synthetic draws), the signed-rank distribution matches its table, the same
// binary on both sides pairs its rounds in alternating order (how often it
// calls a difference is measured by tools/ab_campaign.sh, not asserted: at
// 95% it may, one time in twenty), a threefold slowdown of B is
// called slower on CPU per request, bad flags exit 2 before any run, and the
// JSON holds every round and verdict.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "measure/stats.h"
#include "util.h"

using namespace iomodels;

namespace {

std::string ab_temp(const std::string& name) {
  return "/tmp/iomodels-test-ab-" + std::to_string(::getpid()) + "-" + name;
}

// A quick, real run both sides make: 8 connections, 200 rounds at 50 us.
const char* const kQuickRun = "-m epoll -t socketpair -c 8 -s 4KiB -l 50us -r 200";

}  // namespace

TEST_CASE("ab: the median's interval covers the true median as often as it claims", "[compare]") {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> expo(1.0);  // skewed: median ln 2
  for (size_t n : {6u, 9u, 20u}) {
    int covered = 0;
    double claimed = 0;
    const int draws = 4000;
    for (int i = 0; i < draws; ++i) {
      std::vector<double> v;
      for (size_t j = 0; j < n; ++j) v.push_back(expo(rng));
      const stats::Interval in = stats::median_interval(v, 0.95);
      claimed = in.coverage;
      covered += in.lo <= std::log(2.0) && std::log(2.0) <= in.hi;
    }
    INFO("n " << n << " claimed " << claimed << " covered " << covered);
    CHECK(claimed >= 0.95);
    CHECK(std::abs(covered / static_cast<double>(draws) - claimed) <
          3 * std::sqrt(claimed * (1 - claimed) / draws));
  }
}

TEST_CASE("ab: Wilcoxon's signed-rank interval has the table's coverage and holds the shift",
          "[compare]") {
  // n = 10: P(T+ <= 8) = 25/1024, the two-sided 5% critical value of the tables.
  std::vector<double> d = {0.1, -0.2, 0.3, 0.05, 0.12, -0.04, 0.2, 0.15, 0.08, 0.01};
  const stats::Shift s = stats::hodges_lehmann(d, 0.95);
  CHECK(s.interval.coverage == Approx(1 - 2 * 25.0 / 1024));
  CHECK(s.interval.lo <= s.estimate);
  CHECK(s.estimate <= s.interval.hi);
  // Symmetric noise about a known shift of 0.3: covered as often as claimed.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 1.0);
  int covered = 0;
  const int draws = 3000;
  double claimed = 0;
  for (int i = 0; i < draws; ++i) {
    std::vector<double> x;
    for (int j = 0; j < 12; ++j) x.push_back(0.3 + noise(rng));
    const stats::Shift h = stats::hodges_lehmann(x, 0.95);
    claimed = h.interval.coverage;
    covered += h.interval.lo <= 0.3 && 0.3 <= h.interval.hi;
  }
  INFO("claimed " << claimed << " covered " << covered);
  CHECK(claimed >= 0.95);
  CHECK(std::abs(covered / static_cast<double>(draws) - claimed) <
        3 * std::sqrt(claimed * (1 - claimed) / draws));
}

TEST_CASE("ab: bad flags exit 2 with one line before any run", "[compare]") {
  for (const char* args :
       {"--rounds 3", "--rounds x", "--rounds 6", "--rounds 6 --figures p99_us --confidence 99",
        "--figures cpu", "--confidence 100", "--a /nonexistent/iomodels", "--b-env NOEQUALS",
        "--timeout 1ms", "-- --json x.json", "-- --trace=t.json"}) {
    INFO(args);
    const test::CommandResult r = test::run_iomodels(std::string("ab ") + args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("iomodels: error: ") == 0);
    CHECK(r.out.find("ab: round") == std::string::npos);
  }
  // A run argument both sides refuse stops at the unmeasured first run.
  const test::CommandResult r = test::run_iomodels("ab -- --connections 0");
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("--connections") != std::string::npos);
  CHECK(r.out.find("ab: round") == std::string::npos);
}

TEST_CASE("ab: the same binary on both sides: rounds paired, orders alternate, intervals hold",
          "[compare]") {
  const std::string json = ab_temp("same.json");
  const test::CommandResult r =
      test::run_iomodels("ab --rounds 7 --json " + json + " -- " + std::string(kQuickRun));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in);
  ::unlink(json.c_str());
  REQUIRE(j["rounds"].size() == 7);
  CHECK(j["rounds"][0]["order"] == "AB");
  CHECK(j["rounds"][1]["order"] == "BA");
  // Each run says what the rest of the machine took meanwhile.
  CHECK(j["rounds"][0]["a"]["others_cores"].get<double>() >= 0);
  CHECK(j["rounds"][0]["b"]["others_cores"].get<double>() >= 0);
  CHECK(r.out.find("other processes and steal:") != std::string::npos);
  REQUIRE(j["verdicts"].size() == 2);
  for (const auto& v : j["verdicts"]) {
    INFO(v.dump());
    // With 7 pairs the extreme Walsh averages bound the interval (98.4%
    // each, at least the 97.5% two figures need for 95% together).
    CHECK(v["ratio_low"].get<double>() <= v["ratio"].get<double>());
    CHECK(v["ratio"].get<double>() <= v["ratio_high"].get<double>());
    CHECK(v["coverage"].get<double>() >= 0.975);
  }
}

TEST_CASE("ab: B three times as costly per request is called slower", "[compare]") {
  const test::CommandResult r = test::run_iomodels(
      "ab --rounds 6 --figures cpu_us_per_req --fail-if-slower --b-env "
      "IOMODELS_TEST_SLOWDOWN=epoll:200 -- " +
      std::string(kQuickRun));
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("cpu_us_per_req") != std::string::npos);
  CHECK(r.out.find("slower (+") != std::string::npos);
}
