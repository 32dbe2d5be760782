// Description: `iomodels demo`: the download() story, once per quadrant. The
// program asks for a document (1), has its own work to do (2), then uses the
// document (3) — the same three steps in source order every time. The demo
// prints when each step really happened, and what the CPU did meanwhile. This
// file is the command: its flags, their checks, and the order of the parts.
#include <unistd.h>

#include <memory>

#include "cli/demo_html.h"
#include "cli/demo_player.h"
#include "cli/demo_render.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/trace.h"

namespace iomodels::cli {

using namespace frontend;
namespace {

struct DemoFlags {
  std::string latency = "300ms";
  std::string transport = "socketpair";
  std::string work = "50ms";
  std::string size = "64KiB";
  std::string trace;
  std::string html;
  std::string trace_events = "100000";
  std::string color = "auto";
  bool json = false;
  bool python = false;
  bool services = false;
};

// Below this --latency the race's three devices (1, 2 and 3 thirds of it)
// would differ by less than a busy machine's scheduling noise.
constexpr uint64_t kRaceMinLatencyNs = 3'000'000;

// `demo`: the stories, then the race and (with --services) the story between
// processes, as text or JSON.
class DemoCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  DemoFlags flags_;
  // What validate() made of the flags.
  Scenario sc_;
  uint64_t work_ns_ = 0;
  DemoStyle style_;
  uint64_t max_events_ = 0;
  OutputPath trace_out_;
  OutputPath html_out_;
};

void DemoCommand::add_flags(CLI::App* sub) {
  sub->description("the download() story once per quadrant: what runs when, and what the CPU does");
  sub->add_option("-l,--latency", flags_.latency, "how long the slow device takes")
      ->capture_default_str();
  sub->add_option("-t,--transport", flags_.transport,
                  "pipe | socketpair | tcp: how the document travels from the peer (file has "
                  "no peer to wait for, so the demo refuses it)")
      ->capture_default_str();
  sub->add_option("-w,--work", flags_.work, "the program's own CPU work while it waits")
      ->capture_default_str();
  sub->add_option("-s,--size", flags_.size, "the document's size")->capture_default_str();
  sub->add_option("--trace", flags_.trace,
                  "write a timeline (Chrome Trace JSON, open in Perfetto)");
  sub->add_option("--trace-events", flags_.trace_events,
                  "stop recording the timeline after N events (the stories it missed are named)")
      ->capture_default_str();
  sub->add_option("--html", flags_.html,
                  "write one self-contained HTML page: each story's threads as lanes on a shared "
                  "time axis (own work, sleeping in a blocking call, spinning on EAGAIN and other "
                  "syscalls told apart by colour and pattern), the arrows request -> data ready "
                  "-> used, each story's verdict beside it, and the race; it records the "
                  "timeline as --trace does and embeds it. No network: it opens offline in any "
                  "browser. With --json the page is written too");
  sub->add_option("--color", flags_.color, "auto | always | never")->capture_default_str();
  sub->add_flag("--services", flags_.services,
                "also the story between processes: services A -> B -> C with C stalled for 1 s, "
                "called synchronously and through a queue (iomodels chain, a private "
                "nats-server; about 10 s)");
  sub->add_flag("--python", flags_.python,
                "after each story, the same program as Python (socket, ThreadPoolExecutor, "
                "asyncio) would write it; docs/python.md says what runs underneath");
  sub->add_flag("--json", flags_.json,
                "print the stories as JSON: steps, measured wait, work, wall, CPU, when the data "
                "became readable and was used, and each verdict");
}

void DemoCommand::validate() {
  const DemoFlags& flags = flags_;
  Scenario& sc = sc_;
  sc.workload.transport = flag_transport("--transport", flags.transport);
  if (sc.workload.transport == Transport::kFile)
    throw UsageError(
        "--transport: file has no peer and no latency to wait for; the demo's stories need one "
        "(use pipe, socketpair or tcp; `run -t file` measures a file)");
  sc.workload.latency = flag_latency("--latency", flags.latency);
  sc.workload.connections = 1;
  sc.workload.size = static_cast<uint32_t>(flag_size("--size", flags.size, 1, kMaxResponseBytes));
  work_ns_ = flag_duration("--work", flags.work);
  if (work_ns_ > 10'000'000'000ull) throw UsageError("--work: at most 10s");
  if (sc.workload.latency.bound_ns() > 30'000'000'000ull)
    throw UsageError("--latency: at most 30s for the demo");
  if (flags.color != "auto" && flags.color != "always" && flags.color != "never")
    throw UsageError("--color: '" + flags.color + "' must be auto, always or never");
  style_.color = flags.color == "always" || (flags.color == "auto" && ::isatty(1));
  style_.python = flags.python;
  max_events_ = flag_count("--trace-events", flags.trace_events, 1, 100'000'000);
  trace_out_ = check_output("--trace", flags.trace);
  html_out_ = check_output("--html", flags.html);
  check_distinct({&trace_out_, &html_out_});
}

int DemoCommand::execute() {
  const Scenario& sc = sc_;
  DemoOutcome d;
  d.latency = sc.workload.latency.text();
  d.work_ns = work_ns_;
  std::unique_ptr<Trace> trace;
  if (trace_out_.given() || html_out_.given()) {
    trace = std::make_unique<Trace>(max_events_);
    trace->name_process("iomodels demo");
    trace->install();
  }
  if (!flags_.json) print_demo_intro(d);
  d.stories = play_stories(sc, work_ns_, max_events_);
  // The race needs latencies that differ by more than the machine's noise.
  d.race_on = sc.workload.latency.kind == LatencySpec::Kind::kFixed &&
              sc.workload.latency.bound_ns() >= kRaceMinLatencyNs;
  // The timeline holds the stories; the race is told in words and numbers.
  if (trace) trace->uninstall();
  if (d.race_on) d.race = run_race(sc);
  d.services_on = flags_.services;
  if (d.services_on) d.services = run_services_story();
  int code = 0;
  for (const Story& s : d.stories)
    if (!s.status.ok()) code = 1;
  if (d.race_on && (!d.race.callbacks.status.ok() || !d.race.awaits.status.ok())) code = 1;
  if (!d.services.error.empty()) code = 1;
  // The timeline's files: the trace as --trace asked, the page around it.
  if (trace) {
    trace->uninstall();
    const std::string json = trace->to_json();
    if (trace_out_.given()) trace_out_.write(json);
    if (html_out_.given()) html_out_.write(demo_html(d, json));
  }
  if (flags_.json) {
    nlohmann::json doc = demo_json(d);
    if (html_out_.given()) doc["html"] = {{"path", flags_.html}};
    if (trace_out_.given()) {
      doc["trace"] = {
          {"path", flags_.trace}, {"events", trace->events()}, {"truncated", trace->truncated()}};
      for (const Story& s : d.stories)
        doc["trace"]["stories"].push_back(
            {{"title", s.title}, {"events", s.trace_events}, {"cut", s.trace_cut}});
    }
    std::printf("%s\n", doc.dump(2).c_str());
    return code;
  }
  print_demo_text(d, style_);
  if (trace_out_.given())
    print_demo_timeline(d, flags_.trace, trace->events(), trace->truncated(), max_events_);
  if (html_out_.given())
    std::printf("\npage: %s — opens offline in any browser\n", flags_.html.c_str());
  return code;
}

}  // namespace

std::unique_ptr<Command> make_demo_command() { return std::make_unique<DemoCommand>(); }

}  // namespace iomodels::cli
