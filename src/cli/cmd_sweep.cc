// Description: `iomodels sweep`: each model at a series of offered loads, so
// that models are compared doing the same work. Per point: offered and
// achieved requests/s, latency from each request's scheduled time, CPU
// utilisation and CPU per request; per model: the knee, the highest load it
// still served on schedule with its tail latency in bounds, searched between
// the last load held and the first one not (--refine) and given with that
// bracket.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

#include "cli/sweep_point.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/recorder.h"
#include "measure/resolution.h"
#include "run/figures.h"
#include "run/session.h"

namespace iomodels::cli {

using namespace frontend;
using namespace sweep;
namespace {

struct SweepFlags {
  ScenarioFlags sc;
  std::string models = "all";
  std::string rates = "auto";
  std::string duration = "500ms";
  std::string from = "1000";
  std::string repetitions = "1";
  std::string refine = "2";
  std::string reference = "epoll";
  std::string max_time = "0";
  std::string precision = "5";
  std::string json;
  std::string exec;
  std::string name;
};

// --rates auto: x2 per step, at most this many steps.
constexpr int kAutoSteps = 14;
// --refine: at most this many loads searched per model.
constexpr uint64_t kMaxRefine = 8;

std::vector<std::string> split_sweep_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

// `sweep`: every model at every offered load, interleaved, each model's
// knee searched between the loads tried, and given with its bracket.
class SweepCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  SweepFlags flags_;
  // What validate() made of the flags.
  Scenario base_;
  std::vector<std::string> models_;
  bool autorate_ = false;
  std::vector<double> rates_;
  uint64_t duration_ns_ = 0;
  uint64_t reps_ = 1;
  uint64_t refine_ = 2;
  uint64_t max_time_ns_ = 0;
  double precision_ = kDefaultPrecision;
  OutputPath json_out_;
  std::shared_ptr<const ExecSpec> exec_;  // --exec: the program, named models_.back()
  CLI::App* app_ = nullptr;

