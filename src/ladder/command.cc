// Description: `iomodels ladder`: the io_uring feature ladder measured. For
// each cell (role × arrival regime × response size) it runs `uring-ladder`
// with no step, then with each step added in turn (models/uring_ladder.h),
// and a reference model beside them, every variant once per round in a
// rotated order; each step's CPU per request is divided by the step before's
// in the same round, and the median of those paired ratios, with its 95%
// interval, gives the verdict: cheaper, a tie, or dearer.
#include "frontend/command.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/resolution.h"
#include "models/uring_ladder.h"
#include "peer/payload.h"
#include "run/figures.h"

namespace iomodels::ladder {

using namespace frontend;
namespace {

struct LadderFlags {
  ScenarioFlags sc;
  std::string roles = "client,server";
  std::string regimes = "step,jitter";
  std::string sizes = "64,4KiB,64KiB";
  std::string load = "20000";
  std::string step_latency = "1ms";
  std::string jitter_latency = "uniform:0.5ms-1.5ms";
  std::string steps = "all";
  std::string reference = "epoll";
  std::string repeat = "6";
  std::string json;
  bool markdown = false;
};

std::string fixed(double v, const char* format = "%.2f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// One variant of a cell: uring-ladder with a set of steps, or the reference.
struct Variant {
  std::string name;  // "plain", "+ batch-wait", or the reference model's name
  std::string model;
  uint32_t mask = kLadderBase;
  std::vector<double> cpu, events, rate;  // one per round
  std::string in_force;                   // the steps the model reported in force
};

// A paired ratio and its verdict: cheaper | tie | dearer; none with fewer
// than kMinRepetitions rounds.
struct Verdict {
  PairedRatio r;
  std::string word;
};
Verdict verdict_of(const std::vector<double>& num, const std::vector<double>& den) {
  Verdict v{paired_ratio(num, den), ""};
  if (!v.r.has_interval())
    v.word = "—";
  else if (!v.r.decided())
    v.word = "(fewer than " + std::to_string(kMinRepetitions) + " rounds)";
  else
    v.word = v.r.side_of(1) < 0 ? "cheaper" : v.r.side_of(1) > 0 ? "dearer" : "tie";
  return v;
}

// One cell of the ladder: a scenario and its variants.
struct Cell {
  std::string title;  // "server role, 20,000 requests/s, uniform arrivals (in step), 4096 B"
  std::string role, regime;
  Scenario sc;
  std::vector<Variant> steps;  // [0] plain, then each step that applies
  std::vector<std::pair<std::string, std::string>> skipped;  // step, why
  Variant reference;
  bool has_reference = false;
  std::string error;
};

class LadderCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  LadderFlags flags_;
  std::vector<Cell> cells_;
  uint64_t repeat_ = 6;
  OutputPath json_out_;
};

void LadderCommand::add_flags(CLI::App* sub) {
  LadderFlags& f = flags_;
  sub->description(
      "the io_uring feature ladder: uring-ladder from a plain proactor up, one feature per step, "
      "each step's CPU per request divided by the step before's in the same round, with its 95% "
      "interval and a verdict (cheaper, tie, dearer), in both roles and both arrival regimes");
  f.sc.requests = "150";
  f.sc.add_to(sub, ScenarioFlagParts{.model = false, .switches = false});
  // What each cell sets itself is not offered (--roles, --regimes, --sizes...).
  for (const char* own : {"--role", "--offered", "--arrivals", "--latency", "--size", "--rate"})
    sub->remove_option(sub->get_option(own));
  sub->add_option("-r,--requests", f.sc.requests,
                  "requests per connection, timed, per run (the server role: the window)")
      ->capture_default_str();
  sub->add_option("--roles", f.roles, "client, server or both (comma list)")->capture_default_str();
  sub->add_option("--regimes", f.regimes,
                  "step (constant latency; the server role: uniform arrivals), jitter (latency "
                  "--jitter-latency; poisson arrivals), or both")
      ->capture_default_str();
  sub->add_option("--sizes", f.sizes, "response sizes (comma list)")->capture_default_str();
  sub->add_option("--load", f.load, "the server role's offered load, requests/s")
      ->capture_default_str();
  sub->add_option("--step-latency", f.step_latency, "the client role's constant latency (in step)")
      ->capture_default_str();
  sub->add_option("--jitter-latency", f.jitter_latency, "the client role's jittered latency")
      ->capture_default_str();
  sub->add_option("--steps", f.steps,
                  "the steps, in ladder order: batch-wait, ring-fd, fixed-files, multishot, "
                  "coop-taskrun, defer-taskrun, bundle, send-zc, sqpoll, or all")
      ->capture_default_str();
  sub->add_option("--reference", f.reference,
                  "a model run beside the steps each round; the top step is divided by it "
                  "('none': no reference)")
      ->capture_default_str();
  sub->add_option("--repeat", f.repeat,
                  "rounds: every variant of every cell once per round, in a rotated order")
      ->capture_default_str();
  sub->add_flag("--markdown", f.markdown, "print the tables as markdown");
  sub->add_option("--json", f.json, "also write every run's figures and the verdicts here (JSON)");
  sub->footer(
      "A step the transport, the role or this kernel cannot take is skipped with the reason,\n"
      "and the next step is divided by the one before it that ran. The steps add up: step k\n"
      "runs with every step before it (SQPOLL replaces the task-run steps, DEFER_TASKRUN\n"
      "replaces COOP_TASKRUN). CPU per request is the model's process (the\n"
      "peer is another). The interval is the order-statistics interval of the paired\n"
      "ratios' median; with fewer than 6 rounds it covers less than 95%. docs/models.md\n"
      "says what each step saves.\n"
      "Example: iomodels ladder --roles server --sizes 4KiB -t tcp --repeat 6 --markdown");
}

void LadderCommand::validate() {
  const LadderFlags& f = flags_;
  const Scenario base = f.sc.to_scenario();
  repeat_ = flag_count("--repeat", f.repeat, 1, 1000);
  json_out_ = check_output("--json", f.json);
  const bool file = base.workload.transport == Transport::kFile;
  const double load = flag_rate("--load", f.load, 1e8);
  const LatencySpec step_lat = flag_latency("--step-latency", f.step_latency);
  const LatencySpec jitter_lat = flag_latency("--jitter-latency", f.jitter_latency);
  const uint32_t asked = flag_ladder_steps("--steps", f.steps);
  const ModelInfo* ref = nullptr;
  if (f.reference != "none") {
    flag_model("--reference", f.reference);
    ref = find_model(f.reference);
  }
  std::vector<uint32_t> sizes;
  for (const std::string& s : flag_list("--sizes", f.sizes))
    sizes.push_back(static_cast<uint32_t>(flag_size("--sizes", s, 1, kMaxResponseBytes)));
  std::vector<std::string> roles = flag_list("--roles", f.roles);
  std::vector<std::string> regimes = flag_list("--regimes", f.regimes);
  for (const std::string& r : roles)
    if (r != "client" && r != "server")
      throw UsageError("--roles: '" + r + "' is not a role (client, server)");
  for (const std::string& r : regimes)
    if (r != "step" && r != "jitter")
      throw UsageError("--regimes: '" + r + "' is not a regime (step, jitter)");
  if (file) {
    if (std::find(roles.begin(), roles.end(), "server") != roles.end())
      throw UsageError("--roles: the file transport has no peer to send requests (client only)");
    regimes = {"device"};  // no latency to set: the device's own time
  }

  for (const std::string& role : roles)
    for (const std::string& regime : regimes)
      for (uint32_t size : sizes) {
        Cell c;
        c.role = role;
        c.regime = regime;
        c.sc = base;
        c.sc.model = "uring-ladder";
        c.sc.workload.size = size;
        WorkloadOptions& w = c.sc.workload;
        if (role == "server") {
          w.role = Role::kServer;
          w.offered_per_s = load;
          w.arrivals = regime == "step" ? Arrivals::kUniform : Arrivals::kPoisson;
          w.latency = flag_latency("--latency", "0");
          c.title = "server role, " + fixed(load, "%.0f") + " requests/s offered, " +
                    (regime == "step" ? "uniform arrivals (in step)" : "poisson arrivals");
        } else if (!file) {
          w.latency = regime == "step" ? step_lat : jitter_lat;
          c.title = "client role, latency " + w.latency.text() +
                    (regime == "step" ? " (in step)" : " (jittered)");
        } else {
          c.title = "client role, reads of the data file";
        }
        c.title += ", " + std::to_string(w.connections) + " × " + std::to_string(size) + " B on " +
                   std::string(transport_name(w.transport));
        // The steps that apply, each with every one before it.
        Variant plain{"plain", "uring-ladder", kLadderBase, {}, {}, {}, {}};
        c.steps.push_back(plain);
        uint32_t mask = kLadderBase;
        for (const LadderStepInfo& s : ladder_steps()) {
          if ((asked & ladder_bit(s.step)) == 0) continue;
          const std::string why = ladder_step_skipped(s.step, w);
          if (!why.empty()) {
            c.skipped.emplace_back(std::string(s.name), why);
            continue;
          }
          mask |= ladder_bit(s.step);
          c.steps.push_back({"+ " + std::string(s.name), "uring-ladder", mask, {}, {}, {}, {}});
        }
        if (ref != nullptr) {
          if (const std::string why = why_not(*ref, w); why.empty()) {
            c.reference = {std::string(ref->name), std::string(ref->name), 0, {}, {}, {}, {}};
            c.has_reference = true;
          }
        }
        cells_.push_back(std::move(c));
      }
}

// Runs one variant of a cell once; false (with the cell's error set) on a failure.
bool run_variant(Cell& c, Variant& v) {
  Scenario sc = c.sc;
  sc.model = v.model;
  if (v.model == "uring-ladder") sc.run.ladder_steps = v.mask;
  ScenarioResult r;
  const Status st = run_scenario(sc, &r);
  if (!st.ok()) {
    c.error = v.name + ": " + st.message();
    return false;
  }
  v.cpu.push_back(r.figures.cpu_us_per_req);
  v.events.push_back(r.figures.has_waits ? r.figures.events_per_wait : 0);
  v.rate.push_back(r.figures.requests_per_s);
  for (const Model::Fact& f : r.model_facts)
    if (f.key == "ladder_steps") v.in_force = f.text;
  return true;
}

int LadderCommand::execute() {
  const bool progress = ::isatty(STDERR_FILENO);
  size_t total = 0, done = 0;
  for (const Cell& c : cells_) total += repeat_ * (c.steps.size() + (c.has_reference ? 1 : 0));
  for (uint64_t k = 0; k < repeat_; ++k) {
    for (Cell& c : cells_) {
      if (!c.error.empty()) continue;
      std::vector<Variant*> vs;
      for (Variant& v : c.steps) vs.push_back(&v);
      if (c.has_reference) vs.push_back(&c.reference);
      // A rotated order per round: no variant always follows the same one.
      for (size_t i = 0; i < vs.size() && c.error.empty(); ++i) {
        Variant& v = *vs[(i + k) % vs.size()];
        ++done;
        if (progress)
          std::fprintf(stderr, "[ladder %zu of %zu] %s: %s\n", done, total, c.title.c_str(),
                       v.name.c_str());
        run_variant(c, v);
      }
    }
  }

  const LadderFlags& f = flags_;
  const nlohmann::json env = environment_json();
  std::printf(
      "io_uring feature ladder: CPU µs per request (the model's process), median of %llu "
      "rounds; ÷ before = the step's CPU over the step before's, paired by round, median "
      "[95%% interval]. Kernel %s, %s cores.\n",
      static_cast<unsigned long long>(repeat_), env.at("kernel").get<std::string>().c_str(),
      env.at("cores").dump().c_str());
  nlohmann::json out = {{"environment", env},
                        {"repeat", repeat_},
                        {"unit", "CPU us per request, the model's process"},
                        {"cells", nlohmann::json::array()}};
  bool failed = false;
  for (const Cell& c : cells_) {
    std::printf("\n%s%s\n", f.markdown ? "**" : "", (c.title + (f.markdown ? ":**" : ":")).c_str());
    nlohmann::json cj = {{"title", c.title},
                         {"role", c.role},
                         {"regime", c.regime},
                         {"size", c.sc.workload.size},
                         {"steps", nlohmann::json::array()},
                         {"skipped", nlohmann::json::array()}};
    if (!c.error.empty()) {
      failed = true;
      std::printf("  failed: %s\n", c.error.c_str());
      cj["error"] = c.error;
      out["cells"].push_back(std::move(cj));
      continue;
    }
    if (f.markdown)
      std::printf(
          "\n| step | CPU µs/req | events/wait | ÷ before [95%% interval] | verdict |\n"
          "|---|---:|---:|---|---|\n");
    else
      std::printf("  %-16s %10s %12s  %-28s %s\n", "step", "CPU µs/req", "events/wait",
                  "÷ before [95% interval]", "verdict");
    const auto row = [&](const Variant& v, const Variant* before) {
      const Spread cpu = spread_of(v.cpu), ev = spread_of(v.events);
      std::string ratio = "", word = "";
      nlohmann::json vj = {{"name", v.name},           {"steps_in_force", v.in_force},
                           {"cpu_us_per_req", v.cpu},  {"events_per_wait", v.events},
                           {"requests_per_s", v.rate}, {"cpu_median", cpu.median}};
      if (before != nullptr) {
        const Verdict vd = verdict_of(v.cpu, before->cpu);
        ratio = paired_ratio_text(vd.r);
        word = vd.word;
        vj["ratio_to_before"] = paired_ratio_json(vd.r, vd.word);
        vj["ratio_to_before"]["before"] = before->name;
      }
      if (f.markdown)
        std::printf("| %s | %s | %s | %s | %s |\n", v.name.c_str(), fixed(cpu.median).c_str(),
                    fixed(ev.median).c_str(), ratio.empty() ? "" : ratio.c_str(), word.c_str());
      else
        std::printf("  %-16s %10s %12s  %-28s %s\n", v.name.c_str(), fixed(cpu.median).c_str(),
                    fixed(ev.median).c_str(), ratio.c_str(), word.c_str());
      return vj;
    };
    for (size_t i = 0; i < c.steps.size(); ++i)
      cj["steps"].push_back(row(c.steps[i], i == 0 ? nullptr : &c.steps[i - 1]));
    for (const auto& [step, why] : c.skipped) {
      std::printf("%s%s skipped: %s\n", f.markdown ? "\n" : "  ", step.c_str(), why.c_str());
      cj["skipped"].push_back({{"step", step}, {"why", why}});
    }
    if (c.has_reference) {
      // The top step (every step that applies) and the cheapest one, each
      // over the reference, paired by round.
      const Variant* best = &c.steps.front();
      for (const Variant& v : c.steps)
        if (spread_of(v.cpu).median < spread_of(best->cpu).median) best = &v;
      cj["reference"] = {{"model", c.reference.name}, {"cpu_us_per_req", c.reference.cpu}};
      for (const auto& [key, v] : {std::pair{"top", &c.steps.back()}, std::pair{"best", best}}) {
        Verdict vd = verdict_of(v->cpu, c.reference.cpu);
        // The cheapest of the steps is chosen by the very figures it would be
        // judged on: the least of several noisy medians lies low by chance,
        // so its interval gets no verdict.
        if (key == std::string("best") && c.steps.size() > 1)
          vd.word = "(the cheapest of " + std::to_string(c.steps.size()) +
                    " steps, chosen after the fact: no verdict)";
        std::printf("%s%s (%s) ÷ %s: %s %s (%s %s µs/req)\n", f.markdown ? "\n" : "  ", key,
                    v->name.c_str(), c.reference.name.c_str(), paired_ratio_text(vd.r).c_str(),
                    vd.word.c_str(), c.reference.name.c_str(),
                    fixed(spread_of(c.reference.cpu).median).c_str());
        cj["reference"][std::string(key) + "_ratio"] = paired_ratio_json(vd.r, vd.word);
        cj["reference"][std::string(key) + "_ratio"]["step"] = v->name;
      }
    }
    out["cells"].push_back(std::move(cj));
  }
  if (json_out_.given()) json_out_.write(out.dump(2) + "\n");
  return failed ? 1 : 0;
}

}  // namespace

std::unique_ptr<Command> make_ladder_command() { return std::make_unique<LadderCommand>(); }

}  // namespace iomodels::ladder
