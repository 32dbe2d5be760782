// Description: `iomodels run`: one scenario, a one-screen summary, optional
// JSON; with --repeat or --max-time, repetitions of it, each figure's median
// with its interval, and the verdict resolved or not.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/report.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/env.h"
#include "measure/recorder.h"
#include "measure/resolution.h"
#include "measure/trace.h"
#include "run/exec.h"
#include "run/slowdown.h"

namespace iomodels::cli {

using namespace frontend;
namespace {

struct RunFlags {
  ScenarioFlags sc;
  std::string json;
  std::string trace;
  std::string trace_events = "100000";
  bool verbose = false;
  std::string exec;
  std::string name;
  std::string count_syscalls = "on";
  std::string quadrant;
  std::string repeat = "1";
  std::string max_time = "0";
  std::string precision = "5";
};

// The most repetitions --max-time may add.
constexpr uint64_t kMaxRepetitions = 1000;

// One repetition: its result and what other processes and steal took meanwhile.
struct Repetition {
  ScenarioResult r;
  double others_cores = -1;  // -1: /proc/stat unreadable
};

// The figures resolve() and the JSON take from a repetition.
std::map<std::string, double> figures_of(const Repetition& rep) {
  const Figures& f = rep.r.figures;
  std::map<std::string, double> v = {{kCpuCounter, f.cpu_us_per_req},
                                     {kThroughputCounter, f.requests_per_s},
                                     {"ctx_per_req", f.ctx_per_req}};
  if (f.has_latency) {
    v["p50_us"] = f.p50_us;
    v["p99_us"] = f.p99_us;
  }
  if (f.has_syscalls) v["syscalls_per_req"] = f.syscalls_per_req;
  if (f.has_waits) v[kEventsCounter] = f.events_per_wait;
  if (rep.others_cores >= 0) v[kOthersCounter] = rep.others_cores;
  return v;
}

// --exec: what the flags say of the program; every refusal before any work.
// `app` tells a flag given from one left at its default.
ExecSpec exec_spec(const RunFlags& flags, const CLI::App* app, Scenario* sc) {
  const auto given = [app](const char* flag) { return app->count(flag) > 0; };
  if (!given("--exec")) {
    for (const char* f : {"--name", "--count-syscalls", "--quadrant"})
      if (given(f)) throw UsageError(std::string(f) + ": only with --exec");
    return {};
  }
  // A model's own flags, and the harness's switches of its per-request work,
  // say nothing of a program: refused, not ignored.
  for (const char* f : {"--model", "--pool-threads", "--threads", "--poll-interval", "--verify",
                        "--histogram", "--counters", "--trace-hooks", "--trace", "--pattern"})
    if (given(f))
      throw UsageError(std::string(f) +
                       ": not with --exec (the program is the model: it paces, verifies and "
                       "times itself; see docs/protocol.md)");
  if (!sc->workload.remote.empty())
    throw UsageError("--exec: needs the local peer (no --peer): it checks every request");
  if (sc->workload.transport == Transport::kFile)
    throw UsageError("--exec: the file transport has no peer; use pipe, socketpair or tcp");
  ExecSpec spec;
  if (Status s = parse_exec_command(flags.exec, &spec); !s.ok()) throw UsageError(s.message());
  spec.count_syscalls = flag_on_off("--count-syscalls", flags.count_syscalls);
  if (given("--name") && flags.name.empty()) throw UsageError("--name: must not be empty");
  if (find_model(flags.name) != nullptr)
    throw UsageError("--name: '" + flags.name +
                     "' is a built-in model's name: tables and plots would mix the two");
  sc->model = flags.name.empty() ? exec_default_name(spec) : flags.name;
  if (given("--quadrant")) {
    std::string all;
    for (Quadrant q :
         {Quadrant::kSyncBlocking, Quadrant::kSyncNonblocking, Quadrant::kAsyncBlocking,
          Quadrant::kAsyncNonblocking, Quadrant::kMultiplexing}) {
      if (flags.quadrant == quadrant_name(q)) spec.quadrant = flags.quadrant;
      all += (all.empty() ? "" : " | ") + std::string(quadrant_name(q));
    }
    if (spec.quadrant.empty())
      throw UsageError("--quadrant: '" + flags.quadrant + "' is none of " + all);
  }
  return spec;
}

// The program's own lines under the summary: what only --exec measures.
void print_exec(FILE* out, const ScenarioResult& r) {
  const ExecRun& x = *r.exec;
  if (r.peer.exec) {
    const ExecPeerStats& p = *r.peer.exec;
    std::fprintf(out,
                 "  turnaround    p50 %9.1f   p90 %9.1f   p99 %9.1f   max %9.1f us  (the peer's "
                 "clock: response written -> next request)\n",
                 p.turnaround.percentile(0.50) / 1e3, p.turnaround.percentile(0.90) / 1e3,
                 p.turnaround.percentile(0.99) / 1e3, p.turnaround.max() / 1e3);
  }
  std::fprintf(out,
               "  program       %s\n"
               "                its life %.3f s (start-up %.3f s before %s), CPU "
               "%.3f s, peak RSS %.1f MiB\n",
               x.command.c_str(), x.life_s, x.startup_s,
               r.peer.exec ? "the first request" : "the warm-up was answered", x.life_cpu_s,
               r.m.max_rss_kb / 1024.0);
  if (!x.counters_why.empty())
    std::fprintf(out,
                 "                CPU and context switches over its whole life, start-up "
                 "included: %s\n",
                 x.counters_why.c_str());
  if (!x.syscalls_why.empty())
    std::fprintf(out, "                syscalls not counted: %s\n", x.syscalls_why.c_str());
  if (!x.ended.empty()) {
    // The server role: the generator timed every request.
    std::fprintf(out, "                it %s\n", x.ended.c_str());
  } else if (x.reported == 0)
    std::fprintf(out,
                 "                latency not reported by the program (IOMODELS_REPORT_FD; "
                 "the client library reports it)\n");
  else if (x.reported != r.requests)
    std::fprintf(out, "                latency reported for %llu of %llu requests\n",
                 static_cast<unsigned long long>(x.reported),
                 static_cast<unsigned long long>(r.requests));
  if (x.leftovers)
    std::fprintf(out, "                it left processes running in its group: killed\n");
}

// "57832", "6.56", "0.331": whole numbers from 1000 up, else 3 significant digits.
std::string number(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 1000 ? "%.0f" : "%.3g", v);
  return buf;
}

// Reports a run that did not complete, with its exit code; 0 when it did.
int failed(const Scenario& sc, const Status& st) {
  if (st.ok()) return 0;
  if (st.not_applicable()) {
    std::fprintf(stderr, "iomodels: not applicable: %s\n", st.message().c_str());
    return 2;
  }
  if (st.invalid()) {
    std::fprintf(stderr, "iomodels: error: %s\n", st.message().c_str());
    return 2;
  }
  std::fprintf(stderr, "iomodels: %s failed: %s\n", sc.model.c_str(), st.message().c_str());
  return 1;
}

// `run`: one scenario (a model, or a program of yours with --exec), its
// summary on the screen and optionally its result and timeline as files.
class RunCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  RunFlags flags_;
  CLI::App* app_ = nullptr;
  // What validate() made of the flags.
  Scenario sc_;
  ExecSpec spec_;
  uint64_t max_events_ = 0;
  OutputPath json_out_;
  OutputPath trace_out_;
  uint64_t repeat_ = 1, max_time_ns_ = 0;
  double precision_ = kDefaultPrecision;

