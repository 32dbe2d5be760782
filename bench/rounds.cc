// Description: the rounds of `bench --max-time`: each point's repetitions
// collected over the rounds, the aggregates over all of them, how many more
// repetitions an unresolved point gets in the next round, and the rounds run
// and reported.
#include "bench/rounds.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "bench/grid.h"
#include "bench/resolution.h"
#include "measure/stats.h"

namespace iomodels::bench {
namespace {

using Run = benchmark::BenchmarkReporter::Run;

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// The sample standard deviation (n - 1), 0 below two values.
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

// Google Benchmark divides by a zero mean too, and its JSON then holds NaN,
// which strict JSON readers refuse: values that are all zero vary by 0.
double cv(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double sd = stddev(v);
  return sd == 0 ? 0 : sd / mean(v);
}

}  // namespace

std::map<std::string, std::vector<double>> counter_values(const std::vector<Run>& reps) {
  std::map<std::string, std::vector<double>> values;
  for (const Run& r : reps) {
    if (r.error_occurred) continue;
    for (const auto& [key, c] : r.counters)
      if (!std::isnan(static_cast<double>(c.value)))
        values[key].push_back(static_cast<double>(c.value));
  }
  return values;
}

std::vector<Run> aggregates_of(const std::vector<Run>& reps) {
  std::vector<const Run*> ok;
  for (const Run& r : reps)
    if (!r.error_occurred) ok.push_back(&r);
  if (ok.size() < 2) return {};
  // Seconds per iteration of each repetition: their iteration counts differ
  // from round to round (each round estimates its own).
  std::vector<double> real, cpu;
  for (const Run* r : ok) {
    const double iters = static_cast<double>(std::max<benchmark::IterationCount>(r->iterations, 1));
    real.push_back(r->real_accumulated_time / iters);
    cpu.push_back(r->cpu_accumulated_time / iters);
  }
  const std::map<std::string, std::vector<double>> values = counter_values(reps);
  struct Stat {
    const char* name;
    std::function<double(const std::vector<double>&)> f;
    benchmark::StatisticUnit unit;
  };
  const Stat computed[] = {{"mean", mean, benchmark::kTime},
                           // The mean of the two middle values for an even count, as Google
                           // Benchmark's.
                           {"median", stats::median, benchmark::kTime},
                           {"stddev", stddev, benchmark::kTime},
                           {"cv", cv, benchmark::kPercentage}};
  std::vector<Run> out;
  const double n = static_cast<double>(ok.size());
  for (const Stat& s : computed) {
    Run a = *ok.front();
    a.run_type = Run::RT_Aggregate;
    a.aggregate_name = s.name;
    a.aggregate_unit = s.unit;
    a.repetitions = static_cast<int64_t>(reps.size());
    a.repetition_index = Run::no_repetition_index;
    // Google Benchmark's convention: an aggregate is over its repetitions,
    // so its iteration count is theirs and its accumulated time is the
    // statistic times that count (a percentage is not scaled).
    a.iterations = static_cast<benchmark::IterationCount>(ok.size());
    const double scale = s.unit == benchmark::kTime ? n : 1;
    a.real_accumulated_time = s.f(real) * scale;
    a.cpu_accumulated_time = s.f(cpu) * scale;
    a.counters.clear();
    for (const auto& [key, c] : ok.front()->counters) {
      const auto it = values.find(key);
      if (it == values.end()) continue;
      a.counters[key] = benchmark::Counter(s.f(it->second), c.flags, c.oneK);
    }
    // A counter the first repetition lacks but others have.
    for (const auto& [key, v] : values)
      if (a.counters.count(key) == 0) a.counters[key] = benchmark::Counter(s.f(v));
    out.push_back(std::move(a));
  }
  return out;
}

size_t more_repetitions(const PointSpread& p, size_t n, double precision) {
  if (p.resolved || n == 0) return 0;
  double worst = 0;
  for (const char* f : {kCpuCounter, kThroughputCounter}) {
    const auto it = p.figures.find(f);
    if (it == p.figures.end()) return 0;
    const double hw = it->second.half_width();
    if (!std::isfinite(hw)) return 0;
    worst = std::max(worst, hw);
  }
  // Below kMinRepetitions the interval is not yet a 95% one: get there first.
  if (n < kMinRepetitions) return kMinRepetitions - n;
  const double ratio = worst / precision;
  const double needed = std::ceil(static_cast<double>(n) * ratio * ratio);
  const double more = needed - static_cast<double>(n);
  return static_cast<size_t>(std::clamp(more, 2.0, static_cast<double>(n)));
}

void RoundCollector::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& r : runs) {
    if (r.run_type != Run::RT_Iteration) continue;
    // A point given its own repetition count in a later round gains
    // "/repeats:N" in its name: it is still the same point.
    Run kept = r;
    kept.run_name.repetitions.clear();
    const std::string name = kept.run_name.str();
    auto [it, fresh] = reps_.try_emplace(name);
    if (fresh) order_.push_back(name);
    it->second.push_back(std::move(kept));
    ++received_;
  }
}

