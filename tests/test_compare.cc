// Description: `iomodels compare`: the Mann-Whitney U test against values
// worked by hand, a file against itself (no significant change), a copy whose
// one model burns 20% more CPU per request (flagged; --fail-on exits 1), and
// bad files and flags refused with exit code 2.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "measure/stats.h"
#include "util.h"

using namespace iomodels;

namespace {

const std::string kReference = std::string(IOMODELS_SOURCE_DIR) + "/results/reference/bench.json";

std::string temp_path(const std::string& name) {
  return "/tmp/iomodels-test-compare-" + std::to_string(::getpid()) + "-" + name;
}

// The reference bench file with each repetition present twice (6 a side:
// enough for the test to find a change) and, for the benchmarks whose name
// starts with `scaled_model` + "/", cpu_us_per_req multiplied by `factor`.
std::string write_variant(const std::string& name, const std::string& scaled_model, double factor) {
  // Its cv rows hold NaN, which is not JSON; only the iteration rows are kept.
  std::ifstream in(kReference);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t at; (at = text.find("NaN")) != std::string::npos;) text.replace(at, 3, "null");
  nlohmann::json doc = nlohmann::json::parse(text);
  nlohmann::json out = nlohmann::json::array();
  for (auto b : doc["benchmarks"]) {
    if (b.value("run_type", "") != "iteration") continue;
    const bool scaled = b["name"].get<std::string>().rfind(scaled_model + "/", 0) == 0;
    if (scaled && b.contains("cpu_us_per_req"))
      b["cpu_us_per_req"] = b["cpu_us_per_req"].get<double>() * factor;
    out.push_back(b);
    out.push_back(b);
  }
  doc["benchmarks"] = out;
  const std::string path = temp_path(name);
  std::ofstream(path) << doc.dump();
  return path;
}

}  // namespace

TEST_CASE("compare: Mann-Whitney U p-values match hand-worked ones", "[compare]") {
  // 5 against 5 fully apart: U = 0, mean 12.5, variance 25 * 11 / 12, z =
  // 12 / 4.787 = 2.507 (continuity-corrected), p = 0.0122.
  CHECK(stats::mann_whitney_p({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}) ==
        Approx(0.0122).margin(0.0005));
  CHECK(stats::mann_whitney_p({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}) ==
        Approx(0.0122).margin(0.0005));
  // Interleaved samples: nothing to find.
  CHECK(stats::mann_whitney_p({1, 3, 5, 7, 9}, {2, 4, 6, 8, 10}) > 0.5);
  // Every value tied: no evidence at all.
  CHECK(stats::mann_whitney_p({4, 4, 4}, {4, 4, 4}) == 1.0);
  // 3 against 3 fully apart is not significant at 5% (p = 0.081).
  CHECK(stats::mann_whitney_p({1, 2, 3}, {4, 5, 6}) == Approx(0.081).margin(0.002));
  CHECK(stats::median({3, 1, 2}) == 2);
  CHECK(stats::median({4, 1, 3, 2}) == 2.5);
}

TEST_CASE("compare: a file against itself shows no significant change", "[compare]") {
  const std::string a = write_variant("same.json", "none", 1.0);
  auto r = test::run_iomodels("compare " + a + " " + a + " --fail-on cpu_us_per_req:0");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(" *\n") == std::string::npos);
  CHECK(r.out.find("cpu_us_per_req    +0.0%") != std::string::npos);
  ::unlink(a.c_str());
}

TEST_CASE("compare: one model's CPU per request 20% higher is flagged and fails the gate",
          "[compare]") {
  // NEW is OLD with epoll's cpu_us_per_req scaled by 1.2 (generated here from
  // the reference results, not measured).
  const std::string a = write_variant("old.json", "none", 1.0);
  const std::string b = write_variant("new.json", "epoll", 1.2);
  auto r = test::run_iomodels("compare " + a + " " + b);
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("epoll/socketpair/conns:64/size:4096/lat_us:0/process_time/real_time/"
                   "threads:1 cpu_us_per_req") != std::string::npos);
  CHECK(r.out.find("+20.0%") != std::string::npos);
  CHECK(r.out.find(" *\n") != std::string::npos);
  // Only epoll's rows changed: items_per_second is flagged nowhere.
  size_t flagged_items = 0;
  for (size_t at = 0; (at = r.out.find(" items_per_second ", at)) != std::string::npos; ++at) {
    const size_t eol = r.out.find('\n', at);
    if (r.out.compare(eol - 2, 2, " *") == 0) ++flagged_items;
  }
  CHECK(flagged_items == 0);

  auto gate = test::run_iomodels("compare " + a + " " + b + " --fail-on cpu_us_per_req:10");
  INFO(gate.out);
  CHECK(gate.exit_code == 1);
  CHECK(gate.out.find("--fail-on: epoll/") != std::string::npos);
  // 20% is under a 25% threshold, and better is never a failure.
  CHECK(test::run_iomodels("compare " + a + " " + b + " --fail-on cpu_us_per_req:25").exit_code ==
        0);
  CHECK(test::run_iomodels("compare " + b + " " + a + " --fail-on cpu_us_per_req:10").exit_code ==
        0);
  ::unlink(a.c_str());
  ::unlink(b.c_str());
}

TEST_CASE("compare: bad files and flags exit 2 with one line", "[compare]") {
  const std::string junk = temp_path("junk.json");
  std::ofstream(junk) << "{\"benchmarks\": [";
  const std::string other = temp_path("other.json");
  std::ofstream(other) << "{\"hello\": 1}";
  for (const std::string& args :
       {"compare /nonexistent.json " + kReference, "compare " + junk + " " + kReference,
        "compare " + kReference + " " + other,
        "compare " + kReference + " " + kReference + " --fail-on speed:10",
        "compare " + kReference + " " + kReference + " --fail-on cpu_us_per_req:ten",
        "compare " + kReference}) {
    auto r = test::run_iomodels(args);
    INFO(args << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
  ::unlink(junk.c_str());
  ::unlink(other.c_str());
}
