// Description: `iomodels run`: one scenario, a one-screen summary, optional JSON.
#include <cstdio>
#include <cstdlib>

#include "cli/report.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
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
};

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
  for (const char* f : {"--model", "--pool-threads", "--poll-interval", "--verify", "--histogram",
                        "--counters", "--trace-hooks", "--trace", "--pattern"})
    if (given(f))
      throw UsageError(std::string(f) +
                       ": not with --exec (the program is the model: it paces, verifies and "
                       "times itself; see docs/protocol.md)");
  if (sc->workload.role != Role::kClient)
    throw UsageError("--exec: runs the client role only: the program asks, the peer answers");
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
  const ExecPeerStats& p = *r.peer.exec;
  std::fprintf(out,
               "  turnaround    p50 %9.1f   p90 %9.1f   p99 %9.1f   max %9.1f us  (the peer's "
               "clock: response written -> next request)\n",
               p.turnaround.percentile(0.50) / 1e3, p.turnaround.percentile(0.90) / 1e3,
               p.turnaround.percentile(0.99) / 1e3, p.turnaround.max() / 1e3);
  std::fprintf(out,
               "  program       %s\n"
               "                its life %.3f s (start-up %.3f s before the first request), CPU "
               "%.3f s, peak RSS %.1f MiB\n",
               x.command.c_str(), x.life_s, x.startup_s, x.life_cpu_s, r.m.max_rss_kb / 1024.0);
  if (!x.counters_why.empty())
    std::fprintf(out,
                 "                CPU and context switches over its whole life, start-up "
                 "included: %s\n",
                 x.counters_why.c_str());
  if (!x.syscalls_why.empty())
    std::fprintf(out, "                syscalls not counted: %s\n", x.syscalls_why.c_str());
  if (x.reported == 0)
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
  sub->add_flag("-v,--verbose", flags.verbose,
                "also print the peer's internals: its loop (io_uring or epoll) and how near a "
                "deadline it busy-waits instead of sleeping");
  sub->footer(
      "Examples:\n"
      "  iomodels run --model epoll --transport socketpair --connections 64 --latency 1ms "
      "--requests 200\n"
      "  iomodels run --exec \"examples/python/blocking.py\" -c 8 -s 4KiB -l 5ms -r 50");
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
  ScenarioResult r;
  const Status st = spec.argv.empty() ? run_scenario(sc, &r) : run_exec(sc, spec, &r);
  if (trace) trace->uninstall();
  if (st.not_applicable()) {
    std::fprintf(stderr, "iomodels: not applicable: %s\n", st.message().c_str());
    return 2;
  }
  if (st.invalid()) {
    std::fprintf(stderr, "iomodels: error: %s\n", st.message().c_str());
    return 2;
  }
  if (!st.ok()) {
    std::fprintf(stderr, "iomodels: %s failed: %s\n", sc.model.c_str(), st.message().c_str());
    return 1;
  }
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

}  // namespace

std::unique_ptr<Command> make_run_command() { return std::make_unique<RunCommand>(); }

}  // namespace iomodels::cli