std::vector<RoundCollector::Plan> RoundCollector::plan(double precision) const {
  std::vector<Plan> out;
  for (const std::string& name : order_) {
    const std::vector<Run>& reps = reps_.at(name);
    if (std::any_of(reps.begin(), reps.end(), [](const Run& r) { return r.error_occurred; }))
      continue;
    const PointSpread p = resolve(name, counter_values(reps), precision);
    if (const size_t more = more_repetitions(p, reps.size(), precision); more > 0)
      out.push_back({name, more});
  }
  return out;
}

size_t RoundCollector::measured() const {
  size_t n = 0;
  for (const auto& [name, reps] : reps_)
    n += std::none_of(reps.begin(), reps.end(), [](const Run& r) { return r.error_occurred; });
  return n;
}

std::vector<std::vector<Run>> RoundCollector::batches() const {
  std::vector<std::vector<Run>> out;
  for (const std::string& name : order_) {
    std::vector<Run> batch = reps_.at(name);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].repetition_index = static_cast<int64_t>(i);
      batch[i].repetitions = static_cast<int64_t>(batch.size());
    }
    for (Run& a : aggregates_of(batch)) batch.push_back(std::move(a));
    out.push_back(std::move(batch));
  }
  return out;
}

size_t RoundCollector::name_width() const {
  size_t w = 0;
  for (const std::string& name : order_) w = std::max(w, name.size() + sizeof("_stddev") - 1);
  return w;
}

namespace {

// Google Benchmark's reporter for --benchmark_out_format, as it makes its own
// file reporter (the console one without colour).
std::unique_ptr<benchmark::BenchmarkReporter> file_reporter(const std::string& format) {
  if (format == "console")
    return std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
  if (format != "csv") return std::make_unique<benchmark::JSONReporter>();
    // Deprecated by Google Benchmark but still its --benchmark_out_format=csv.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return std::make_unique<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
}

// "^(a|b|...)/" for Google Benchmark's --benchmark_filter (extended regular
// expressions): exactly these points, whatever Google Benchmark puts after
// the grid's part of the name (with Repetitions set, "/repeats:N").
std::string exact_filter(const std::vector<RoundCollector::Plan>& plan) {
  std::string re = "^(";
  for (size_t i = 0; i < plan.size(); ++i) {
    if (i) re += '|';
    std::string name = plan[i].name;
    const std::string suffix = kNameSuffix;
    if (name.size() > suffix.size() && name.ends_with(suffix))
      name.resize(name.size() - suffix.size());
    for (char c : name) {
      if (std::string_view(".^$|()[]*+?{}\\").find(c) != std::string_view::npos) re += '\\';
      re += c;
    }
  }
  return re + ")/";
}

}  // namespace

