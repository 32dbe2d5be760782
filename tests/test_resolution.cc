// Description: a bench point over its repetitions: each figure's median and
// its 95% interval, whether the point is resolved and why not, on fixed
// numbers, through the reporter, and end to end with a spinner that takes the
// model's CPU during some of the repetitions.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/grid.h"
#include "bench/resolution.h"
#include "measure/recorder.h"
#include "util.h"

using namespace iomodels;
using namespace iomodels::bench;
using nlohmann::json;
using Run = benchmark::BenchmarkReporter::Run;
using Values = std::map<std::string, std::vector<double>>;

namespace {

Run repetition(const std::string& name, int64_t index, double cpu, double throughput,
               int64_t repetitions = 6) {
  Run r;
  r.run_name.function_name = name;
  r.run_type = Run::RT_Iteration;
  r.repetitions = repetitions;
  r.repetition_index = index;
  r.counters[kCpuCounter] = benchmark::Counter(cpu);
  r.counters[kThroughputCounter] = benchmark::Counter(throughput);
  return r;
}

std::vector<Run> repetitions(const std::string& name, const std::vector<double>& cpu,
                             const std::vector<double>& throughput) {
  std::vector<Run> out;
  for (size_t i = 0; i < cpu.size(); ++i)
    out.push_back(repetition(name, static_cast<int64_t>(i), cpu[i], throughput[i],
                             static_cast<int64_t>(cpu.size())));
  return out;
}

Run aggregate(const std::string& name, const std::string& which, double cpu, double throughput) {
  Run r;
  r.run_name.function_name = name;
  r.run_type = Run::RT_Aggregate;
  r.aggregate_name = which;
  r.repetitions = 6;
  r.iterations = 6;
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

const std::vector<double> kTightCpu = {10.0, 10.1, 9.9, 10.2, 10.0, 9.95};
const std::vector<double> kTightThroughput = {1000, 1010, 990, 1005, 995, 1000};
const std::vector<double> kWideCpu = {10, 10, 10, 14, 15, 16};

}  // namespace

TEST_CASE("spread_of gives the median, its order-statistic interval and the range", "[bench]") {
  const Spread s = spread_of({4, 1, 3, 2});
  CHECK(s.n == 4);
  CHECK(s.median == Approx(2.5));  // the mean of the two middle values
  CHECK(s.min == 1);
  CHECK(s.max == 4);
  // Four values cannot reach 95%: the range, covering 1 - 2/16.
  CHECK(s.lo == 1);
  CHECK(s.hi == 4);
  CHECK(s.coverage == Approx(0.875));

  const Spread six = spread_of({6, 1, 5, 2, 4, 3});
  CHECK(six.lo == 1);
  CHECK(six.hi == 6);
  CHECK(six.coverage == Approx(1 - 2.0 / 64));
  CHECK(six.coverage >= kLevel);
  // Twenty values: the 6th and 15th smallest (k = 6 covers 95.9%).
  std::vector<double> twenty;
  for (int i = 20; i >= 1; --i) twenty.push_back(i);
  const Spread t = spread_of(twenty);
  CHECK(t.lo == 6);
  CHECK(t.hi == 15);
  CHECK(t.coverage >= kLevel);
  CHECK(t.half_width() == Approx((15 - 10.5) / 10.5));

  const Spread one = spread_of({7});
  CHECK(one.median == 7);
  CHECK(std::isnan(one.lo));
  CHECK(std::isinf(one.half_width()));
  CHECK(spread_of({}).n == 0);
  CHECK(std::isinf(spread_of({0, 0, 0, 0, 0, 0}).half_width()));  // no division by zero
}

TEST_CASE("resolve: six tight repetitions resolve a point; fewer or wider do not", "[bench]") {
  const Values tight = {{kCpuCounter, kTightCpu}, {kThroughputCounter, kTightThroughput}};
  const PointSpread ok = resolve("p", tight, kDefaultPrecision);
  CHECK(ok.resolved);
  CHECK(ok.why.empty());
  CHECK(ok.figures.at(kCpuCounter).n == 6);

  // The same numbers, one fewer: no 95% interval.
  Values five = tight;
  five[kCpuCounter].pop_back();
  five[kThroughputCounter].pop_back();
  const PointSpread few = resolve("p", five, kDefaultPrecision);
  CHECK_FALSE(few.resolved);
  CHECK(few.why == "5 repetitions: a 95% interval needs at least 6");

  // The bar is inclusive: median 100, interval [95, 105] is ±5%.
  const Values edge = {{kCpuCounter, {95, 100, 100, 100, 100, 105}},
                       {kThroughputCounter, kTightThroughput}};
  CHECK(resolve("p", edge, 0.05).resolved);
  CHECK_FALSE(resolve("p", edge, 0.04).resolved);

  const PointSpread none = resolve("p", {{kCpuCounter, kTightCpu}}, kDefaultPrecision);
  CHECK_FALSE(none.resolved);
  CHECK(none.why == "no CPU per request or throughput in its repetitions");
}

TEST_CASE("resolve names what was seen during an unresolved point", "[bench]") {
  Values wide = {{kCpuCounter, kWideCpu}, {kThroughputCounter, kTightThroughput}};
  SECTION("other processes") {
    wide[kOthersCounter] = {0.9, 0.6, 0, 0.1, 0, 0};
    const PointSpread p = resolve("p", wide, kDefaultPrecision);
    CHECK_FALSE(p.resolved);
    INFO(p.why);
    CHECK(p.why.rfind("cpu_us_per_req 12.0 [10.0, 16.0] ±33%; ", 0) == 0);
    CHECK(p.why.find("items_per_second") == std::string::npos);  // that one is tight
    CHECK(p.why.find("other processes used more than 0.25 core during 2 of 6 repetitions (up "
                     "to 0.90)") != std::string::npos);
    CHECK(p.why.find("events per wait") == std::string::npos);
  }
  SECTION("the regime") {
    wide[kOthersCounter] = {0, 0, 0, 0, 0, 0};
    wide[kEventsCounter] = {1, 1.1, 1, 3, 4, 3.5};
    const PointSpread p = resolve("p", wide, kDefaultPrecision);
    INFO(p.why);
    CHECK(p.why.find("events per wait ranged 1.00 to 4.00") != std::string::npos);
    CHECK(p.why.find("other processes used") == std::string::npos);
  }
  SECTION("neither: the run's own spread") {
    wide[kOthersCounter] = {0, 0.1, 0, 0, 0, 0};
    wide[kEventsCounter] = {2, 2.1, 2, 2.2, 2, 2};
    const PointSpread p = resolve("p", wide, kDefaultPrecision);
    INFO(p.why);
    CHECK(p.why.find("the spread is the run's own") != std::string::npos);
  }
  SECTION("nothing recorded about the others") {
    const PointSpread p = resolve("p", wide, kDefaultPrecision);
    CHECK(p.why.find("other processes' CPU not recorded") != std::string::npos);
  }
}

TEST_CASE("SpreadLog works out each point once, from its repetitions", "[bench]") {
  SpreadLog log;
  // A point's repetitions, then its aggregates, as Google Benchmark reports them.
  CHECK_FALSE(log.note(repetitions("a", kWideCpu, kTightThroughput)).has_value());
  const std::vector<Run> aggs = {aggregate("a", "mean", 12.5, 1000),
                                 aggregate("a", "median", 12, 1000)};
  std::optional<PointSpread> p = log.note(aggs);
  REQUIRE(p.has_value());
  CHECK(p->name == "a");
  CHECK(p->figures.at(kCpuCounter).n == 6);
  CHECK(p->figures.at(kCpuCounter).median == 12);
  CHECK(p->figures.at(kCpuCounter).hi == 16);
  CHECK_FALSE(p->resolved);
  // The file reporter sees the same runs: counted once.
  CHECK_FALSE(log.note(repetitions("a", kTightCpu, kTightThroughput)).has_value());
  REQUIRE(log.note(aggs).has_value());
  CHECK(log.points().size() == 1);
  CHECK(log.points()[0].figures.at(kCpuCounter).max == 16);

  // Aggregates only (--benchmark_report_aggregates_only): no interval.
  p = log.note({aggregate("b", "mean", 5, 200), aggregate("b", "median", 5, 200)});
  REQUIRE(p.has_value());
  CHECK_FALSE(p->resolved);
  CHECK(p->figures.at(kCpuCounter).median == 5);
  CHECK(std::isnan(p->figures.at(kCpuCounter).lo));
  CHECK(p->why.find("aggregates only") != std::string::npos);
  CHECK(log.points().size() == 2);

  // A single run has no spread.
  CHECK_FALSE(log.note({repetition("c", 0, 1, 1, 1)}).has_value());
  CHECK(log.points().size() == 2);
}

TEST_CASE("ResolvingReporter adds the intervals and the verdict and sums up", "[bench]") {
  SpreadLog log(kDefaultPrecision);
  Keeper keeper;
  ResolvingReporter r(&keeper, &log, false);
  r.ReportRuns(repetitions("a", kWideCpu, kTightThroughput));
  r.ReportRuns({aggregate("a", "mean", 12.5, 1000), aggregate("a", "median", 12, 1000),
                aggregate("a", "stddev", 2.7, 7), aggregate("a", "cv", 0.22, 0.007)});
  r.ReportRuns(repetitions("b", kTightCpu, kTightThroughput));
  r.ReportRuns({aggregate("b", "mean", 10, 1000), aggregate("b", "median", 10, 1000)});
  REQUIRE(keeper.kept.size() == 18);
  for (const Run& run : keeper.kept) {
    INFO(run.run_name.str() << " " << run.aggregate_name);
    const bool aggregate_row = run.run_type == Run::RT_Aggregate;
    const bool marked =
        aggregate_row && (run.aggregate_name == "mean" || run.aggregate_name == "median");
    REQUIRE(run.counters.count(kResolvedCounter) == (marked ? 1u : 0u));
    if (marked)
      CHECK(run.counters.at(kResolvedCounter).value == (run.run_name.str() == "a" ? 0 : 1));
    const bool median = aggregate_row && run.aggregate_name == "median";
    CHECK(run.counters.count("cpu_us_per_req_lo") == (median ? 1u : 0u));
    CHECK(run.counters.count("items_per_second_hi") == (median ? 1u : 0u));
    if (median && run.run_name.str() == "a") {
      CHECK(run.counters.at("cpu_us_per_req_lo").value == 10);
      CHECK(run.counters.at("cpu_us_per_req_hi").value == 16);
    }
    // Figures the repetitions did not have get no bounds.
    CHECK(run.counters.count("p99_us_lo") == 0);
  }

  const std::string text = resolution_summary(log.points(), kDefaultPrecision);
  INFO(text);
  CHECK(text.find("over up to 6 repetitions") != std::string::npos);
  CHECK(text.find("within ±5% of their medians") != std::string::npos);
  CHECK(text.find("resolved: 1 of 2 points") != std::string::npos);
  CHECK(text.find("  UNRESOLVED a: cpu_us_per_req 12.0 [10.0, 16.0] ±33%") != std::string::npos);
  CHECK(text.find("UNRESOLVED b") == std::string::npos);
  CHECK(resolution_summary({}, kDefaultPrecision).empty());
}

TEST_CASE("bench leaves a point unresolved when a spinner takes its CPU for some repetitions",
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
    const uint64_t end = now_ns() + 1'200'000'000;
    while (now_ns() < end) {
    }
    std::_Exit(0);
  }
  const test::TempDir dir("iomodels_resolution");
  const std::string out = dir.file("bench.json");
  // Six repetitions of at least 0.15 s (the iteration count found while the
  // spinner halves the model's CPU, so the repetitions after it are shorter)
  // after the first one's iteration-count trials: about 2.5 s, of which the
  // spinner takes the first 1.2 s. A repetition under 0.1 s records no
  // others_cores (/proc/stat's ticks).
  const test::CommandResult r = test::run_iomodels(
      "bench --models polling --connections 1 --sizes 64 --latencies 0 " + placement +
      " --benchmark_min_time=0.3 --benchmark_repetitions=6 --benchmark_out=" + out);
  ::kill(spinner, SIGKILL);
  ::waitpid(spinner, nullptr, 0);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);

  const json doc = test::read_json(out);
  CHECK(doc.at("context").at("precision") == "5");
  int marked = 0, busy = 0;
  for (const json& b : doc.at("benchmarks")) {
    const std::string which = b.value("aggregate_name", "");
    INFO(b.at("name"));
    if (which == "mean" || which == "median") {
      CHECK(b.at("resolved").get<double>() == 0);
      ++marked;
    } else {
      CHECK_FALSE(b.contains("resolved"));
    }
    if (which == "median") {
      CHECK(b.at("cpu_us_per_req_lo").get<double>() <= b.at("cpu_us_per_req").get<double>());
      CHECK(b.at("cpu_us_per_req_hi").get<double>() >= b.at("cpu_us_per_req").get<double>());
      CHECK(b.at("items_per_second_lo").get<double>() < b.at("items_per_second_hi").get<double>());
    }
    if (b.value("run_type", "") == "iteration" && b.contains("others_cores"))
      busy += b.at("others_cores").get<double>() > kBusyOthersCores ? 1 : 0;
  }
  CHECK(marked == 2);
  CHECK(busy >= 1);
  CHECK(r.out.find("resolved: 0 of 1 points") != std::string::npos);
  CHECK(r.out.find("UNRESOLVED polling/socketpair/conns:1/size:64/lat_us:0: ") !=
        std::string::npos);
  CHECK(r.out.find("other processes used more than 0.25 core") != std::string::npos);
}

