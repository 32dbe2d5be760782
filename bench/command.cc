// Description: `iomodels bench`: the grid of scenarios run by Google Benchmark.
// CLI11 parses the grid flags; every --benchmark_* argument goes to Google
// Benchmark untouched, so its console/JSON output and compare.py work as usual.
// With repetitions, each point's median carries its figures' 95% intervals and
// whether the point is resolved, and a closing summary says why each
// unresolved point is not (bench/resolution.h).
#include "frontend/command.h"

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include "bench/console.h"
#include "bench/gb_flags.h"
#include "bench/grid.h"
#include "bench/resolution.h"
#include "bench/rounds.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/env.h"
#include "measure/trace.h"
#include "peer/payload.h"
#include "run/figures.h"
#include "sys/cpus.h"

namespace iomodels::bench {

using namespace frontend;
namespace {

// Long enough for a stable mean at microsecond rounds, short enough that the
// default grid (15 models × 6 points) stays within about three minutes on 2 cores.
constexpr const char* kDefaultMinTime = "--benchmark_min_time=0.2";

struct BenchFlags {
  ScenarioFlags sc;  // run options: --pool-threads, --timeout, --verify, ...
  std::string models;
  std::string transports = "socketpair";
  std::string connections = "1,64,1000";
  std::string sizes = "4KiB";
  std::string latencies = std::string("0,") + kDefaultLatency;
  std::string per_iteration = "8";
  std::string latency_out;
  std::string trace;
  std::string trace_events = "100000";
  std::string log_level = "warn";
  std::string precision = "5";
  std::string max_time = "0";
  std::string reference = "epoll";
};

// Adds `v` unless it is already there: a repeated value would register the
// same benchmark twice.
template <typename T>
void add_unique(std::vector<T>* v, const T& x) {
  for (const T& y : *v)
    if (y == x) return;
  v->push_back(x);
}

bench::Grid make_grid(const BenchFlags& flags) {
  bench::Grid g;
  ScenarioFlags base = flags.sc;
  base.model = "epoll";  // any valid model: to_scenario checks the other flags
  // With the file transport in the grid, its flags (--file, --direct) are
  // checked as they apply to it; the other transports' points drop them.
  if (("," + flags.transports + ",").find(",file,") != std::string::npos) base.transport = "file";
  base.cpus = "none";  // placed below, for the points that have a forked peer
  g.base = base.to_scenario();
  Scenario placed = g.base;
  placed.workload.transport = Transport::kSocketpair;
  placed.workload.file_path.clear();
  placed.workload.direct = false;
  flag_cpus("--cpus", flags.sc.cpus, &placed);
  g.base.model_cpus = placed.model_cpus;
  g.base.workload.peer_cpus = placed.workload.peer_cpus;

  if (flags.models.empty()) {
    // Every model this kernel can run on the default workload; the
    // not-applicable combinations are still registered and skipped with the reason.
    for (const ModelInfo* m : all_models())
      if (why_not(*m, WorkloadOptions{}).empty()) g.models.emplace_back(m->name);
  } else if (flags.models == "all") {
    for (const ModelInfo* m : all_models()) g.models.emplace_back(m->name);
  } else {
    for (const std::string& m : flag_list("--models", flags.models)) {
      flag_model("--models", m);
      add_unique(&g.models, m);
    }
  }
  for (const std::string& t : flag_list("--transports", flags.transports))
    add_unique(&g.transports, flag_transport("--transports", t));
  for (const std::string& c : flag_list("--connections", flags.connections))
    add_unique(&g.connections,
               static_cast<uint32_t>(flag_count("--connections", c, 1, kMaxConnections)));
  for (const std::string& s : flag_list("--sizes", flags.sizes))
    add_unique(&g.sizes, static_cast<uint32_t>(flag_size("--sizes", s, 1, kMaxResponseBytes)));
  std::set<uint64_t> typical;
  for (const std::string& l : flag_list("--latencies", flags.latencies)) {
    const LatencySpec spec = flag_latency("--latencies", l);
    // The plots and the report group points by the typical latency: two of
    // one typical value (1ms and uniform:0.5ms-1.5ms) go in two benches.
    if (!typical.insert(spec.typical_us()).second)
      throw UsageError("--latencies: '" + l +
                       "' has the typical latency of an earlier one (lat_us:" +
                       std::to_string(spec.typical_us()) +
                       "), which the plots could not tell apart: run them as two benches");
    g.latencies.push_back(spec);
  }
  if (g.models.empty()) throw UsageError("--models: no model can run here (see: iomodels list)");
  g.requests_per_iteration =
      flag_count("--requests-per-iteration", flags.per_iteration, 1, 1'000'000);
  return g;
}

}  // namespace

namespace {

// `bench` as a command object: its flags, bound by CLI11, live in it.
class BenchCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  BenchFlags flags_;
  // What validate() made of the flags.
  std::vector<std::string> gb_args_;
  OutputPath out_file_, latency_out_, trace_out_;
  bench::Grid grid_;
  uint64_t trace_events_ = 0;
  double precision_ = kDefaultPrecision;
  CLI::App* app_ = nullptr;
  // --max-time and the Google Benchmark flags bench applies itself when it
  // reports the rounds (they are not passed on); max_time_s 0: one round.
  Rounds rounds_;
};

void BenchCommand::add_flags(CLI::App* sub) {
  app_ = sub;
  BenchFlags& flags = flags_;
  sub->description(
      "run the grid model × transport × connections × size × latency (Google Benchmark)");
  sub->add_option("--models", flags.models,
                  "comma list of models, or 'all' (default: every model this kernel can run)");
  sub->add_option("--transports", flags.transports,
                  "comma list: pipe, socketpair, tcp, file (file points have latency 0 only)")
      ->capture_default_str();
  sub->add_option("--file", flags.sc.file,
                  "file transport: the data file to create and fill, or reuse "
                  "[default: an unnamed file in /dev/shm]");
  sub->add_option("--file-size", flags.sc.file_size, "file transport: size of the data file")
      ->capture_default_str();
  sub->add_flag("--direct", flags.sc.direct, "file transport: O_DIRECT reads");
  sub->add_option("--connections", flags.connections, "comma list of connection counts, 1..10000")
      ->capture_default_str();
  sub->add_option("--sizes", flags.sizes, "comma list of response sizes, 1B..1MiB")
      ->capture_default_str();
  sub->add_option("--latencies", flags.latencies,
                  "comma list of peer think times: 0 | 250us | 1ms (constant: the connections "
                  "fall in step) | uniform:A-B | exp:MEAN")
      ->capture_default_str();
  sub->add_option("--pool-threads", flags.sc.pool_threads, "threadpool workers (0 = one per core)")
      ->capture_default_str();
  sub->add_option("--poll-interval", flags.sc.poll_interval, "polling-sleep: sleep between sweeps")
      ->capture_default_str();
  sub->add_option("--timeout", flags.sc.timeout, "fail when no request completes for this long")
      ->capture_default_str();
  flags.sc.add_switches_to(sub);
  sub->add_option("--seed", flags.sc.seed, "seed of the peer's latency draws")
      ->capture_default_str();
  sub->add_option("--rate", flags.sc.rate,
                  "open loop: rounds at R requests/s per connection, latency from the scheduled "
                  "time (0 = closed loop; names gain /rate:R)")
      ->capture_default_str();
  sub->add_option("--cpus", flags.sc.cpus,
                  "placement: none (the scheduler decides) | auto (the peer on the last CPU, "
                  "the model on the others) | model=LIST,peer=LIST")
      ->capture_default_str();
  sub->add_option("--peer-loop", flags.sc.peer_loop,
                  "how the peer moves bytes: auto (io_uring where the kernel allows, else "
                  "epoll) | uring | epoll")
      ->capture_default_str();
  sub->add_option("--pattern", flags.sc.pattern,
                  "closed loop: free (each connection asks again as soon as its response is in, "
                  "as `run`) | lockstep (rounds with a barrier; names gain /lockstep)")
      ->capture_default_str();
  sub->add_option("--requests-per-iteration", flags.per_iteration,
                  "requests per connection in one benchmark iteration")
      ->capture_default_str();
  sub->add_option(
      "--trace", flags.trace,
      "write a timeline of the whole suite (Chrome Trace JSON; open in ui.perfetto.dev)");
  sub->add_option("--trace-events", flags.trace_events,
                  "stop recording the timeline after N events")
      ->capture_default_str();
  sub->add_option("--latency-out", flags.latency_out,
                  "write every benchmark's full latency spectrum (JSON) here, for tools/plot.py");
  sub->add_option("--precision", flags.precision,
                  "percent: the half-width of the 95% interval within which a point's CPU per "
                  "request and throughput count as resolved")
      ->capture_default_str();
  sub->add_option("--max-time", flags.max_time,
                  "adaptive repetitions: after the first round (--benchmark_repetitions, 6 by "
                  "default), keep adding interleaved repetitions to the points not resolved "
                  "until all are or this much time is spent (e.g. 600s; 0 = one round)")
      ->capture_default_str();
  sub->add_option("--reference", flags.reference,
                  "the model every other is ranked against, at each grid point, in the closing "
                  "summary (with 4 or more repetitions)")
      ->capture_default_str();
  sub->add_option("--log-level", flags.log_level, "trace | debug | info | warn | error | off")
      ->capture_default_str();
  // Unknown arguments are collected, then every --benchmark_* one goes to
  // Google Benchmark and anything else is an error.
  sub->allow_extras();
  sub->footer(
      "One benchmark per grid point, named <model>/<transport>/conns:<N>/size:<B>/lat_us:<L>\n"
      "(a jittered latency adds /jitter:uniform:<A>-<B> in microseconds, or /jitter:exp);\n"
      "one iteration = every connection completes --requests-per-iteration requests, each\n"
      "connection free-running (--pattern free, as `iomodels run`) or in rounds (lockstep).\n"
      "Set-up (peer, connections, threads, rings, a warm-up round) is never timed. Time and\n"
      "CPU are process-wide.\n"
      "Not-applicable combinations are reported as errors with the reason; the rest still run.\n"
      "\n"
      "Google Benchmark flags pass through untouched, e.g.\n"
      "  --benchmark_filter=REGEX  --benchmark_repetitions=N  --benchmark_min_time=SECONDS\n"
      "  --benchmark_out=FILE --benchmark_out_format=json   --benchmark_counters_tabular=true\n"
      "(Google Benchmark 1.7.1: --benchmark_min_time is a plain number of seconds, e.g. 0.1;\n"
      "the default here is 0.2.) The JSON output is Google Benchmark's own (compare.py reads it)\n"
      "with the environment (kernel, io_uring, cpu, cores, mitigations) in its context.\n"
      "\n"
      "With --benchmark_repetitions=N (N >= 6 for a 95% interval; add\n"
      "--benchmark_enable_random_interleaving=true to interleave them), each point gets Google\n"
      "Benchmark's mean, median, stddev and cv aggregates, and its median row the 95% interval\n"
      "of the median of cpu_us_per_req, items_per_second, p50_us, p99_us and syscalls_per_req\n"
      "(counters <figure>_lo and <figure>_hi: order statistics, whatever the distribution).\n"
      "A point is resolved (counter resolved 1 on its mean and median rows) when the intervals\n"
      "of cpu_us_per_req and items_per_second are within ±--precision percent of their medians.\n"
      "Each repetition records others_cores, the CPU other processes and steal took meanwhile,\n"
      "and events_per_wait, the regime; the closing summary names what was seen during the\n"
      "repetitions of every unresolved point. Then, with 4 or more repetitions, it ranks every\n"
      "model against --reference at each grid point: the CPU-per-request ratio with its 95%\n"
      "interval (rank-sum), grouped cheaper, tie (the interval holds 1) and dearer.\n"
      "Many short repetitions narrow an interval more than a few long ones: the spread is\n"
      "between repetitions, not within one.\n"
      "\n"
      "With --max-time T the grid runs in rounds: the first with --benchmark_repetitions (6\n"
      "by default), then each round adds interleaved repetitions to the points not yet\n"
      "resolved (as many as a half-width shrinking as 1/sqrt(n) asks, at most doubling a\n"
      "point's count) while the round's estimated time fits what is left of T. The report\n"
      "comes at the end, as one run of all repetitions: each point's rows, its mean, median,\n"
      "stddev and cv over every round, its interval and verdict; stderr says per round how\n"
      "many points were left.\n"
      "\n"
      "Example: iomodels bench --models polling,epoll --connections 64 --latencies 1ms \\\n"
      "           --benchmark_out=bench.json --benchmark_out_format=json --latency-out "
      "spectra.json");
}

void BenchCommand::validate() {
  const BenchFlags& flags = flags_;
  std::vector<std::string>& gb_args = gb_args_;
  gb_args = {"iomodels bench"};
  for (const std::string& a : app_->remaining()) {
    if (a.rfind("--benchmark_", 0) != 0)
      throw UsageError("unexpected argument '" + a +
                       "' (grid flags are listed by --help; Google Benchmark's start with "
                       "--benchmark_)");
    gb_args.push_back(a);
  }
  check_gb_flags(gb_args);
  if (!gb_flag(gb_args, "benchmark_min_time")) gb_args.emplace_back(kDefaultMinTime);
  const uint64_t max_time_ns = flag_duration("--max-time", flags.max_time);
  if (max_time_ns > 24ull * 3600 * 1'000'000'000)
    throw UsageError("--max-time: '" + flags.max_time + "' is over a day");
  rounds_.max_time_s = static_cast<double>(max_time_ns) / 1e9;
  // Google Benchmark writes --benchmark_out itself, as it goes: checked
  // here, before the grid runs; it then writes a temporary file that is
  // renamed into place only after a complete run (or the device itself).
  OutputPath& out_file = out_file_;
  if (const auto out = gb_flag(gb_args, "benchmark_out")) {
    out_file = check_output("--benchmark_out", *out);
    if (out_file.kind() == OutputPath::Kind::kFd && out_file.fd() == 1)
      throw UsageError(
          "--benchmark_out: standard output already carries the console report; write the file "
          "elsewhere (or use --benchmark_format=json)");
  }
  latency_out_ = check_output("--latency-out", flags.latency_out);
  trace_out_ = check_output("--trace", flags.trace);
  check_distinct({&out_file_, &latency_out_, &trace_out_});
  if (rounds_.max_time_s > 0) {
    // The rounds are reported by bench, not by Google Benchmark, once all
    // have run: the flags that shape that report are taken out of its hands.
    rounds_.out_format = gb_flag(gb_args, "benchmark_out_format").value_or("json");
    rounds_.display_aggregates_only = truthy(gb_flag(gb_args, "benchmark_display_aggregates_only"));
    rounds_.report_aggregates_only = truthy(gb_flag(gb_args, "benchmark_report_aggregates_only"));
    std::vector<std::string> kept;
    for (const std::string& a : gb_args) {
      bool taken = false;
      for (const char* f :
           {"benchmark_out", "benchmark_out_format", "benchmark_display_aggregates_only",
            "benchmark_report_aggregates_only"})
        taken = taken || a == std::string("--") + f || a.rfind(std::string("--") + f + "=", 0) == 0;
      if (!taken) kept.push_back(a);
    }
    gb_args = kept;
    if (!gb_flag(gb_args, "benchmark_repetitions"))
      gb_args.push_back("--benchmark_repetitions=" + std::to_string(kMinRepetitions));
  }

  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  bool level_ok = false;
  for (std::string_view l : kLevels) level_ok = level_ok || l == flags.log_level;
  if (!level_ok)
    throw UsageError("--log-level: '" + flags.log_level +
                     "' must be trace, debug, info, warn, error or off");
  spdlog::set_level(spdlog::level::from_str(flags.log_level));

  bench::Grid& grid = grid_;
  grid = make_grid(flags);
  bench::parse_test_slowdown(std::getenv(kSlowdownEnv), &grid);
  if (!grid.slow_model.empty() &&
      std::find(grid.models.begin(), grid.models.end(), grid.slow_model) == grid.models.end())
    throw UsageError(std::string(kSlowdownEnv) + ": model '" + grid.slow_model +
                     "' is not in --models");

  if (!flags.trace.empty() && flags.sc.trace_hooks == "off")
    throw UsageError("--trace-hooks: off leaves the timeline (--trace) without its requests");
  trace_events_ = flag_count("--trace-events", flags.trace_events, 1, 100'000'000);
  precision_ = flag_percent("--precision", flags.precision, 0.1, 100);
  flag_model("--reference", flags.reference);
  if (app_->count("--reference") > 0 &&
      std::find(grid_.models.begin(), grid_.models.end(), flags.reference) == grid_.models.end())
    throw UsageError("--reference: '" + flags.reference + "' is not among --models");
}

int BenchCommand::execute() {
  const BenchFlags& flags = flags_;
  std::vector<std::string>& gb_args = gb_args_;
  OutputPath& out_file = out_file_;
  const OutputPath& latency_out = latency_out_;
  const OutputPath& trace_out = trace_out_;
  bench::Grid& grid = grid_;
  if (out_file.given()) {
    const std::string name = out_file.begin_by_name();
    for (std::string& a : gb_args)
      if (a.rfind("--benchmark_out=", 0) == 0) a = "--benchmark_out=" + name;
  }
  std::vector<char*> argv;
  for (std::string& a : gb_args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(argv.size()) - 1;
  benchmark::Initialize(&argc, argv.data());
  if (benchmark::ReportUnrecognizedArguments(argc, argv.data())) return 2;

  const nlohmann::json env = environment_json();
  for (const char* key :
       {"kernel", "io_uring", "cpu", "cores", "mitigations", "iomodels_version", "hostname"}) {
    const nlohmann::json& v = env.at(key);
    benchmark::AddCustomContext(key, v.is_string() ? v.get<std::string>() : v.dump());
  }
  benchmark::AddCustomContext("pattern", std::string(pattern_name(grid.base.pattern)));
  benchmark::AddCustomContext("cpus", "model " + sys::cpu_list_text(grid.base.model_cpus) +
                                          ", peer " +
                                          sys::cpu_list_text(grid.base.workload.peer_cpus));
  benchmark::AddCustomContext("peer_loop", peer_loop_text(grid.base.workload.peer_loop));
  benchmark::AddCustomContext("requests_per_iteration",
                              std::to_string(grid.requests_per_iteration));
  char precision[32];
  std::snprintf(precision, sizeof precision, "%g", precision_ * 100);
  benchmark::AddCustomContext("precision", precision);

  const std::vector<std::string> names = bench::register_grid(grid);
  if (::isatty(STDERR_FILENO)) {
    // Interleaved, the repetitions of a point are separate starts.
    const long reps = std::atol(gb_flag(gb_args, "benchmark_repetitions").value_or("1").c_str());
    const size_t total =
        count_selected(names) *
        (truthy(gb_flag(gb_args, "benchmark_enable_random_interleaving")) && reps > 1
             ? static_cast<size_t>(reps)
             : 1);
    const auto t0 = std::chrono::steady_clock::now();
    bench::on_benchmark_start([total, t0, i = size_t{0}](const std::string& name) mutable {
      ++i;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::string eta = "?";
      if (i > 1 && total >= i)
        eta = std::to_string(static_cast<int>(elapsed / (i - 1) * (total - i + 1))) + "s";
      std::fprintf(stderr, "[bench %zu of %zu] %s  elapsed %.0fs, ETA %s\n", i, total, name.c_str(),
                   elapsed, eta.c_str());
    });
  }

  std::unique_ptr<Trace> trace;
  if (!flags.trace.empty()) {
    trace = std::make_unique<Trace>(trace_events_);
    trace->name_process("iomodels bench");
    trace->name_thread("main");
    trace->install();
  }
  // Google Benchmark's own reporters, through the one that adds the
  // intervals and marks resolved points: the display (console by default) and, for a JSON
  // --benchmark_out, the file (another format gets Google Benchmark's reporter, unmarked).
  SpreadLog spreads(precision_, flags_.reference);
  // The console's counters as plain decimals (bench/console.h).
  const std::unique_ptr<benchmark::BenchmarkReporter> shown(
      plain_console(benchmark::CreateDefaultDisplayReporter()));
  ResolvingReporter display(shown.get(), &spreads, true);
  benchmark::JSONReporter json_file;
  ResolvingReporter file(&json_file, &spreads, false);
  size_t ran = 0;
  if (rounds_.max_time_s > 0) {
    rounds_.precision = precision_;
    rounds_.reference = flags_.reference;
    rounds_.max_time_text = flags_.max_time;
    rounds_.mark_display = gb_flag(gb_args, "benchmark_format").value_or("console") != "csv";
    ran = run_in_rounds(rounds_, shown.get(), &out_file);
  } else {
    const bool mark_file =
        out_file.given() && gb_flag(gb_args, "benchmark_out_format").value_or("json") == "json";
    ran = benchmark::RunSpecifiedBenchmarks(&display, mark_file ? &file : nullptr);
  }
  bench::close_sessions();
  if (trace) {
    trace->uninstall();
    trace_out.write(trace->to_json());
    std::fprintf(stderr,
                 "iomodels bench: timeline %s: %zu events%s (tracing slows every syscall)\n",
                 flags.trace.c_str(), trace->events(),
                 trace->truncated() ? ", stopped recording at --trace-events" : "");
  }
  benchmark::Shutdown();

  out_file.commit();
  if (latency_out.given()) {
    const nlohmann::json out = {{"environment", env}, {"spectra", bench::spectra()}};
    latency_out.write(out.dump(1) + "\n");
  }
  size_t failed = 0;
  for (const auto& [name, why] : bench::skipped())
    if (why.rfind("failed: ", 0) == 0) ++failed;
  if (!bench::skipped().empty())
    std::fprintf(stderr,
                 "iomodels bench: %zu of %zu benchmarks not applicable, %zu failed (see ERROR)\n",
                 bench::skipped().size() - failed, ran, failed);
  if (ran == 0) {
    if (truthy(gb_flag(gb_args, "benchmark_list_tests"))) return 0;
    std::fprintf(stderr, "iomodels: error: no benchmark matched\n");
    return 2;
  }
  // 0 only when what was asked was done: a point that failed (not one that
  // does not apply) fails the run.
  return failed > 0 ? 1 : 0;
}

}  // namespace

std::unique_ptr<Command> make_bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace iomodels::bench