  int repeated(FILE* human);
};

void RunCommand::add_flags(CLI::App* sub) {
  app_ = sub;
  RunFlags& flags = flags_;
  sub->description("run one scenario and print what it cost");
  flags.sc.add_to(sub);
  sub->add_option("--exec", flags.exec,
                  "measure a program of yours instead of a model: CMD is started with the "
                  "connections to the peer and the environment of docs/protocol.md, and "
                  "measured from outside (CPU of its process tree, syscalls, turnaround)");
  sub->add_option("--name", flags.name,
                  "--exec: the program's name in results [default: its script's or its own "
                  "file name]");
  sub->add_option("--quadrant", flags.quadrant,
                  "--exec: the program's quadrant, so tables and plots place it among the "
                  "models: sync-blocking | sync-nonblocking | async-blocking | "
                  "async-nonblocking | multiplexing");
  sub->add_option("--count-syscalls", flags.count_syscalls,
                  "--exec: count the program's syscalls with the kernel's raw_syscalls "
                  "tracepoint (a counter in the kernel: the program is not slowed; needs root "
                  "or perf_event_paranoid <= -1) | off")
      ->capture_default_str();
  sub->add_option("--json", flags.json,
                  "also write the result (with the full latency spectrum) here");
  sub->add_option("--trace", flags.trace,
                  "write a timeline of the run (Chrome Trace JSON; open in ui.perfetto.dev)");
  sub->add_option("--trace-events", flags.trace_events,
                  "stop recording the timeline after N events")
      ->capture_default_str();
  sub->add_option("--repeat", flags.repeat,
                  "run the scenario N times (1..1000): each figure's median with its 95% "
                  "interval (6 or more), resolved or not")
      ->capture_default_str();
  sub->add_option("--max-time", flags.max_time,
                  "after --repeat (at least 6), keep adding repetitions until CPU per request "
                  "and throughput are resolved to --precision or this much time has passed "
                  "(e.g. 60s; 0: no more than --repeat)")
      ->capture_default_str();
  sub->add_option("--precision", flags.precision,
                  "percent: the half-width of the 95% interval within which CPU per request and "
                  "throughput count as resolved (with --repeat or --max-time)")
      ->capture_default_str();
  sub->add_flag("-v,--verbose", flags.verbose,
                "also print the peer's internals: its loop (io_uring or epoll) and how near a "
                "deadline it busy-waits instead of sleeping");
  sub->footer(
      "Examples:\n"
      "  iomodels run --model epoll --transport socketpair --connections 64 --latency 1ms "
      "--requests 200\n"
      "  iomodels run --exec \"examples/python/blocking.py\" -c 8 -s 4KiB -l 5ms -r 50\n"
      "  iomodels run -m uring -c 64 -l 1ms --repeat 6 --max-time 60s   # until known to ±5%\n"
      "\n"
      "Repetitions: each is a whole run (its own peer and connections), one after another.\n"
      "After them comes the summary of the median one (by CPU per request), then each figure's\n"
      "median over the repetitions with its distribution-free 95% interval (order statistics:\n"
      "6 repetitions at least) and the verdict: resolved when the intervals of CPU per request\n"
      "and throughput are within ±--precision percent of their medians, else UNRESOLVED with\n"
      "what was seen (other processes' CPU during a repetition, a change of regime: events per\n"
      "wait). --json then holds the median repetition's result, every repetition's figures\n"
      "(repetitions) and the intervals; iomodels compare takes the repetitions as samples.");
}

