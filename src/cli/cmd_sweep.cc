// Description: `iomodels sweep`: each model at a series of offered loads, so
// that models are compared doing the same work. Per point: offered and
// achieved requests/s, latency from each request's scheduled time, CPU
// utilisation and CPU per request; per model: the knee, the highest load it
// still served on schedule with its tail latency in bounds.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "run/figures.h"
#include "run/session.h"

namespace iomodels::cli {

using namespace frontend;
namespace {

struct SweepFlags {
  ScenarioFlags sc;
  std::string models = "all";
  std::string rates = "auto";
  std::string duration = "500ms";
  std::string from = "1000";
  std::string json;
} flags;

// A point holds when the model served the load on schedule (>= 95% of it)
// and its p99 stayed within 10x of its p99 at the lowest load; a point where
// the peer itself was late is judged on the schedule only.
constexpr double kOnSchedule = 0.95;
constexpr double kTailFactor = 10;
// --rates auto: x2 per step, at most this many steps.
constexpr int kAutoSteps = 14;

struct Point {
  std::string model;
  double offered = 0;
  ScenarioResult r;
  Scenario sc;
  double on_schedule = 0;  // expected wall / actual wall, at most 1
  bool holds = false;
  std::string why;  // why it does not hold
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

// How long the schedule of the requests served took, over the wall the
// model took: 1 when it kept up.
double on_schedule(const Scenario& sc, const ScenarioResult& r) {
  if (r.m.wall_s <= 0) return 0;
  double expected_s;
  if (r.peer.generator) {
    // The generator knows its schedule: its span, plus the service of the
    // last request, which a model that keeps up adds at most.
    expected_s = static_cast<double>(r.peer.generator->sched_span_ns) / 1e9;
  } else {
    // Client role, open loop: round k starts at k / rate.
    expected_s = static_cast<double>(r.rounds - 1) / sc.rate_per_s;
  }
  return std::min(1.0, expected_s / r.m.wall_s);
}

// The peer (generator) was late: a tail it made is not the model's knee.
bool instrument_late(const Point& p) {
  return p.r.peer.generator ? generator_late(p.sc, p.r.peer) : peer_late(p.sc, p.r.peer);
}

nlohmann::json point_json(const Point& p) {
  const Figures& f = p.r.figures;
  const GeneratorStats* g = p.r.peer.generator.get();
  const ModelInfo* info = find_model(p.model);
  return {{"model", p.model},
          {"quadrant", info ? quadrant_name(info->quadrant) : "?"},
          {"role", role_name(p.sc.workload.role)},
          {"offered_per_s", p.offered},
          {"achieved_per_s", f.requests_per_s},
          {"on_schedule", p.on_schedule},
          {"cpu_util", f.cpu_util},
          {"cpu_us_per_req", f.cpu_us_per_req},
          {"syscalls_per_req", f.syscalls_per_req},
          {"ctx_per_req", f.ctx_per_req},
          {"p50_us", f.p50_us},
          {"p99_us", f.p99_us},
          {"p999_us", f.p999_us},
          {"uncorrected_p99_us",
           g ? nlohmann::json(g->uncorrected.percentile(0.99) / 1e3) : nlohmann::json(nullptr)},
          {"requests", p.r.requests},
          {"peer_cpu_util", p.r.peer.cpu_util()},
          {"peer_late", instrument_late(p)},
          {"holds", p.holds},
          {"why", p.why},
          {"warnings", result_warnings(p.sc, p.r)}};
}

std::string rate_text(double r) {
  char buf[32];
  if (r >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3gM", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(buf, sizeof buf, "%.3gk", r / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3g", r);
  return buf;
}

}  // namespace

CLI::App* add_sweep(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "sweep", "each model at a series of offered loads: CPU and latency at equal load");
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
  sub->add_option("--json", flags.json, "also write every point and each model's knee here");
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
      "5000,20000,40000 --json sweep.json");
  return sub;
}

