// Description: `iomodels overhead`: every registered model at one scenario,
// with everything on, with each part of the harness's per-request work
// switched off, and with all of them off, beside the minimal loop of its
// mechanism; repeated and interleaved, reported as medians with their spread.
#include "frontend/command.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "frontend/frontend.h"
#include "frontend/output.h"
#include "overhead/echo.h"
#include "overhead/minimal.h"
#include "run/figures.h"

namespace iomodels::overhead {

using namespace frontend;
namespace {

struct OverheadFlags {
  ScenarioFlags sc;
  std::string models = "all";
  std::string repeat = "3";
  std::string json;
  bool markdown = false;
};

// What one run switches off. kFull first: the deltas are taken from it.
enum class Variant { kFull, kNoVerify, kNoHistogram, kNoCounters, kNoTraceHooks, kAllOff };
constexpr std::array kVariants = {Variant::kFull,         Variant::kNoVerify,
                                  Variant::kNoHistogram,  Variant::kNoCounters,
                                  Variant::kNoTraceHooks, Variant::kAllOff};
constexpr size_t kVariantCount = kVariants.size();

// The JSON key of a variant's CPU figure, and of the delta it gives.
const char* variant_key(Variant v) {
  switch (v) {
    case Variant::kFull:
      return "full";
    case Variant::kNoVerify:
      return "verify_off";
    case Variant::kNoHistogram:
      return "histogram_off";
    case Variant::kNoCounters:
      return "counters_off";
    case Variant::kNoTraceHooks:
      return "trace_hooks_off";
    case Variant::kAllOff:
      return "all_off";
  }
  return "?";
}
const char* delta_key(Variant v) {
  switch (v) {
    case Variant::kNoVerify:
      return "verify";
    case Variant::kNoHistogram:
      return "histogram";
    case Variant::kNoCounters:
      return "counters";
    case Variant::kNoTraceHooks:
      return "trace_hooks";
    case Variant::kAllOff:
      return "all";
    case Variant::kFull:
      break;
  }
  return "?";
}

RunOptions apply(Variant v, RunOptions run) {
  run.verify = run.histogram = run.counters = run.trace_hooks = true;
  if (v == Variant::kNoVerify || v == Variant::kAllOff) run.verify = false;
  if (v == Variant::kNoHistogram || v == Variant::kAllOff) run.histogram = false;
  if (v == Variant::kNoCounters || v == Variant::kAllOff) run.counters = false;
  if (v == Variant::kNoTraceHooks || v == Variant::kAllOff) run.trace_hooks = false;
  return run;
}

// The median and the range of a figure over the repetitions.
struct Spread {
  double median = 0, min = 0, max = 0;
  size_t n = 0;
};
Spread spread_of(std::vector<double> v) {
  Spread s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}
nlohmann::json spread_json(const std::vector<double>& runs) {
  const Spread s = spread_of(runs);
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"runs", runs}};
}

// A model's runs; an error or a refusal ends them.
struct Row {
  explicit Row(const ModelInfo* m) : model(m) {}
  const ModelInfo* model;
  std::string not_applicable;
  std::string error;
  std::array<std::vector<double>, kVariantCount> cpu;  // µs per request, one per repetition
  bool live() const { return not_applicable.empty() && error.empty(); }
  // full - off, paired by repetition: runs next to each other share the machine's state.
  std::vector<double> deltas(Variant v) const {
    const auto& full = cpu[0];
    const auto& off = cpu[static_cast<size_t>(v)];
    std::vector<double> d;
    for (size_t k = 0; k < std::min(full.size(), off.size()); ++k) d.push_back(full[k] - off[k]);
    return d;
  }
};

// A mechanism's minimal loop, run once per repetition for all its models.
struct MinimalRow {
  explicit MinimalRow(Mechanism m) : mechanism(m) {}
  Mechanism mechanism;
  std::string not_applicable;
  std::string error;
  std::vector<double> cpu;
  bool live() const { return not_applicable.empty() && error.empty(); }
};

