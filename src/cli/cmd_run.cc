// Description: `iomodels run`: one scenario, a one-screen summary, optional JSON.
#include <cstdio>

#include "cli/commands.h"
#include "cli/report.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/trace.h"

namespace iomodels::cli {

using namespace frontend;
namespace {

struct RunFlags {
  ScenarioFlags sc;
  std::string json;
  std::string trace;
  std::string trace_events = "100000";
  bool verbose = false;
} flags;

}  // namespace

CLI::App* add_run(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("run", "run one scenario and print what it cost");
  flags.sc.add_to(sub);
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
      "Example: iomodels run --model epoll --transport socketpair --connections 64 "
      "--latency 1ms --requests 200");
  return sub;
}

int run_run() {
  const Scenario sc = flags.sc.to_scenario();
  const uint64_t max_events = flag_count("--trace-events", flags.trace_events, 1, 100'000'000);
  if (!flags.trace.empty() && !sc.run.trace_hooks)
    throw UsageError("--trace-hooks: off leaves the timeline (--trace) without its requests");
  // Checked before the run: a result is never computed only to be thrown away.
  const OutputPath json_out = check_output("--json", flags.json);
  const OutputPath trace_out = check_output("--trace", flags.trace);
  check_distinct({&json_out, &trace_out});
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
  const Status st = run_scenario(sc, &r);
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

}  // namespace iomodels::cli