int run_sweep() {
  if (!flags.sc.offered.empty()) throw UsageError("--offered: a sweep sets the load from --rates");
  if (flags.sc.rate != "0") throw UsageError("--rate: a sweep sets the load from --rates");
  // The scenario's other flags, checked once with a placeholder load.
  ScenarioFlags base_flags = flags.sc;
  base_flags.model = "epoll";
  if (base_flags.role == "server") base_flags.offered = "1";
  Scenario base = base_flags.to_scenario();
  if (base.workload.transport == Transport::kFile)
    throw UsageError("--transport: a sweep needs a peer; the file transport has none");
  if (!base.workload.remote.empty())
    throw UsageError("--peer: a sweep runs its own peer (the load generator's schedule)");
  const bool server = base.workload.role == Role::kServer;

  std::vector<std::string> models;
  if (flags.models == "all") {
    for (const ModelInfo* m : all_models()) models.emplace_back(m->name);
  } else {
    models = split(flags.models);
    if (models.empty()) throw UsageError("--models: empty");
    for (const std::string& m : models) flag_model("--models", m);
  }
  const bool autorate = flags.rates == "auto";
  std::vector<double> rates;
  if (autorate) {
    double r = flag_rate("--from", flags.from, 1e8);
    for (int i = 0; i < kAutoSteps && r <= 1e8; ++i, r *= 2) rates.push_back(r);
  } else {
    if (flags.from != "1000") throw UsageError("--from: only with --rates auto");
    for (const std::string& t : split(flags.rates)) rates.push_back(flag_rate("--rates", t, 1e8));
    if (rates.empty()) throw UsageError("--rates: empty");
    std::sort(rates.begin(), rates.end());
  }
  const uint64_t duration_ns = flag_duration("--duration", flags.duration);
  if (duration_ns < 10'000'000) throw UsageError("--duration: at least 10ms");
  const OutputPath json_out = check_output("--json", flags.json);
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
  std::vector<Point> points;
  std::vector<bool> stopped(models.size(), false);
  std::vector<double> base_p99(models.size(), 0);
  int failed = 0;
  // Load-major: at each load every model in turn, so a disturbance of the
  // machine spreads over the models instead of spoiling one.
  for (double rate : rates) {
    for (size_t mi = 0; mi < models.size(); ++mi) {
      if (stopped[mi]) continue;
      Point p;
      p.model = models[mi];
      p.offered = rate;
      p.sc = base;
      p.sc.model = models[mi];
      p.sc.warmup_rounds = 2;
      const double per_conn = rate / conns;
      p.sc.rounds =
          std::max<uint64_t>(10, static_cast<uint64_t>(per_conn * (duration_ns / 1e9) + 0.5));
      if (server)
        p.sc.workload.offered_per_s = rate;
      else
        p.sc.rate_per_s = per_conn;
      const ModelInfo* info = find_model(p.model);
      if (const std::string no = why_not(*info, p.sc.workload); !no.empty()) {
        std::fprintf(human, "%-16s not applicable: %s\n", p.model.c_str(), no.c_str());
        stopped[mi] = true;
        continue;
      }
      const Status st = run_scenario(p.sc, &p.r);
      if (!st.ok()) {
        std::fprintf(human, "%-16s %9s  %s: %s\n", p.model.c_str(), rate_text(rate).c_str(),
                     st.not_applicable() ? "not applicable" : "failed", st.message().c_str());
        if (!st.not_applicable()) ++failed;
        stopped[mi] = true;
        continue;
      }
      p.on_schedule = on_schedule(p.sc, p.r);
      if (base_p99[mi] == 0) base_p99[mi] = std::max(p.r.figures.p99_us, 1.0);
      p.holds = true;
      if (p.on_schedule < kOnSchedule) {
        p.holds = false;
        p.why = "fell behind: served the load in " +
                std::to_string(static_cast<int>(std::lround(100 / p.on_schedule))) +
                "% of its schedule's time";
      } else if (p.r.figures.p99_us > kTailFactor * base_p99[mi] && !instrument_late(p)) {
        p.holds = false;
        char buf[128];
        std::snprintf(buf, sizeof buf, "p99 %.0f us, over 10x its %.0f us at the lowest load",
                      p.r.figures.p99_us, base_p99[mi]);
        p.why = buf;
      }
      const Figures& f = p.r.figures;
      const GeneratorStats* g = p.r.peer.generator.get();
      char unc[32] = "";
      if (g) std::snprintf(unc, sizeof unc, "%9.0f", g->uncorrected.percentile(0.99) / 1e3);
      const bool late = instrument_late(p);
      std::fprintf(human, "%-16s %9s %9.0f %5.0f%% %6.2f %8.2f %8.2f %9.0f %9.0f %9s %s%s\n",
                   p.model.c_str(), rate_text(rate).c_str(), f.requests_per_s, 100 * p.on_schedule,
                   f.cpu_util, f.cpu_us_per_req, f.syscalls_per_req, f.p50_us, f.p99_us, unc,
                   p.holds ? "" : "KNEE PASSED",
                   late ? (server ? " generator-late" : " peer-late") : "");
      std::fflush(human);
      // Past the knee by falling behind, a higher load only takes longer to
      // say the same: the model stops here. Past it by its tail only, a
      // listed load is still measured.
      if (!p.holds && (autorate || p.on_schedule < kOnSchedule)) stopped[mi] = true;
      points.push_back(std::move(p));
    }
  }

  // The knee: the highest load a model held with every load below it held too.
  nlohmann::json knees = nlohmann::json::object();
  std::fprintf(human, "knee (the highest load served on schedule with p99 within 10x):\n");
  for (const std::string& m : models) {
    std::optional<double> knee;
    std::string why = "no point measured";
    bool broke = false;
    bool any = false;
    for (const Point& p : points) {
      if (p.model != m) continue;
      any = true;
      if (!p.holds) {
        why = p.why + " at " + rate_text(p.offered) + "/s";
        broke = true;
        break;
      }
      knee = p.offered;
    }
    if (!any) continue;
    if (!broke) why = "held at every load tried";
    std::fprintf(human, "  %-16s %s  (%s)\n", m.c_str(),
                 knee ? (rate_text(*knee) + "/s").c_str() : "below the lowest load", why.c_str());
    knees[m] = {{"offered_per_s", knee ? nlohmann::json(*knee) : nlohmann::json(nullptr)},
                {"beyond", broke},
                {"why", why}};
  }
  nlohmann::json doc = {
      {"environment", environment_json()}, {"role", role_name(base.workload.role)},
      {"scenario", scenario_json(base)},   {"duration_s", duration_ns / 1e9},
      {"points", nlohmann::json::array()}, {"knee", knees}};
  doc["scenario"].erase("model");
  doc["scenario"].erase("offered_per_s");
  for (const Point& p : points) doc["points"].push_back(point_json(p));
  json_out.write(doc.dump(2) + "\n");
  return failed > 0 ? 1 : 0;
}

}  // namespace iomodels::cli