// The peer's floor: per round, the peer's CPU per request and a minimal
// echo's, each driven by the minimal epoll loop (echo.h).
struct FloorRow {
  std::string not_applicable;
  std::string error;
  std::vector<double> peer, echo, ratio;  // one per round; ratio = peer / echo, paired
  bool live() const { return not_applicable.empty() && error.empty(); }
  void measure(const MinimalOptions& o) {
    MinimalResult p;
    EchoResult e;
    Status st = measure_echo(o, &e);
    if (st.ok()) st = measure_minimal(o, &p);
    if (st.not_applicable()) {
      not_applicable = st.message();
    } else if (!st.ok()) {
      error = st.message();
    } else if (p.peer_us_per_req > 0 && e.echo_us_per_req > 0) {
      peer.push_back(p.peer_us_per_req);
      echo.push_back(e.echo_us_per_req);
      ratio.push_back(p.peer_us_per_req / e.echo_us_per_req);
    }
  }
};

std::string fixed(double v, const char* format = "%.2f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Characters on screen: UTF-8 continuation bytes (µ, Δ, ÷, —) take none.
size_t columns(const std::string& s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; }));
}

// The table: a header row and one row per model, as markdown or aligned text.
std::string render(const std::vector<std::vector<std::string>>& cells, bool markdown) {
  std::string s;
  if (markdown) {
    for (size_t r = 0; r < cells.size(); ++r) {
      for (const std::string& c : cells[r]) s += "| " + c + " ";
      s += "|\n";
      if (r == 0) {
        for (size_t c = 0; c < cells[0].size(); ++c) s += c < 2 ? "|---" : "|---:";
        s += "|\n";
      }
    }
    return s;
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], columns(row[c]));
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      // A long reason in the last cell is not padded.
      const size_t n = columns(row[c]);
      const size_t pad = c < width.size() && n < width[c] ? width[c] - n : 0;
      if (c > 0) line += "  ";
      line += c < 2 ? row[c] + std::string(pad, ' ') : std::string(pad, ' ') + row[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    s += line + "\n";
  }
  return s;
}

}  // namespace

namespace {

// `overhead` as a command object: its flags, bound by CLI11, live in it.
class OverheadCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  OverheadFlags flags_;
  // What validate() made of the flags.
  Scenario base_;
  uint64_t repeat_ = 1;
  OutputPath json_out_;
  std::vector<Row> rows_;
};

void OverheadCommand::add_flags(CLI::App* sub) {
  OverheadFlags& flags = flags_;
  sub->description(
      "what the harness's own per-request work costs: every model with each part switched off, "
      "beside a minimal loop of its mechanism");
  flags.sc.requests = "200";  // 12,800 requests at the default 64 connections
  flags.sc.add_to(sub, ScenarioFlagParts{.model = false, .switches = false});
  sub->add_option("-r,--requests", flags.sc.requests, "requests per connection, timed, per run")
      ->capture_default_str();
  sub->add_option("--models", flags.models, "comma list of models, or 'all' (every registered one)")
      ->capture_default_str();
  sub->add_option("--repeat", flags.repeat,
                  "rounds of runs, interleaved (every model and variant once per round); "
                  "medians and spreads are over these")
      ->capture_default_str();
  sub->add_flag("--markdown", flags.markdown, "print the table as markdown");
  sub->add_option("--json", flags.json, "also write every run's figure here (JSON)");
  sub->footer(
      "Per model: CPU us per request (process-wide: the peer is another process) with\n"
      "everything on; Δ verify, Δ histogram, Δ counters, Δ trace hooks = full minus the run\n"
      "with that part off (--verify, --histogram, --counters, --trace-hooks of `run`),\n"
      "paired by round; all off = every part off; minimal = the least loop of the model's\n"
      "mechanism (blocking read, epoll, io_uring) on the same workload with bare syscalls.\n"
      "The peer's floor (latency 0 only): the peer's own CPU per request beside a minimal\n"
      "io_uring echo's (receive 16 bytes, send the response, nothing checked), each driven by\n"
      "the minimal epoll loop, paired by round: what the instrument costs above the kernel.\n"
      "The watchdog's progress count stays on in every run: without it a hung peer could\n"
      "not be told from a slow one.\n"
      "Example: iomodels overhead -c 64 -s 4KiB -l 1ms -r 200 --repeat 3 --markdown");
}