TEST_CASE("run --repeat gives each figure its interval and the verdict; compare reads them",
          "[run]") {
  const test::TempDir dir("iomodels_repeat");
  const std::string out = dir.file("run.json");
  const test::CommandResult r =
      test::run_iomodels("run -m epoll -c 8 -s 4KiB -l 50us -r 100 --repeat 6 --json " + out);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  size_t lines = 0;
  for (size_t at = 0; (at = r.out.find("  repetition ", at)) != std::string::npos; ++at) ++lines;
  CHECK(lines == 6);
  CHECK(r.out.find("The median repetition (by CPU per request):") != std::string::npos);
  CHECK(r.out.find("Over 6 repetitions (as many as --repeat)") != std::string::npos);
  CHECK((r.out.find("\nresolved: CPU per request") != std::string::npos) !=
        (r.out.find("\nUNRESOLVED: ") != std::string::npos));

  const json doc = test::read_json(out);
  REQUIRE(doc.at("repetitions").size() == 6);
  std::vector<double> cpu;
  for (const json& rep : doc.at("repetitions")) cpu.push_back(rep.at(kCpuCounter));
  const json& in = doc.at("intervals").at(kCpuCounter);
  // Six values: the interval is their range, covering 1 - 2/64.
  CHECK(in.at("lo").get<double>() == *std::min_element(cpu.begin(), cpu.end()));
  CHECK(in.at("hi").get<double>() == *std::max_element(cpu.begin(), cpu.end()));
  CHECK(in.at("coverage").get<double>() == Approx(1 - 2.0 / 64));
  CHECK(in.at("median").get<double>() == Approx(spread_of(cpu).median));
  // The top level is the median repetition's own result.
  const double top = doc.at("cpu_us_per_req");
  CHECK(std::count(cpu.begin(), cpu.end(), top) >= 1);
  CHECK(doc.at("resolved").is_boolean());
  CHECK(doc.at("precision_percent") == 5);

  // compare takes the six repetitions as the samples of each side.
  const test::CommandResult c = test::run_iomodels("compare " + out + " " + out);
  INFO(c.out);
  CHECK(c.exit_code == 0);
  bool row = false;  // the scenario's name, then the figure, on one line
  for (size_t at = 0; (at = c.out.find("\nepoll/socketpair/8/4096/50us ", at)) != std::string::npos;
       ++at)
    row = row || c.out.substr(at, c.out.find('\n', at + 1) - at).find(" cpu_us_per_req ") !=
                     std::string::npos;
  CHECK(row);
  CHECK(c.out.find("  tie ±") != std::string::npos);
}

