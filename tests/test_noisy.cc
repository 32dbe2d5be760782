// Description: the spread of a bench point over its repetitions and the noisy
// marker: on fixed numbers, through the reporter, and end to end with a
// spinner that takes the model's CPU during some of the repetitions.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/noisy.h"
#include "measure/recorder.h"
#include "util.h"

using namespace iomodels;
using namespace iomodels::bench;
using nlohmann::json;
using Run = benchmark::BenchmarkReporter::Run;

namespace {

Run repetition(const std::string& name, int64_t index, double cpu, double throughput) {
  Run r;
  r.run_name.function_name = name;
  r.run_type = Run::RT_Iteration;
  r.repetitions = 3;
  r.repetition_index = index;
  r.counters[kCpuCounter] = benchmark::Counter(cpu);
  r.counters[kThroughputCounter] = benchmark::Counter(throughput);
  return r;
}

Run aggregate(const std::string& name, const std::string& which, double cpu, double throughput) {
  Run r;
  r.run_name.function_name = name;
  r.run_type = Run::RT_Aggregate;
  r.aggregate_name = which;
  r.repetitions = 3;
  r.iterations = 3;
  r.counters[kCpuCounter] = benchmark::Counter(cpu);
  r.counters[kThroughputCounter] = benchmark::Counter(throughput);
  return r;
}

// Keeps what it is handed, for the checks.
class Keeper final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    kept.insert(kept.end(), runs.begin(), runs.end());
  }
  std::vector<Run> kept;
};

}  // namespace

TEST_CASE("spread_of gives the median, mean and sample CV of fixed numbers", "[bench]") {
  const Spread s = spread_of({4, 1, 3, 2});
  CHECK(s.n == 4);
  CHECK(s.median == Approx(2.5));  // the mean of the two middle values
  CHECK(s.mean == Approx(2.5));
  CHECK(s.min == 1);
  CHECK(s.max == 4);
  // Sample standard deviation sqrt(5/3) over the mean 2.5.
  CHECK(s.cv == Approx(std::sqrt(5.0 / 3.0) / 2.5));

  const Spread odd = spread_of({10, 30, 20});
  CHECK(odd.median == 20);
  CHECK(odd.cv == Approx(0.5));  // sd 10, mean 20

  CHECK(spread_of({7}).cv == 0);
  CHECK(spread_of({}).n == 0);
  CHECK(spread_of({0, 0, 0}).cv == 0);  // no division by a zero mean
}

TEST_CASE("a point is noisy when either CV is above 5%", "[bench]") {
  Spread steady, moving;
  steady.cv = kNoisyCv;  // at the bar: not noisy
  moving.cv = kNoisyCv + 1e-9;
  CHECK_FALSE(is_noisy(steady, steady));
  CHECK(is_noisy(moving, steady));
  CHECK(is_noisy(steady, moving));
  CHECK(kNoisyCv == 0.05);
  // 100, 100, 112: CV 6.7% (noisy); 100, 101, 102: CV 1.0% (steady).
  CHECK(is_noisy(spread_of({100, 100, 112}), spread_of({100, 101, 102})));
  CHECK_FALSE(is_noisy(spread_of({100, 101, 102}), spread_of({100, 101, 102})));
}

TEST_CASE("SpreadLog works out each point once, from its repetitions or its aggregates",
          "[bench]") {
  SpreadLog log;
  // A point's repetitions, then its aggregates, as Google Benchmark reports them.
  CHECK_FALSE(log.note({repetition("a", 0, 10, 1000), repetition("a", 1, 10, 1000),
                        repetition("a", 2, 13, 700)})
                  .has_value());
  const std::vector<Run> aggs = {aggregate("a", "mean", 11, 900),
                                 aggregate("a", "median", 10, 1000),
                                 aggregate("a", "cv", 0.157, 0.19)};
  std::optional<PointSpread> p = log.note(aggs);
  REQUIRE(p.has_value());
  CHECK(p->name == "a");
  CHECK(p->cpu.n == 3);
  CHECK(p->cpu.median == 10);
  CHECK(p->cpu.min == 10);
  CHECK(p->cpu.max == 13);
  CHECK(p->throughput.median == 1000);
  CHECK(p->cpu.cv == Approx(spread_of({10, 10, 13}).cv));
  CHECK(p->noisy);
  // The file reporter sees the same runs: counted once.
  CHECK_FALSE(log.note({repetition("a", 0, 99, 1), repetition("a", 1, 99, 1)}).has_value());
  REQUIRE(log.note(aggs).has_value());
  CHECK(log.points().size() == 1);
  CHECK(log.points()[0].cpu.max == 13);

  // Aggregates only (--benchmark_report_aggregates_only): Google Benchmark's median and cv.
  p = log.note({aggregate("b", "mean", 5, 200), aggregate("b", "median", 5, 200),
                aggregate("b", "stddev", 0.1, 2), aggregate("b", "cv", 0.02, 0.01)});
  REQUIRE(p.has_value());
  CHECK(p->cpu.median == 5);
  CHECK(p->cpu.cv == Approx(0.02));
  CHECK(p->throughput.cv == Approx(0.01));
  CHECK(std::isnan(p->cpu.min));
  CHECK_FALSE(p->noisy);
  CHECK(log.points().size() == 2);

  // A single run has no spread.
  Run once = repetition("c", 0, 1, 1);
  once.repetitions = 1;
  CHECK_FALSE(log.note({once}).has_value());
  CHECK(log.points().size() == 2);
}