void OverheadCommand::validate() {
  const OverheadFlags& flags = flags_;
  base_ = flags.sc.to_scenario();
  if (base_.rate_per_s > 0)
    throw UsageError("--rate: overhead compares closed loops (the minimal loops are not paced)");
  if (base_.pattern != Pattern::kFree)
    throw UsageError("--pattern: overhead compares free-running connections, as the minimal loops");
  repeat_ = flag_count("--repeat", flags.repeat, 1, 1000);
  json_out_ = check_output("--json", flags.json);
  std::vector<Row>& rows = rows_;
  if (flags.models == "all") {
    for (const ModelInfo* m : all_models()) rows.emplace_back(m);
  } else {
    for (const std::string& name : flag_list("--models", flags.models)) {
      flag_model("--models", name);
      const ModelInfo* m = find_model(name);
      if (std::none_of(rows.begin(), rows.end(), [&](const Row& r) { return r.model == m; }))
        rows.emplace_back(m);
    }
  }
}

int OverheadCommand::execute() {
  const OverheadFlags& flags = flags_;
  const Scenario& base = base_;
  const uint64_t repeat = repeat_;
  const OutputPath& json_out = json_out_;
  std::vector<Row>& rows = rows_;
  std::vector<MinimalRow> minimal;
  for (Row& r : rows) {
    r.not_applicable = why_not(*r.model, base.workload);
    if (!r.live() || !has_minimal_loop(r.model->mechanism)) continue;
    if (std::none_of(minimal.begin(), minimal.end(),
                     [&](const MinimalRow& m) { return m.mechanism == r.model->mechanism; }))
      minimal.emplace_back(r.model->mechanism);
  }

  FloorRow floor;
  const bool progress = ::isatty(STDERR_FILENO);
  const size_t total = repeat * (rows.size() * kVariantCount + minimal.size() + 1);
  size_t done = 0;
  const auto note = [&](const std::string& what) {
    ++done;
    if (progress) std::fprintf(stderr, "[overhead %zu of %zu] %s\n", done, total, what.c_str());
  };
  for (uint64_t k = 0; k < repeat; ++k) {
    for (Row& r : rows) {
      // Each round starts the variants at a different one, so none is always
      // the first run after another model's.
      for (size_t i = 0; i < kVariantCount && r.live(); ++i) {
        const Variant v = kVariants[(i + k) % kVariantCount];
        Scenario sc = base;
        sc.model = std::string(r.model->name);
        sc.run = apply(v, base.run);
        note(sc.model + " " + variant_key(v));
        ScenarioResult res;
        const Status st = run_scenario(sc, &res);
        if (st.not_applicable())
          r.not_applicable = st.message();
        else if (!st.ok())
          r.error = st.message();
        else
          r.cpu[static_cast<size_t>(v)].push_back(res.figures.cpu_us_per_req);
      }
    }
    for (MinimalRow& m : minimal) {
      if (!m.live()) continue;
      note("minimal " + std::string(mechanism_name(m.mechanism)) + " loop");
      MinimalOptions o;
      o.mechanism = m.mechanism;
      o.workload = base.workload;
      o.rounds = base.rounds;
      o.timeout_ns = base.run.timeout_ns;
      o.cpus = base.model_cpus;
      MinimalResult res;
      const Status st = measure_minimal(o, &res);
      if (st.not_applicable())
        m.not_applicable = st.message();
      else if (!st.ok())
        m.error = st.message();
      else
        m.cpu.push_back(res.cpu_us_per_req());
    }
    if (floor.live()) {
      note("the peer and a minimal echo");
      MinimalOptions o;
      o.mechanism = Mechanism::kEpoll;
      o.workload = base.workload;
      o.rounds = base.rounds;
      o.timeout_ns = base.run.timeout_ns;
      o.cpus = base.model_cpus;
      floor.measure(o);
    }
  }

  const auto minimal_of = [&](Mechanism mech) -> const MinimalRow* {
    for (const MinimalRow& m : minimal)
      if (m.mechanism == mech) return &m;
    return nullptr;
  };

  // The table.
  std::vector<std::vector<std::string>> cells = {
      {"model", "mechanism", "full µs/req", "spread", "Δ verify", "Δ histogram", "Δ counters",
       "Δ trace hooks", "all off", "minimal loop", "full ÷ minimal"}};
  bool failed = false;
  for (const Row& r : rows) {
    std::vector<std::string> c = {std::string(r.model->name),
                                  std::string(mechanism_name(r.model->mechanism))};
    if (!r.live()) {
      failed = failed || !r.error.empty();
      c.push_back(r.error.empty() ? "n/a: " + r.not_applicable : "failed: " + r.error);
      cells.push_back(std::move(c));
      continue;
    }
    const Spread full = spread_of(r.cpu[0]);
    c.push_back(fixed(full.median));
    c.push_back(
        "±" + fixed(full.median > 0 ? 50 * (full.max - full.min) / full.median : 0, "%.0f") + "%");
    for (Variant v :
         {Variant::kNoVerify, Variant::kNoHistogram, Variant::kNoCounters, Variant::kNoTraceHooks})
      c.push_back(fixed(spread_of(r.deltas(v)).median, "%+.2f"));
    c.push_back(fixed(spread_of(r.cpu[static_cast<size_t>(Variant::kAllOff)]).median));
    const MinimalRow* m = minimal_of(r.model->mechanism);
    if (m != nullptr && m->live() && !m->cpu.empty()) {
      const Spread ms = spread_of(m->cpu);
      c.push_back(fixed(ms.median));
      c.push_back(ms.median > 0 ? fixed(full.median / ms.median) + "×" : "—");
    } else {
      c.push_back("—");
      c.push_back("—");
    }
    cells.push_back(std::move(c));
  }

  const WorkloadOptions& w = base.workload;
  const nlohmann::json env = environment_json();
  std::printf(
      "Scenario: %s, %u connections, %u B responses, latency %s, %llu requests each; median "
      "of %llu interleaved runs (spread: half the range of the full runs, of the median). "
      "Kernel %s, %s cores.\n\n",
      std::string(transport_name(w.transport)).c_str(), w.connections, w.size,
      w.latency.text().c_str(), static_cast<unsigned long long>(base.rounds),
      static_cast<unsigned long long>(repeat), env.at("kernel").get<std::string>().c_str(),
      env.at("cores").dump().c_str());
  std::fputs(render(cells, flags.markdown).c_str(), stdout);
  for (const MinimalRow& m : minimal) {
    if (m.live()) continue;
    failed = failed || !m.error.empty();
    std::printf("\nminimal %s loop: %s%s\n", std::string(mechanism_name(m.mechanism)).c_str(),
                m.error.empty() ? "not applicable: " : "failed: ",
                (m.error.empty() ? m.not_applicable : m.error).c_str());
  }

  // The peer's floor: what the instrument costs above the kernel's own work.
  if (floor.live() && !floor.ratio.empty()) {
    const Spread p = spread_of(floor.peer), e = spread_of(floor.echo), q = spread_of(floor.ratio);
    std::printf(
        "\nThe peer's floor: its CPU per request against a minimal io_uring echo on the same "
        "transport (receive, send, nothing checked or timed), each driven by the minimal epoll "
        "loop: peer %s µs (%s–%s), echo %s µs (%s–%s); peer ÷ echo %s× (%s–%s), paired by "
        "round.\n",
        fixed(p.median).c_str(), fixed(p.min).c_str(), fixed(p.max).c_str(),
        fixed(e.median).c_str(), fixed(e.min).c_str(), fixed(e.max).c_str(),
        fixed(q.median).c_str(), fixed(q.min).c_str(), fixed(q.max).c_str());
  } else {
    failed = failed || !floor.error.empty();
    std::printf("\nThe peer's floor: %s%s\n", floor.error.empty() ? "not measured: " : "failed: ",
                (floor.error.empty() ? floor.not_applicable : floor.error).c_str());
  }

  if (json_out.given()) {
    nlohmann::json scenario = scenario_json(base);
    for (const char* k : {"model", "verify", "histogram", "counters", "trace_hooks"})
      scenario.erase(k);
    nlohmann::json out = {{"scenario", scenario},
                          {"environment", env},
                          {"repeat", repeat},
                          {"unit", "CPU us per request, process-wide (the peer excluded)"},
                          {"rows", nlohmann::json::array()},
                          {"minimal_loops", nlohmann::json::array()}};
    for (const MinimalRow& m : minimal) {
      out["minimal_loops"].push_back(
          {{"mechanism", mechanism_name(m.mechanism)},
           {"status", !m.error.empty() ? "failed"
                      : m.live()       ? "ok"
                                       : "not applicable"},
           {"reason", m.error.empty() ? m.not_applicable : m.error},
           {"cpu_us_per_req", m.live() ? spread_json(m.cpu) : nlohmann::json(nullptr)}});
    }
    out["peer_floor"] = {{"status", !floor.error.empty() ? "failed"
                                    : floor.live()       ? "ok"
                                                         : "not applicable"},
                         {"reason", floor.error.empty() ? floor.not_applicable : floor.error},
                         {"driver", "the minimal epoll loop"},
                         {"peer_cpu_us_per_req", spread_json(floor.peer)},
                         {"echo_cpu_us_per_req", spread_json(floor.echo)},
                         {"ratio_peer_to_echo", spread_json(floor.ratio)}};
    for (const Row& r : rows) {
      nlohmann::json row = {{"model", r.model->name},
                            {"quadrant", quadrant_name(r.model->quadrant)},
                            {"mechanism", mechanism_name(r.model->mechanism)},
                            {"status", !r.error.empty() ? "failed"
                                       : r.live()       ? "ok"
                                                        : "not applicable"},
                            {"reason", r.error.empty() ? r.not_applicable : r.error},
                            {"cpu_us_per_req", nullptr},
                            {"delta_us_per_req", nullptr},
                            {"minimal_cpu_us_per_req", nullptr},
                            {"ratio_full_to_minimal", nullptr}};
      if (r.live()) {
        for (Variant v : kVariants)
          row["cpu_us_per_req"][variant_key(v)] = spread_json(r.cpu[static_cast<size_t>(v)]);
        for (Variant v : kVariants)
          if (v != Variant::kFull) row["delta_us_per_req"][delta_key(v)] = spread_json(r.deltas(v));
        const MinimalRow* m = minimal_of(r.model->mechanism);
        if (m != nullptr && m->live() && !m->cpu.empty()) {
          row["minimal_cpu_us_per_req"] = spread_json(m->cpu);
          const double mm = spread_of(m->cpu).median;
          if (mm > 0) row["ratio_full_to_minimal"] = spread_of(r.cpu[0]).median / mm;
        }
      }
      out["rows"].push_back(std::move(row));
    }
    json_out.write(out.dump(2) + "\n");
  }
  return failed ? 1 : 0;
}

}  // namespace

std::unique_ptr<Command> make_overhead_command() { return std::make_unique<OverheadCommand>(); }

}  // namespace iomodels::overhead