// The repetitions' figures, by name, from `run --json`: the first n of them.
std::map<std::string, std::vector<double>> first_repetitions(const json& doc, size_t n) {
  std::map<std::string, std::vector<double>> values;
  for (size_t i = 0; i < n && i < doc.at("repetitions").size(); ++i)
    for (const auto& [k, v] : doc.at("repetitions")[i].items())
      if (v.is_number()) values[k].push_back(v.get<double>());
  return values;
}

TEST_CASE("run --max-time stops once resolved, or when the time is spent", "[run]") {
  // Stops at the first repetition count, from 6 on, whose intervals are
  // within ±100%: the repetitions in the JSON are resolved, and one fewer
  // (from 7 on) was not. How many that takes depends on the run's regime
  // (8 connections may or may not fall in step: CPU per request then differs
  // twofold), so the rule is checked on the figures themselves.
  const test::TempDir dir("iomodels_max_time");
  const std::string out = dir.file("easy.json");
  const test::CommandResult easy = test::run_iomodels(
      "run -m epoll -c 8 -s 4KiB -l 50us -r 50 --max-time 30s --precision 100 --json " + out);
  INFO(easy.out);
  REQUIRE(easy.exit_code == 0);
  const json doc = test::read_json(out);
  const size_t n = doc.at("repetitions").size();
  REQUIRE(n >= 6);
  CHECK(easy.out.find("Over " + std::to_string(n) + " repetitions (resolved)") !=
        std::string::npos);
  CHECK(doc.at("resolved") == true);
  CHECK(resolve("epoll", first_repetitions(doc, n), 1.0).resolved);
  if (n > 6) CHECK_FALSE(resolve("epoll", first_repetitions(doc, n - 1), 1.0).resolved);

  // ±0.1% is met by none: repetitions go on until the second is spent.
  const test::CommandResult hard =
      test::run_iomodels("run -m epoll -c 8 -s 4KiB -l 50us -r 50 --max-time 1s --precision 0.1");
  INFO(hard.out);
  REQUIRE(hard.exit_code == 0);
  CHECK(hard.out.find("repetitions (--max-time 1s spent)") != std::string::npos);
  CHECK(hard.out.find("  repetition   7") != std::string::npos);
  CHECK(hard.out.find("\nUNRESOLVED: cpu_us_per_req") != std::string::npos);
}