void RunCommand::validate() {
  sc_ = flags_.sc.to_scenario();
  spec_ = exec_spec(flags_, app_, &sc_);
  // The test knob applies to the model it names and to no other (so that a
  // comparison of two models sees one of them slowed); a name that is no
  // model is a typo.
  TestSlowdown slow;
  std::string why;
  if (!parse_test_slowdown(std::getenv(kSlowdownEnv), &slow, &why))
    throw UsageError(std::string(kSlowdownEnv) + ": " + why);
  if (!slow.model.empty()) {
    if (find_model(slow.model) == nullptr)
      throw UsageError(std::string(kSlowdownEnv) + ": unknown model '" + slow.model + "'");
    if (slow.model == sc_.model && spec_.argv.empty()) sc_.test_slowdown_percent = slow.percent;
  }
  max_events_ = flag_count("--trace-events", flags_.trace_events, 1, 100'000'000);
  repeat_ = flag_count("--repeat", flags_.repeat, 1, kMaxRepetitions);
  max_time_ns_ = flag_duration("--max-time", flags_.max_time);
  if (max_time_ns_ > 24ull * 3600 * 1'000'000'000)
    throw UsageError("--max-time: '" + flags_.max_time + "' is over a day");
  precision_ = flag_percent("--precision", flags_.precision, 0.1, 100);
  const bool repeated = repeat_ > 1 || max_time_ns_ > 0;
  if (max_time_ns_ > 0) repeat_ = std::max<uint64_t>(repeat_, kMinRepetitions);
  if (app_->count("--precision") > 0 && !repeated)
    throw UsageError("--precision: only with --repeat or --max-time (one run has no interval)");
  if (!flags_.trace.empty() && repeated)
    throw UsageError("--trace: records one run, not with --repeat or --max-time");
  if (!flags_.trace.empty() && !sc_.run.trace_hooks)
    throw UsageError("--trace-hooks: off leaves the timeline (--trace) without its requests");
  // Checked before the run: a result is never computed only to be thrown away.
  json_out_ = check_output("--json", flags_.json);
  trace_out_ = check_output("--trace", flags_.trace);
  check_distinct({&json_out_, &trace_out_});
}

int RunCommand::execute() {
  const RunFlags& flags = flags_;
  const Scenario& sc = sc_;
  const ExecSpec& spec = spec_;
  const uint64_t max_events = max_events_;
  const OutputPath& json_out = json_out_;
  const OutputPath& trace_out = trace_out_;
  // With a result on standard output, the summary goes to standard error.
  FILE* const human = json_out.is_stdout() || trace_out.is_stdout() ? stderr : stdout;
  std::unique_ptr<Trace> trace;
  if (!flags.trace.empty()) {
    // Tracing slows every syscall down: the summary says so.
    trace = std::make_unique<Trace>(max_events);
    trace->name_process("iomodels run " + sc.model);
    trace->name_thread("main");
    trace->install();
  }
  if (repeat_ > 1) return repeated(human);
  ScenarioResult r;
  const Status st = spec.argv.empty() ? run_scenario(sc, &r) : run_exec(sc, spec, &r);
  if (trace) trace->uninstall();
  if (const int code = failed(sc, st); code != 0) return code;
  std::fputs(summary_text(sc, r, flags.verbose).c_str(), human);
  if (r.exec) print_exec(human, r);
  // On stderr, one line each, after the summary they qualify; they do not
  // change the exit code.
  std::fflush(human);
  for (const std::string& w : result_warnings(sc, r))
    std::fprintf(stderr, "iomodels: warning: %s\n", w.c_str());
  json_out.write(result_json(sc, r).dump(2) + "\n");
  if (trace) {
    trace_out.write(trace->to_json());
    std::fprintf(human, "  timeline      %s: %zu events%s (tracing on: figures include its cost)\n",
                 flags.trace.c_str(), trace->events(),
                 trace->truncated() ? ", stopped recording at --trace-events" : "");
  }
  return 0;
}

int RunCommand::repeated(FILE* human) {
  const Scenario& sc = sc_;
  std::vector<Repetition> reps;
  std::map<std::string, std::vector<double>> values;
  PointSpread point;
  std::string stopped = "as many as --repeat";
  const uint64_t t0 = now_ns();
  const double series_busy0 = machine_busy_cpu_s(), series_own0 = process_tree_cpu_s();
  for (;;) {
    if (reps.size() >= repeat_) {
      point = resolve(sc.model, values, precision_);
      if (max_time_ns_ == 0) break;
      if (point.resolved) {
        stopped = "resolved";
        break;
      }
      if (now_ns() - t0 >= max_time_ns_) {
        stopped = "--max-time " + flags_.max_time + " spent";
        break;
      }
      if (reps.size() >= kMaxRepetitions) {
        stopped = "the most repetitions, " + std::to_string(kMaxRepetitions);
        break;
      }
    }
    Repetition rep;
    const double busy0 = machine_busy_cpu_s(), own0 = process_tree_cpu_s();
    const uint64_t w0 = now_ns();
    const Status st = spec_.argv.empty() ? run_scenario(sc, &rep.r) : run_exec(sc, spec_, &rep.r);
    if (const int code = failed(sc, st); code != 0) return code;
    const double wall_s = static_cast<double>(now_ns() - w0) / 1e9;
    if (busy0 >= 0 && wall_s >= kMinAttributionS)
      rep.others_cores =
          std::max(0.0, (machine_busy_cpu_s() - busy0 - (process_tree_cpu_s() - own0)) / wall_s);
    const Figures& f = rep.r.figures;
    std::fprintf(human, "  repetition %3zu  CPU %8.2f us/req  %10.0f requests/s", reps.size() + 1,
                 f.cpu_us_per_req, f.requests_per_s);
    if (f.has_waits) std::fprintf(human, "  %6.2f events/wait", f.events_per_wait);
    if (rep.others_cores >= 0) std::fprintf(human, "  others %.2f core", rep.others_cores);
    std::fprintf(human, "\n");
    std::fflush(human);
    for (const auto& [k, v] : figures_of(rep)) values[k].push_back(v);
    reps.push_back(std::move(rep));
  }

  // Other processes over the whole series: long enough to attribute even when
  // each repetition is too short.
  const double series_s = static_cast<double>(now_ns() - t0) / 1e9;
  const double series_others = series_busy0 < 0 || series_s < kMinAttributionS
                                   ? -1
                                   : std::max(0.0, (machine_busy_cpu_s() - series_busy0 -
                                                    (process_tree_cpu_s() - series_own0)) /
                                                       series_s);
  // The median repetition by CPU per request (the lower of the two middle ones).
  std::vector<size_t> order(reps.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&reps](size_t a, size_t b) {
    return reps[a].r.figures.cpu_us_per_req < reps[b].r.figures.cpu_us_per_req;
  });
  const Repetition& mid = reps[order[(order.size() - 1) / 2]];
  std::fprintf(human, "\nThe median repetition (by CPU per request):\n");
  std::fputs(summary_text(sc, mid.r, flags_.verbose).c_str(), human);
  if (mid.r.exec) print_exec(human, mid.r);

  std::fprintf(human,
               "\nOver %zu repetitions (%s): each figure's median [95%% interval, order "
               "statistics]\n",
               reps.size(), stopped.c_str());
  nlohmann::json intervals = nlohmann::json::object();
  for (const auto& [k, v] : values) {
    const Spread s = spread_of(v);
    if (k == kOthersCounter) {
      std::fprintf(human, "  %-18s up to %.2f core (other processes and steal, per repetition)\n",
                   k.c_str(), s.max);
      continue;
    }
    std::fprintf(human, "  %-18s %10s", k.c_str(), number(s.median).c_str());
    if (s.n >= 2)
      std::fprintf(human, "  [%s, %s]  ±%.1f%%%s", number(s.lo).c_str(), number(s.hi).c_str(),
                   s.half_width() * 100,
                   s.coverage < kLevel ? "  (covers less than 95%: fewer than 6)" : "");
    std::fprintf(human, "\n");
    intervals[k] = {{"median", s.median},
                    {"lo", s.n >= 2 ? nlohmann::json(s.lo) : nlohmann::json(nullptr)},
                    {"hi", s.n >= 2 ? nlohmann::json(s.hi) : nlohmann::json(nullptr)},
                    {"coverage", s.coverage}};
  }
  if (series_others >= 0)
    std::fprintf(human,
                 "  other processes and steal: %.2f core over the %.1f s of the repetitions%s\n",
                 series_others, series_s,
                 values.count(kOthersCounter) == 0 ? " (each repetition too short to tell)" : "");
  if (point.resolved)
    std::fprintf(human, "resolved: CPU per request and throughput within ±%g%%\n",
                 precision_ * 100);
  else
    std::fprintf(human, "UNRESOLVED: %s\n", point.why.c_str());
  std::fflush(human);
  for (const std::string& w : result_warnings(sc, mid.r))
    std::fprintf(stderr, "iomodels: warning: %s\n", w.c_str());

  nlohmann::json j = result_json(sc, mid.r);
  nlohmann::json all = nlohmann::json::array();
  for (const Repetition& rep : reps) all.push_back(figures_of(rep));
  j["repetitions"] = all;
  j["intervals"] = intervals;
  j["precision_percent"] = precision_ * 100;
  j["others_cores"] = series_others >= 0 ? nlohmann::json(series_others) : nlohmann::json(nullptr);
  j["resolved"] = point.resolved;
  j["why_unresolved"] = point.why;
  json_out_.write(j.dump(2) + "\n");
  return 0;
}

}  // namespace

std::unique_ptr<Command> make_run_command() { return std::make_unique<RunCommand>(); }

}  // namespace iomodels::cli
