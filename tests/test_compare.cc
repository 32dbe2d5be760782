// Description: `iomodels compare`: the Mann-Whitney U test and the
// two-sample shift's interval against values worked by hand and a known
// distribution, a file against itself (a tie), a copy whose one model burns
// 20% more CPU per request (worse; --fail-on exits 1), several files a side
// (runs as the unit), and bad files and flags refused with exit code 2.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
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
  CHECK(stats::mann_whitney_p({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}) == Approx(0.0122).margin(0.0005));
  CHECK(stats::mann_whitney_p({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}) == Approx(0.0122).margin(0.0005));
  // Interleaved samples: nothing to find.
  CHECK(stats::mann_whitney_p({1, 3, 5, 7, 9}, {2, 4, 6, 8, 10}) > 0.5);
  // Every value tied: no evidence at all.
  CHECK(stats::mann_whitney_p({4, 4, 4}, {4, 4, 4}) == 1.0);
  // 3 against 3 fully apart is not significant at 5% (p = 0.081).
  CHECK(stats::mann_whitney_p({1, 2, 3}, {4, 5, 6}) == Approx(0.081).margin(0.002));
  CHECK(stats::median({3, 1, 2}) == 2);
  CHECK(stats::median({4, 1, 3, 2}) == 2.5);
}

TEST_CASE("compare: the two-sample shift's interval has the rank-sum table's coverage",
          "[compare]") {
  // 3 against 3 fully apart: the differences 1,2,2,3,3,3,4,4,5 (median 3); 20
  // orders, one with U = 0, so even the extreme differences cover only 90%.
  stats::Shift s = stats::shift_between({1, 2, 3}, {4, 5, 6}, 0.95);
  CHECK(s.estimate == 3);
  CHECK(s.interval.lo == 1);
  CHECK(s.interval.hi == 5);
  CHECK(s.interval.coverage == Approx(0.9));
  // 5 against 5: P(U < 3) = 4/252 and P(U < 4) = 7/252, so k = 3 covers
  // 1 - 8/252 (96.8%) and k = 4 only 94.4%.
  s = stats::shift_between({0, 10, 20, 30, 40}, {1, 2, 3, 4, 5}, 0.95);
  CHECK(s.interval.coverage == Approx(1 - 8.0 / 252));
  CHECK(std::isnan(stats::shift_between({}, {1}, 0.95).estimate));

  // Skewed samples (log-normal) of 6 and 9, b shifted by 0.4 on the log
  // scale: the interval covers the shift as often as it claims.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.3);
  std::exponential_distribution<double> skew(4.0);
  const int draws = 3000;
  int covered = 0;
  double claimed = 0;
  for (int i = 0; i < draws; ++i) {
    std::vector<double> a, b;
    for (int j = 0; j < 6; ++j) a.push_back(noise(rng) + skew(rng));
    for (int j = 0; j < 9; ++j) b.push_back(0.4 + noise(rng) + skew(rng));
    const stats::Shift h = stats::shift_between(a, b, 0.95);
    claimed = h.interval.coverage;
    covered += h.interval.lo <= 0.4 && 0.4 <= h.interval.hi;
  }
  INFO("claimed " << claimed << " covered " << covered << " of " << draws);
  CHECK(claimed >= 0.95);
  CHECK(std::abs(covered / static_cast<double>(draws) - claimed) <
        3 * std::sqrt(claimed * (1 - claimed) / draws));
}

TEST_CASE("compare: a file against itself is a tie everywhere", "[compare]") {
  const std::string a = write_variant("same.json", "none", 1.0);
  auto r = test::run_iomodels("compare " + a + " " + a + " --fail-on cpu_us_per_req:0");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(" worse\n") == std::string::npos);
  CHECK(r.out.find(" better\n") == std::string::npos);
  CHECK(r.out.find("cpu_us_per_req") != std::string::npos);
  CHECK(r.out.find("+0.0% [") != std::string::npos);
  CHECK(r.out.find("  tie ±") != std::string::npos);
  CHECK(r.out.find("the unit is the repetition (1 old and 1 new files, pooled)") !=
        std::string::npos);
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
  CHECK(r.out.find("  worse\n") != std::string::npos);
  // Only epoll's CPU per request changed: nothing else is worse or better.
  size_t flagged = 0, epoll_cpu = 0;
  for (size_t at = 0; (at = r.out.find('\n', at)) != std::string::npos; ++at) {
    const size_t start = r.out.rfind('\n', at - 1) + 1;
    const std::string line = r.out.substr(start, at - start);
    if (line.size() > 6 && (line.compare(line.size() - 6, 6, " worse") == 0 ||
                            line.compare(line.size() - 7, 7, " better") == 0)) {
      ++flagged;
      epoll_cpu +=
          line.rfind("epoll/", 0) == 0 && line.find(" cpu_us_per_req ") != std::string::npos;
    }
  }
  CHECK(flagged == epoll_cpu);
  CHECK(epoll_cpu >= 1);
  // One file a side: the note that the verdict is about these runs.
  CHECK(r.out.find("not that the builds do") != std::string::npos);

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

TEST_CASE("compare: several files a side make each file's median one sample", "[compare]") {
  std::string olds, news;
  std::vector<std::string> files;
  for (int i = 0; i < 4; ++i) {
    files.push_back(write_variant("old" + std::to_string(i) + ".json", "none", 1.0));
    olds += " " + files.back();
    files.push_back(write_variant("new" + std::to_string(i) + ".json", "epoll", 1.2));
    news += " " + files.back();
  }
  auto r =
      test::run_iomodels("compare --old" + olds + " --new" + news + " --fail-on cpu_us_per_req:10");
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("the unit is the run: 4 old and 4 new files") != std::string::npos);
  // Four against four: every difference is ln 1.2, so the interval is +20% at both ends.
  CHECK(r.out.find("+20.0% [+20.0%, +20.0%]") != std::string::npos);
  CHECK(r.out.find("not that the builds do") == std::string::npos);
  CHECK(r.out.find("--fail-on: epoll/") != std::string::npos);

  // Two against two cannot reach 95% (1 - 2/6): no verdict, and said so.
  auto few = test::run_iomodels("compare --old " + files[0] + " " + files[2] + " --new " +
                                files[1] + " " + files[3]);
  INFO(few.out);
  CHECK(few.exit_code == 0);
  CHECK(few.out.find("  too few\n") != std::string::npos);
  CHECK(few.out.find(" worse\n") == std::string::npos);
  CHECK(few.out.find("too few samples a side for a 95% interval") != std::string::npos);
  for (const std::string& f : files) ::unlink(f.c_str());
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
        "compare " + kReference, "compare --old " + kReference, "compare --new " + kReference,
        "compare " + kReference + " --old " + kReference + " --new " + kReference}) {
    auto r = test::run_iomodels(args);
    INFO(args << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
  ::unlink(junk.c_str());
  ::unlink(other.c_str());
}