size_t run_in_rounds(const Rounds& spec, benchmark::BenchmarkReporter* shown,
                     frontend::OutputPath* out_file) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const auto elapsed = [t0] { return std::chrono::duration<double>(clock::now() - t0).count(); };
  RoundCollector collect;
  const size_t ran = benchmark::RunSpecifiedBenchmarks(&collect);
  double round_s = elapsed();
  size_t round_reps = collect.repetitions();
  size_t rounds = 1;
  std::string stop = "every point resolved or failed";
  while (true) {
    std::vector<RoundCollector::Plan> plan = collect.plan(spec.precision);
    if (plan.empty()) break;
    // The next round starts only if its estimated time fits what is left;
    // when all it asked for does not, every point gets its share of it.
    const double per_rep = round_s / static_cast<double>(std::max<size_t>(round_reps, 1));
    const double left = spec.max_time_s - elapsed();
    size_t asked = 0;
    for (const auto& p : plan) asked += p.more;
    if (left < per_rep * 2 * static_cast<double>(plan.size())) {
      char buf[160];
      std::snprintf(buf, sizeof buf,
                    "--max-time %s spent (%zu points unresolved would need %.0f s more)",
                    spec.max_time_text.c_str(), plan.size(), per_rep * static_cast<double>(asked));
      stop = buf;
      break;
    }
    size_t total = 0;
    for (auto& p : plan) {
      if (per_rep * static_cast<double>(asked) > left)
        p.more = std::max<size_t>(2, static_cast<size_t>(static_cast<double>(p.more) * left /
                                                         (per_rep * static_cast<double>(asked))));
      total += p.more;
      bench::set_repetitions(p.name, static_cast<int>(p.more));
    }
    ++rounds;
    std::fprintf(stderr,
                 "iomodels bench: round %zu: %zu of %zu points unresolved, %zu more repetitions "
                 "(%.0f s of --max-time %s spent)\n",
                 rounds, plan.size(), collect.measured(), total, elapsed(),
                 spec.max_time_text.c_str());
    const double start = elapsed();
    const size_t before = collect.repetitions();
    benchmark::RunSpecifiedBenchmarks(&collect, exact_filter(plan));
    round_s = elapsed() - start;
    round_reps = collect.repetitions() - before;
    if (round_reps == 0) {
      stop = "a round ran nothing";  // not expected: every point planned is registered
      break;
    }
  }
  if (collect.points() == 0) return ran;
  std::fprintf(stderr, "iomodels bench: %zu round%s, %zu repetitions in %.0f s: %s\n", rounds,
               rounds == 1 ? "" : "s", collect.repetitions(), elapsed(), stop.c_str());

  // The report, as Google Benchmark would have made it of one call that ran
  // every repetition: a batch per point, its repetitions then its aggregates.
  benchmark::BenchmarkReporter::Context context;
  context.name_field_width = collect.name_width();
  const std::vector<std::vector<benchmark::BenchmarkReporter::Run>> batches = collect.batches();
  const auto report = [&](benchmark::BenchmarkReporter& r) {
    if (!r.ReportContext(context)) return;
    for (const auto& b : batches) r.ReportRuns(b);
    r.Finalize();
  };
  SpreadLog spreads(spec.precision, spec.reference);
  ResolvingReporter display(shown, &spreads, true);
  if (spec.display_aggregates_only || spec.report_aggregates_only) display.hide_repetitions();
  if (!spec.mark_display) display.leave_unmarked();
  report(display);
  if (out_file != nullptr && out_file->given()) {
    std::ofstream os(out_file->begin_by_name());
    const std::unique_ptr<benchmark::BenchmarkReporter> inner = file_reporter(spec.out_format);
    ResolvingReporter file(inner.get(), &spreads, false);
    if (spec.report_aggregates_only) file.hide_repetitions();
    if (spec.out_format == "csv") file.leave_unmarked();
    file.SetOutputStream(&os);
    file.SetErrorStream(&os);
    report(file);
    os.flush();
    if (!os) throw std::runtime_error("--benchmark_out: writing " + out_file->path() + " failed");
  }
  return ran;
}

}  // namespace iomodels::bench
