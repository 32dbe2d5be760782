// Description: bench's adaptive repetitions (--max-time): the aggregates over
// all rounds, how many more repetitions a point gets, the collector that keeps
// a point one point across rounds, and end to end: a precision every point
// meets stops after the first round, one none meets runs round after round
// until the time is spent.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/grid.h"
#include "bench/rounds.h"
#include "util.h"

using namespace iomodels;
using namespace iomodels::bench;
using nlohmann::json;
using Run = benchmark::BenchmarkReporter::Run;

namespace {

Run rep(const std::string& name, double cpu, double throughput, benchmark::IterationCount iters,
        double seconds_per_iter) {
  Run r;
  r.run_name.function_name = name;
  r.run_type = Run::RT_Iteration;
  r.iterations = iters;
  r.real_accumulated_time = seconds_per_iter * static_cast<double>(iters);
  r.cpu_accumulated_time = seconds_per_iter * static_cast<double>(iters) / 2;
  r.counters[kCpuCounter] = benchmark::Counter(cpu);
  r.counters[kThroughputCounter] = benchmark::Counter(throughput, benchmark::Counter::kIsRate);
  return r;
}

const Run* find(const std::vector<Run>& runs, const std::string& aggregate) {
  for (const Run& r : runs)
    if (r.run_type == Run::RT_Aggregate && r.aggregate_name == aggregate) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("aggregates_of works out Google Benchmark's four aggregates over every repetition",
          "[bench]") {
  // Different iteration counts (each round estimates its own): the time per
  // iteration is what is aggregated.
  std::vector<Run> reps = {rep("a", 1, 100, 10, 0.001), rep("a", 2, 200, 20, 0.002),
                           rep("a", 3, 300, 40, 0.003), rep("a", 4, 400, 80, 0.004)};
  Run failed = rep("a", 100, 1, 1, 1);
  failed.error_occurred = true;
  reps.push_back(failed);  // left out of the aggregates, counted in repetitions
  const std::vector<Run> aggs = aggregates_of(reps);
  REQUIRE(aggs.size() == 4);
  const Run* mean = find(aggs, "mean");
  const Run* median = find(aggs, "median");
  const Run* stddev = find(aggs, "stddev");
  const Run* cv = find(aggs, "cv");
  REQUIRE((mean && median && stddev && cv));
  for (const Run* a : {mean, median, stddev, cv}) {
    CHECK(a->iterations == 4);
    CHECK(a->repetitions == 5);
    CHECK(a->repetition_index == int64_t{Run::no_repetition_index});
  }
  CHECK(mean->counters.at(kCpuCounter).value == Approx(2.5));
  CHECK(median->counters.at(kCpuCounter).value == Approx(2.5));  // the two middle ones' mean
  CHECK(stddev->counters.at(kCpuCounter).value == Approx(std::sqrt(5.0 / 3)));
  CHECK(cv->counters.at(kCpuCounter).value == Approx(std::sqrt(5.0 / 3) / 2.5));
  CHECK(cv->aggregate_unit == benchmark::kPercentage);
  CHECK(mean->aggregate_unit == benchmark::kTime);
  // Flags carry over: throughput stays a rate.
  CHECK(mean->counters.at(kThroughputCounter).flags == benchmark::Counter::kIsRate);
  // Reported per iteration: accumulated / iterations is the statistic.
  CHECK(mean->real_accumulated_time / static_cast<double>(mean->iterations) == Approx(0.0025));
  CHECK(median->cpu_accumulated_time / static_cast<double>(median->iterations) == Approx(0.00125));
  CHECK(cv->real_accumulated_time == Approx(std::sqrt(5.0 / 3) / 2.5));  // not scaled

  CHECK(aggregates_of({rep("a", 1, 1, 1, 1)}).empty());
}

TEST_CASE("more_repetitions: none for a resolved or intervalless point, else what 1/sqrt(n) asks",
          "[bench]") {
  const auto point = [](const std::vector<double>& cpu, const std::vector<double>& tput) {
    return resolve("p", {{kCpuCounter, cpu}, {kThroughputCounter, tput}}, kDefaultPrecision);
  };
  const std::vector<double> quiet = {10, 10.1, 9.9, 10.05, 9.95, 10};
  const std::vector<double> tput = {1000, 1001, 999, 1000, 1002, 998};
  CHECK(more_repetitions(point(quiet, tput), 6, kDefaultPrecision) == 0);

  // ±10% with 6: four times the repetitions would reach ±5%, but a round at
  // most doubles them.
  const std::vector<double> wide = {9, 9.5, 10, 10, 10.5, 11};
  CHECK(more_repetitions(point(wide, tput), 6, kDefaultPrecision) == 6);
  // Just wider than ±5%: at least two more.
  const std::vector<double> near = {9.45, 9.8, 10, 10, 10.2, 10.5};
  const size_t n = more_repetitions(point(near, tput), 6, kDefaultPrecision);
  CHECK(n >= 2);
  CHECK(n <= 6);
  // Fewer than six: up to six first.
  CHECK(more_repetitions(point({9, 10, 11}, {1, 1, 1}), 3, kDefaultPrecision) == 3);
  // No throughput figure: nothing more repetitions could resolve.
  CHECK(more_repetitions(resolve("p", {{kCpuCounter, wide}}, kDefaultPrecision), 6,
                         kDefaultPrecision) == 0);
}

TEST_CASE("RoundCollector keeps a point one point across rounds and plans the next round",
          "[bench]") {
  RoundCollector c;
  const std::vector<double> quiet = {10, 10.1, 9.9, 10.05, 9.95, 10};
  const std::vector<double> wide = {9, 9.5, 10, 10, 10.5, 11};
  std::vector<Run> round;
  for (size_t i = 0; i < 6; ++i) {
    round.push_back(rep("quiet", quiet[i], 1000, 10, 0.001));
    round.push_back(rep("wide", wide[i], 1000, 10, 0.001));
    Run bad = rep("failed", wide[i], 1000, 10, 0.001);
    bad.error_occurred = i == 3;
    round.push_back(bad);
  }
  Run gb_aggregate = rep("wide", 10, 1000, 6, 0.001);
  gb_aggregate.run_type = Run::RT_Aggregate;
  gb_aggregate.aggregate_name = "mean";
  round.push_back(gb_aggregate);  // dropped: worked out again over every round
  c.ReportRuns(round);
  CHECK(c.points() == 3);
  CHECK(c.repetitions() == 18);
  std::vector<RoundCollector::Plan> plan = c.plan(kDefaultPrecision);
  REQUIRE(plan.size() == 1);  // not the resolved one, not the one that failed
  CHECK(plan[0].name == "wide");
  CHECK(plan[0].more == 6);

  // The next round names the point with its own repetition count.
  for (int i = 0; i < 6; ++i) {
    Run r = rep("wide", 10 + 0.01 * i, 1000, 20, 0.001);
    r.run_name.repetitions = "repeats:6";
    c.ReportRuns({r});
  }
  CHECK(c.points() == 3);
  const std::vector<std::vector<Run>> batches = c.batches();
  REQUIRE(batches.size() == 3);
  const std::vector<Run>& wide_batch = batches[1];
  REQUIRE(wide_batch.size() == 12 + 4);
  for (size_t i = 0; i < 12; ++i) {
    CHECK(wide_batch[i].run_name.str() == "wide");
    CHECK(wide_batch[i].repetition_index == static_cast<int64_t>(i));
    CHECK(wide_batch[i].repetitions == 12);
  }
  CHECK(find(wide_batch, "median")->iterations == 12);
  // Twelve values, all but two within ±5%: resolved now.
  CHECK(c.plan(kDefaultPrecision).empty());
  CHECK(c.name_width() == std::string("failed_stddev").size());
}

TEST_CASE("bench --max-time: one round when every point resolves, rounds until the time is spent",
          "[bench]") {
  const test::TempDir dir("iomodels_rounds");
  const std::string out = dir.file("bench.json");
  const std::string grid =
      "bench --models epoll --connections 1,4 --sizes 64 --latencies 0 "
      "--benchmark_min_time=0.01 --benchmark_enable_random_interleaving=true ";

  // ±100% is met by six repetitions (or, after a stall of the machine in one
  // of them, by a few more): the rounds stop long before the time is spent.
  const test::CommandResult easy =
      test::run_iomodels(grid + "--max-time 60s --precision 100 --benchmark_out=" + out);
  INFO(easy.out);
  REQUIRE(easy.exit_code == 0);
  CHECK(easy.out.find("every point resolved or failed") != std::string::npos);
  CHECK(easy.out.find("--max-time 60s spent (") == std::string::npos);
  CHECK(easy.out.find("resolved: 2 of 2 points") != std::string::npos);

  // ±0.1% is met by none: rounds until the four seconds are spent.
  const test::CommandResult hard =
      test::run_iomodels(grid + "--max-time 4s --precision 0.1 --benchmark_out=" + out);
  INFO(hard.out);
  REQUIRE(hard.exit_code == 0);
  CHECK(hard.out.find("iomodels bench: round 2: 2 of 2 points unresolved") != std::string::npos);
  CHECK(hard.out.find("--max-time 4s spent (") != std::string::npos);
  CHECK(hard.out.find("resolved: 0 of 2 points") != std::string::npos);

  // The file: each point once by name, its repetitions, then four aggregates
  // over all of them.
  const json doc = test::read_json(out);
  std::map<std::string, std::vector<double>> cpu;
  std::map<std::string, json> median;
  for (const json& b : doc.at("benchmarks")) {
    const std::string name = b.at("run_name");
    INFO(name);
    CHECK(name.find("repeats:") == std::string::npos);
    if (b.at("run_type") == "iteration") {
      cpu[name].push_back(b.at(kCpuCounter).get<double>());
      CHECK(b.at("repetition_index").get<size_t>() == cpu[name].size() - 1);
    } else if (b.at("aggregate_name") == "median") {
      median[name] = b;
    }
  }
  REQUIRE(cpu.size() == 2);
  REQUIRE(median.size() == 2);
  for (auto& [name, values] : cpu) {
    INFO(name);
    CHECK(values.size() > 6);
    const json& m = median.at(name);
    CHECK(m.at("iterations").get<size_t>() == values.size());
    CHECK(m.at("repetitions").get<size_t>() == values.size());
    std::sort(values.begin(), values.end());
    const size_t h = values.size() / 2;
    const double mid = values.size() % 2 ? values[h] : (values[h - 1] + values[h]) / 2;
    CHECK(m.at(kCpuCounter).get<double>() == Approx(mid));
    CHECK(m.at("cpu_us_per_req_lo").get<double>() <= mid);
    CHECK(m.at("cpu_us_per_req_hi").get<double>() >= mid);
    CHECK(m.at(kResolvedCounter).get<double>() == 0);
  }

  const test::CommandResult bad = test::run_iomodels("bench --max-time soon");
  CHECK(bad.exit_code == 2);
  CHECK(bad.out.find("--max-time") != std::string::npos);
}