  // A point of models_[mi] at `rate`: the program's when it is --exec's.
  Point point(const Scenario& base, size_t mi, double rate, uint64_t duration_ns) const {
    Point p = make_point(base, models_[mi], rate, duration_ns);
    if (exec_ && mi + 1 == models_.size()) p.exec = exec_;
    return p;
  }
};

void SweepCommand::add_flags(CLI::App* sub) {
  SweepFlags& flags = flags_;
  sub->description("each model at a series of offered loads: CPU and latency at equal load");
  sub->add_option("--models", flags.models, "comma-separated models, or all")
      ->capture_default_str();
  sub->add_option("--rates", flags.rates,
                  "offered loads in requests/s over all connections (e.g. 5000,20k,40k), or "
                  "auto: from --from, doubling, until a model falls behind (achieved < 95% of "
                  "offered) or its p99 passes 10x its p99 at the lowest load")
      ->capture_default_str();
  sub->add_option("--from", flags.from, "--rates auto: the first load")->capture_default_str();
  sub->add_option("--duration", flags.duration,
                  "how long each point's schedule runs (requests per connection = load x "
                  "duration / connections, at least 10)")
      ->capture_default_str();
  sub->add_option("--repetitions", flags.repetitions,
                  "measure every point this many times, the passes interleaved (each a full "
                  "pass over the loads and models); the table and the JSON give medians and "
                  "the range")
      ->capture_default_str();
  sub->add_option("--refine", flags.refine,
                  "after the loads, search each model's knee with this many more loads (0..8), "
                  "each the geometric middle of the last load held and the first not (halving "
                  "below the lowest load when even that failed); the knee is then known to "
                  "within that bracket")
      ->capture_default_str();
  sub->add_option("--max-time", flags.max_time,
                  "adaptive repetitions: after --repetitions passes (at least 6), keep adding "
                  "passes over the points not resolved (CPU per request and achieved load known "
                  "to ±--precision) until all are or this much time is spent (0 = off)")
      ->capture_default_str();
  sub->add_option("--precision", flags.precision,
                  "percent: the half-width of the 95% interval within which a point's CPU per "
                  "request and achieved load count as resolved (with --repetitions 2 or more)")
      ->capture_default_str();
  sub->add_option("--reference", flags.reference,
                  "with 4 or more --repetitions, the model every other is ranked against at each "
                  "load (cheaper, tie, dearer: the CPU-per-request ratio with its 95% interval)")
      ->capture_default_str();
  sub->add_option("--json", flags.json, "also write every point and each model's knee here");
  sub->add_option("--exec", flags.exec,
                  "also sweep a program of yours, as run --exec does (docs/protocol.md; in the "
                  "server role it is the server of each load), beside --models (default then: "
                  "--reference alone)");
  sub->add_option("--name", flags.name,
                  "--exec: the program's name in the table [default: its script's or its own "
                  "file name]");
  app_ = sub;
  flags.sc.role = "server";
  flags.sc.add_to(sub, ScenarioFlagParts{false, true});
  sub->footer(
      "The two roles answer two questions.\n"
      "  --role server (default): the peer generates the load and the model is the server:\n"
      "    each connection's requests come on the peer's schedule (--arrivals), the model\n"
      "    answers each; latency counts from the scheduled time. \"How much CPU does each\n"
      "    model burn serving 20,000 requests/s, and where does its latency turn up?\"\n"
      "  --role client: the model asks a slow device (--latency), paced open loop at the\n"
      "    offered load (rounds over all connections). \"How much CPU does each model burn\n"
      "    waiting for a device at this rate?\"\n"
      "Example: iomodels sweep --models epoll,uring,polling,blocking -c 64 --rates "
      "5000,20000,40000 --json sweep.json\n"
      "         iomodels sweep --exec examples/python/asyncio_server.py -t tcp -c 64 --rates "
      "5000,20000,40000   # beside epoll");
}

void SweepCommand::validate() {
  const SweepFlags& flags = flags_;
  if (!flags.sc.offered.empty()) throw UsageError("--offered: a sweep sets the load from --rates");
  if (flags.sc.rate != "0") throw UsageError("--rate: a sweep sets the load from --rates");
  // The scenario's other flags, checked once with a placeholder load.
  ScenarioFlags base_flags = flags.sc;
  base_flags.model = "epoll";
  if (base_flags.role == "server") base_flags.offered = "1";
  base_ = base_flags.to_scenario();
  const Scenario& base = base_;
  if (base.workload.transport == Transport::kFile)
    throw UsageError("--transport: a sweep needs a peer; the file transport has none");
  if (!base.workload.remote.empty())
    throw UsageError("--peer: a sweep runs its own peer (the load generator's schedule)");
  std::vector<std::string>& models = models_;
  const bool exec = app_->count("--exec") > 0;
  if (!exec && app_->count("--name") > 0) throw UsageError("--name: only with --exec");
  if (exec && app_->count("--models") == 0) {
    models.push_back(flags.reference);
  } else if (flags.models == "all") {
    for (const ModelInfo* m : all_models()) models.emplace_back(m->name);
  } else {
    models = split_sweep_list(flags.models);
    if (models.empty()) throw UsageError("--models: empty");
    for (const std::string& m : models) flag_model("--models", m);
  }
  autorate_ = flags.rates == "auto";
  std::vector<double>& rates = rates_;
  if (autorate_) {
    double r = flag_rate("--from", flags.from, 1e8);
    for (int i = 0; i < kAutoSteps && r <= 1e8; ++i, r *= 2) rates.push_back(r);
  } else {
    if (flags.from != "1000") throw UsageError("--from: only with --rates auto");
    for (const std::string& t : split_sweep_list(flags.rates))
      rates.push_back(flag_rate("--rates", t, 1e8));
    if (rates.empty()) throw UsageError("--rates: empty");
    std::sort(rates.begin(), rates.end());
  }
  duration_ns_ = flag_duration("--duration", flags.duration);
  if (duration_ns_ < 10'000'000) throw UsageError("--duration: at least 10ms");
  reps_ = flag_count("--repetitions", flags.repetitions, 1, 100);
  flag_model("--reference", flags.reference);
  max_time_ns_ = flag_duration("--max-time", flags.max_time);
  if (max_time_ns_ > 24ull * 3600 * 1'000'000'000)
    throw UsageError("--max-time: '" + flags.max_time + "' is over a day");
  if (max_time_ns_ > 0) reps_ = std::max<uint64_t>(reps_, kMinRepetitions);
  precision_ = flag_percent("--precision", flags.precision, 0.1, 100);
  refine_ = flag_count("--refine", flags.refine, 0, kMaxRefine);
  if (exec) {
    auto spec = std::make_shared<ExecSpec>();
    if (Status s = parse_exec_command(flags.exec, spec.get()); !s.ok())
      throw UsageError(s.message());
    if (app_->count("--name") > 0 && flags.name.empty())
      throw UsageError("--name: must not be empty");
    const std::string name = flags.name.empty() ? exec_default_name(*spec) : flags.name;
    if (find_model(name) != nullptr)
      throw UsageError("--name: '" + name +
                       "' is a built-in model's name: tables and plots would mix the two");
    for (const char* f : {"--pool-threads", "--poll-interval", "--verify", "--histogram",
                          "--counters", "--trace-hooks", "--pattern"})
      if (app_->count(f) > 0)
        throw UsageError(std::string(f) +
                         ": not with --exec (it would apply to the models but not the program)");
    models.push_back(name);
    exec_ = std::move(spec);
  }
  json_out_ = check_output("--json", flags.json);
}

int SweepCommand::execute() {
  const Scenario& base = base_;
  const bool server = base.workload.role == Role::kServer;
  const std::vector<std::string>& models = models_;
  const bool autorate = autorate_;
  const std::vector<double>& rates = rates_;
  const uint64_t duration_ns = duration_ns_;
  const uint64_t reps = reps_;
  const OutputPath& json_out = json_out_;
  FILE* const human = json_out.is_stdout() ? stderr : stdout;

  const uint32_t conns = base.workload.connections;
  std::fprintf(
      human,
      "sweep, %s role: %u %s connection%s x %u B%s; each point's schedule %s\n"
      "%-16s %9s %9s %6s %6s %8s %8s %9s %9s %9s %s\n",
      std::string(role_name(base.workload.role)).c_str(), conns,
      std::string(transport_name(base.workload.transport)).c_str(), conns == 1 ? "" : "s",
      base.workload.size,
      server ? (", " + std::string(arrivals_name(base.workload.arrivals)) + " arrivals").c_str()
             : (", latency " + base.workload.latency.text()).c_str(),
      format_duration(duration_ns).c_str(), "model", "offered/s", "achieved", "sched", "CPU",
      "CPU/req", "sys/req", "p50 us", "p99 us", server ? "uncor p99" : "", "");
  // points[mi][k]: model mi at rates[k]; a model stops at the first load it
  // fell behind at (auto: at the first it did not hold) in the first pass,
  // and later passes go no further.
  std::vector<std::vector<Point>> points(models.size());
  std::vector<size_t> limit(models.size(), rates.size());
  std::vector<std::string> stop_why(models.size());
  int failed = 0;
  const uint64_t t0 = now_ns();
  std::string stopped;  // why the adaptive passes stopped
  for (uint64_t rep = 0;; ++rep) {
    // After the passes asked for, with --max-time: another pass over the
    // points not yet resolved, while there is time for one.
    std::vector<std::vector<bool>> pending(models.size());
    size_t open = 0, all = 0;
    for (size_t mi = 0; mi < models.size(); ++mi) {
      pending[mi].assign(rates.size(), rep < reps);
      if (rep < reps) continue;
      for (size_t k = 0; k < points[mi].size(); ++k) {
        pending[mi][k] = !point_spread(points[mi][k], precision_).resolved;
        open += pending[mi][k] ? 1 : 0;
        ++all;
      }
    }
    if (rep >= reps) {
      if (max_time_ns_ == 0) break;
      if (open == 0) {
        stopped = "every point resolved";
        break;
      }
      // The last pass took about as long per point as this one will.
      const double elapsed = static_cast<double>(now_ns() - t0);
      const double per_point = elapsed / static_cast<double>(rep) / static_cast<double>(all);
      if (elapsed + per_point * static_cast<double>(open) > static_cast<double>(max_time_ns_)) {
        stopped = "--max-time " + flags_.max_time + " spent";
        break;
      }
      std::fprintf(stderr, "sweep: pass %llu: %zu of %zu points unresolved (%.0f s spent)\n",
                   static_cast<unsigned long long>(rep + 1), open, all, elapsed / 1e9);
    } else if (reps > 1) {
      std::fprintf(stderr, "sweep: repetition %llu of %llu\n",
                   static_cast<unsigned long long>(rep + 1), static_cast<unsigned long long>(reps));
    }
    // Load-major: at each load every model in turn, so a disturbance of the
    // machine spreads over the models instead of spoiling one.
    for (size_t k = 0; k < rates.size(); ++k) {
      for (size_t mi = 0; mi < models.size(); ++mi) {
        if (k >= limit[mi] || !pending[mi][k]) continue;
        if (points[mi].size() <= k) points[mi].push_back(point(base, mi, rates[k], duration_ns));
        Point& p = points[mi][k];
        const ModelInfo* info = p.exec ? nullptr : find_model(p.model);
        if (const std::string no = info ? why_not(*info, p.sc.workload) : ""; !no.empty()) {
          std::fprintf(human, "%-16s not applicable: %s\n", p.model.c_str(), no.c_str());
          points[mi].pop_back();
          limit[mi] = 0;
          continue;
        }
        if (!measure_rep(human, &p, &failed)) {
          points[mi].resize(k);
          limit[mi] = k;
          continue;
        }
        const double base_p99 = std::max(points[mi].front().reps.front().r.figures.p99_us, 1.0);
        summarise(&p, base_p99);
        if (rep == 0) {
          if (reps == 1) print_point(human, p);
          if (!p.holds && (autorate || p.on_schedule < kOnSchedule)) {
            limit[mi] = k + 1;
            stop_why[mi] = "stopped at " + rate_text(rates[k]) + "/s, where the first pass " +
                           p.why.substr(0, p.why.find(':'));
          }
        }
      }
    }
  }
  if (reps > 1) {
    // The medians, now that every repetition is in.
    for (size_t mi = 0; mi < models.size(); ++mi) {
      if (points[mi].empty()) continue;
      std::vector<double> base_reps;
      for (const Rep& r : points[mi].front().reps) base_reps.push_back(r.r.figures.p99_us);
      std::sort(base_reps.begin(), base_reps.end());
      const double base_p99 = std::max(base_reps[base_reps.size() / 2], 1.0);
      for (Point& p : points[mi]) {
        summarise(&p, base_p99);
        p.resolved = point_spread(p, precision_).resolved;
      }
    }
    size_t resolved = 0, all = 0;
    for (size_t k = 0; k < rates.size(); ++k)
      for (size_t mi = 0; mi < models.size(); ++mi)
        if (k < points[mi].size()) {
          print_point(human, points[mi][k]);
          resolved += point_spread(points[mi][k], precision_).resolved ? 1 : 0;
          ++all;
        }
    std::fprintf(human,
                 "resolved: %zu of %zu points (CPU per request and achieved load within ±%g%%, "
                 "95%% intervals)%s%s\n",
                 resolved, all, precision_ * 100, stopped.empty() ? "" : "; ", stopped.c_str());
    // At each load, every model against the reference, ties admitted.
    std::vector<RankEntry> entries;
    for (size_t k = 0; k < rates.size(); ++k)
      for (size_t mi = 0; mi < models.size(); ++mi) {
        if (k >= points[mi].size()) continue;
        RankEntry e{"offered " + rate_text(rates[k]) + "/s", models[mi], {}};
        for (const Rep& r : points[mi][k].reps) e.cpu.push_back(r.r.figures.cpu_us_per_req);
        entries.push_back(std::move(e));
      }
    if (const std::string ranks = rank_against(entries, flags_.reference); !ranks.empty())
      std::fprintf(human,
                   "CPU per request against %s at each load: the ratio [its 95%% interval] "
                   "(two-sample Hodges-Lehmann over the repetitions, exact rank-sum interval); "
                   "tie when the interval holds 1:\n%s",
                   flags_.reference.c_str(), ranks.c_str());
  }

  // The knee: the highest load a model held with every load below it held
  // too, then searched between that and the first load it did not hold
  // (halving below the lowest when it held none), one load at a time, each
  // measured --repetitions times.
  std::vector<std::vector<Point>> searched(models.size());
  std::vector<Knee> knees_of(models.size());
  std::vector<double> base_p99s(models.size(), 1.0);
  for (size_t mi = 0; mi < models.size(); ++mi) {
    if (points[mi].empty()) continue;
    std::vector<double> lows;
    for (const Rep& r : points[mi].front().reps) lows.push_back(r.r.figures.p99_us);
    std::sort(lows.begin(), lows.end());
    base_p99s[mi] = std::max(lows[lows.size() / 2], 1.0);
    std::vector<const Point*> pts;
    for (const Point& p : points[mi]) pts.push_back(&p);
    knees_of[mi] = knee_of(pts);
  }
  if (refine_ > 0 &&
      std::any_of(knees_of.begin(), knees_of.end(), [](const Knee& k) { return k.failed; }))
    std::fprintf(human, "searching the knees (%llu more loads a model at most):\n",
                 static_cast<unsigned long long>(refine_));
  for (size_t mi = 0; mi < models.size(); ++mi) {
    Knee& k = knees_of[mi];
    for (uint64_t step = 0; step < refine_ && k.failed; ++step) {
      const double rate = k.held ? std::sqrt(*k.held * *k.failed) : *k.failed / 2;
      if (k.held && *k.failed / *k.held < 1.05) break;  // known to within 5%
      Point p = point(base, mi, rate, duration_ns);
      bool ok = true;
      for (uint64_t rep = 0; rep < reps && ok; ++rep) ok = measure_rep(human, &p, &failed);
      if (!ok) break;
      summarise(&p, base_p99s[mi]);
      p.resolved = point_spread(p, precision_).resolved;
      print_point(human, p);
      if (p.holds) {
        k.held = rate;
      } else {
        k.failed = rate;
        k.why = p.why + " at " + rate_text(rate) + "/s";
      }
      searched[mi].push_back(std::move(p));
    }
  }

  nlohmann::json knees = nlohmann::json::object();
  std::fprintf(human,
               "knee (the highest load served on schedule with p99 within 10x; in brackets, the "
               "load it held and the first it did not):\n");
  for (size_t mi = 0; mi < models.size(); ++mi) {
    if (points[mi].empty()) continue;
    const std::string& m = models[mi];
    const Knee& k = knees_of[mi];
    std::string text, why = k.why;
    if (!k.failed) {
      text = ">= " + rate_text(*k.held) + "/s";
      why = stop_why[mi].empty() ? "held at every load tried: the knee is beyond"
                                 : stop_why[mi] + "; the medians of all passes held";
    } else if (!k.held) {
      text = "< " + rate_text(*k.failed) + "/s";
    } else {
      text = rate_text(*k.held) + "/s [" + rate_text(*k.held) + ", " + rate_text(*k.failed) + ")";
    }
    std::fprintf(human, "  %-16s %s  (%s)\n", m.c_str(), text.c_str(), why.c_str());
    knees[m] = {
        {"offered_per_s", k.held ? nlohmann::json(*k.held) : nlohmann::json(nullptr)},
        {"first_failed_per_s", k.failed ? nlohmann::json(*k.failed) : nlohmann::json(nullptr)},
        {"beyond", k.failed.has_value()},
        {"searched", searched[mi].size()},
        {"why", why}};
  }
  nlohmann::json doc = {
      {"environment", environment_json()}, {"role", role_name(base.workload.role)},
      {"scenario", scenario_json(base)},   {"duration_s", duration_ns / 1e9},
      {"points", nlohmann::json::array()}, {"knee", knees}};
  doc["scenario"].erase("model");
  doc["scenario"].erase("offered_per_s");
  for (size_t k = 0; k < rates.size(); ++k)
    for (const auto& pm : points)
      if (k < pm.size()) doc["points"].push_back(point_json(pm[k]));
  for (const auto& pm : searched)
    for (const Point& p : pm) {
      nlohmann::json j = point_json(p);
      j["searched"] = true;
      doc["points"].push_back(j);
    }
  json_out.write(doc.dump(2) + "\n");
  return failed > 0 ? 1 : 0;
}

}  // namespace

std::unique_ptr<Command> make_sweep_command() { return std::make_unique<SweepCommand>(); }

}  // namespace iomodels::cli