TEST_CASE("ranking_summary groups models against the reference as cheaper, tie or dearer",
          "[bench]") {
  const auto point = [](const std::string& name, std::vector<double> cpu) {
    PointSpread p;
    p.name = name + kNameSuffix;
    p.cpu = std::move(cpu);
    return p;
  };
  const std::vector<double> ten = {10, 10.2, 9.8, 10.1, 9.9, 10.05};
  std::vector<double> half, twice;
  for (double v : ten) {
    half.push_back(v / 2);
    twice.push_back(v * 2);
  }
  const std::vector<PointSpread> points = {
      point("epoll/socketpair/conns:8", ten),
      point("fast/socketpair/conns:8", half),
      point("same/socketpair/conns:8", {10.1, 9.9, 10, 10.2, 9.85, 10}),
      point("slow/socketpair/conns:8", twice),
      point("few/socketpair/conns:8", {1, 1, 1}),  // 3 repetitions: left out
      point("fast/socketpair/conns:64", half),     // no reference here: no line
  };
  const std::string text = ranking_summary(points, "epoll");
  INFO(text);
  CHECK(text.find("CPU per request against epoll") != std::string::npos);
  CHECK(text.find("  socketpair/conns:8:\n") != std::string::npos);
  CHECK(text.find("    cheaper: fast 0.50 [") != std::string::npos);
  CHECK(text.find("    tie:     same 1.00 [") != std::string::npos);
  CHECK(text.find("    dearer:  slow 2.00 [") != std::string::npos);
  CHECK(text.find("few") == std::string::npos);
  CHECK(text.find("conns:64") == std::string::npos);
  CHECK(ranking_summary(points, "uring").empty());
}