TEST_CASE("NoisyReporter marks the mean and median aggregates and sums up the noisy points",
          "[bench]") {
  SpreadLog log;
  Keeper keeper;
  NoisyReporter r(&keeper, &log, false);
  r.ReportRuns(
      {repetition("a", 0, 10, 1000), repetition("a", 1, 10, 1000), repetition("a", 2, 13, 700)});
  r.ReportRuns({aggregate("a", "mean", 11, 900), aggregate("a", "median", 10, 1000),
                aggregate("a", "stddev", 1.7, 170), aggregate("a", "cv", 0.157, 0.19)});
  r.ReportRuns(
      {repetition("b", 0, 5, 200), repetition("b", 1, 5, 200), repetition("b", 2, 5, 201)});
  r.ReportRuns({aggregate("b", "mean", 5, 200), aggregate("b", "median", 5, 200)});
  REQUIRE(keeper.kept.size() == 12);
  for (const Run& run : keeper.kept) {
    INFO(run.run_name.str() << " " << run.aggregate_name);
    const bool marked = run.run_type == Run::RT_Aggregate &&
                        (run.aggregate_name == "mean" || run.aggregate_name == "median");
    REQUIRE(run.counters.count(kNoisyCounter) == (marked ? 1u : 0u));
    if (marked) CHECK(run.counters.at(kNoisyCounter).value == (run.run_name.str() == "a" ? 1 : 0));
  }

  const std::string text = noisy_summary(log.points());
  INFO(text);
  CHECK(text.find("NOISY: 1 of 2 points") != std::string::npos);
  CHECK(text.find("NOISY a  cpu_us_per_req 10.00 (CV 15.7%, 10.00..13.00)") != std::string::npos);
  CHECK(text.find("NOISY b") == std::string::npos);
  CHECK(noisy_summary({}).empty());
  CHECK(noisy_summary({log.points()[1]}).find("no noisy point") != std::string::npos);
}

TEST_CASE("bench marks a point noisy when a spinner takes its CPU for some repetitions",
          "[bench][timing]") {
  // The model (polling: it wants its whole CPU) on CPU 0 and the peer on the
  // last one; a spinner shares CPU 0 during the first repetitions only, so
  // those run at a fraction of the others' throughput.
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  const std::string placement =
      cpus >= 2 ? "--cpus model=0,peer=" + std::to_string(cpus - 1) : "--cpus none";
  const pid_t spinner = ::fork();
  REQUIRE(spinner >= 0);
  if (spinner == 0) {
    if (cpus >= 2) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(0, &set);
      ::sched_setaffinity(0, sizeof set, &set);
    }
    const uint64_t end = now_ns() + 600'000'000;
    while (now_ns() < end) {
    }
    std::_Exit(0);
  }
  const test::TempDir dir("iomodels_noisy");
  const std::string out = dir.file("bench.json");
  // Six repetitions of 0.15 s after the first one's iteration-count trials:
  // about 1.2 s, of which the spinner takes the first 0.6 s.
  const test::CommandResult r = test::run_iomodels(
      "bench --models polling --connections 1 --sizes 64 --latencies 0 " + placement +
      " --benchmark_min_time=0.15 --benchmark_repetitions=6 --benchmark_out=" + out);
  ::kill(spinner, SIGKILL);
  ::waitpid(spinner, nullptr, 0);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);

  const json doc = test::read_json(out);
  CHECK(doc.at("context").at("noisy_cv") == "0.05");
  int marked = 0;
  double cv_cpu = 0, cv_throughput = 0;
  for (const json& b : doc.at("benchmarks")) {
    const std::string which = b.value("aggregate_name", "");
    if (which == "mean" || which == "median") {
      INFO(b.at("name"));
      CHECK(b.at("noisy").get<double>() == 1);
      ++marked;
    } else {
      CHECK_FALSE(b.contains("noisy"));
    }
    if (which == "cv") {
      cv_cpu = b.at("cpu_us_per_req");
      cv_throughput = b.at("items_per_second");
    }
  }
  INFO("CV of cpu_us_per_req " << cv_cpu << ", of items_per_second " << cv_throughput);
  CHECK(marked == 2);
  CHECK(std::max(cv_cpu, cv_throughput) > kNoisyCv);
  CHECK(r.out.find("NOISY: 1 of 1 points") != std::string::npos);
  CHECK(r.out.find("NOISY polling/socketpair/conns:1/size:64/lat_us:0  cpu_us_per_req") !=
        std::string::npos);
}
