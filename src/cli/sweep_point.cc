// Description: sweep's points measured, summarised, judged, printed and
// written as JSON, and a model's knee (cli/sweep_point.h).
#include "cli/sweep_point.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "frontend/frontend.h"
#include "run/figures.h"

namespace iomodels::cli::sweep {
namespace {

double median_of(const std::vector<Rep>& reps, double (*f)(const Rep&), double* lo = nullptr,
                 double* hi = nullptr) {
  std::vector<double> v;
  for (const Rep& r : reps) v.push_back(f(r));
  std::sort(v.begin(), v.end());
  if (lo) *lo = v.front();
  if (hi) *hi = v.back();
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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
bool instrument_late(const Scenario& sc, const ScenarioResult& r) {
  return r.peer.generator ? generator_late(sc, r.peer) : peer_late(sc, r.peer);
}

// With repetitions, the 95% interval of the median of CPU per request,
// achieved load and p99 (measure/resolution.h); null for a single run.
nlohmann::json intervals_json(const Point& p) {
  if (p.reps.size() < 2) return nullptr;
  nlohmann::json out = nlohmann::json::object();
  const auto add = [&](const char* key, double (*f)(const Rep&)) {
    std::vector<double> v;
    for (const Rep& r : p.reps) v.push_back(f(r));
    const Spread s = spread_of(v);
    out[key] = {{"median", s.median}, {"lo", s.lo}, {"hi", s.hi}, {"coverage", s.coverage}};
  };
  add("cpu_us_per_req", [](const Rep& r) { return r.r.figures.cpu_us_per_req; });
  add("achieved_per_s", [](const Rep& r) { return r.r.figures.requests_per_s; });
  add("p99_us", [](const Rep& r) { return r.r.figures.p99_us; });
  return out;
}

}  // namespace

// The medians of a point's repetitions, and whether it holds: served on
// schedule, and p99 within kTailFactor of base_p99 (unless the peer was late).
void summarise(Point* p, double base_p99) {
  const auto& v = p->reps;
  p->achieved = median_of(v, [](const Rep& r) { return r.r.figures.requests_per_s; });
  p->on_schedule = median_of(v, [](const Rep& r) { return r.on_schedule; });
  p->cpu_util = median_of(
      v, [](const Rep& r) { return r.r.figures.cpu_util; }, &p->cpu_util_min, &p->cpu_util_max);
  p->cpu_us = median_of(v, [](const Rep& r) { return r.r.figures.cpu_us_per_req; });
  p->syscalls = median_of(v, [](const Rep& r) { return r.r.figures.syscalls_per_req; });
  p->ctx = median_of(v, [](const Rep& r) { return r.r.figures.ctx_per_req; });
  p->p50 = median_of(v, [](const Rep& r) { return r.r.figures.p50_us; });
  p->p99 = median_of(
      v, [](const Rep& r) { return r.r.figures.p99_us; }, &p->p99_min, &p->p99_max);
  p->p999 = median_of(v, [](const Rep& r) { return r.r.figures.p999_us; });
  p->peer_cpu = median_of(v, [](const Rep& r) { return r.r.peer.cpu_util(); });
  if (v.front().r.peer.generator)
    p->uncorrected_p99 = median_of(
        v, [](const Rep& r) { return r.r.peer.generator->uncorrected.percentile(0.99) / 1e3; });
  p->late = std::any_of(v.begin(), v.end(), [](const Rep& r) { return r.late; });
  p->holds = true;
  p->why.clear();
  if (p->on_schedule < kOnSchedule) {
    p->holds = false;
    p->why = "fell behind: served the load in " +
             std::to_string(static_cast<int>(std::lround(100 / p->on_schedule))) +
             "% of its schedule's time";
  } else if (p->p99 > kTailFactor * base_p99 && !p->late) {
    p->holds = false;
    char buf[128];
    std::snprintf(buf, sizeof buf, "p99 %.0f us, over 10x its %.0f us at the lowest load", p->p99,
                  base_p99);
    p->why = buf;
  }
}

// A point over its repetitions: resolved when its CPU per request and its
// achieved load are known to ±precision (measure/resolution.h).
PointSpread point_spread(const Point& p, double precision) {
  std::map<std::string, std::vector<double>> values;
  for (const Rep& r : p.reps) {
    values[kCpuCounter].push_back(r.r.figures.cpu_us_per_req);
    values[kThroughputCounter].push_back(r.r.figures.requests_per_s);
  }
  return resolve(p.model, values, precision);
}

nlohmann::json point_json(const Point& p) {
  const ModelInfo* info = find_model(p.model);
  std::vector<std::string> warnings;
  for (const Rep& r : p.reps)
    for (const std::string& w : result_warnings(p.sc, r.r))
      if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) warnings.push_back(w);
  return {{"model", p.model},
          {"quadrant", info                                  ? quadrant_name(info->quadrant)
                       : p.exec && !p.exec->quadrant.empty() ? p.exec->quadrant
                                                             : "program"},
          {"exec", p.exec ? nlohmann::json(p.exec->command) : nlohmann::json(nullptr)},
          {"role", role_name(p.sc.workload.role)},
          {"offered_per_s", p.offered},
          {"achieved_per_s", p.achieved},
          {"on_schedule", p.on_schedule},
          {"cpu_util", p.cpu_util},
          {"cpu_util_range", {p.cpu_util_min, p.cpu_util_max}},
          {"cpu_us_per_req", p.cpu_us},
          {"syscalls_per_req", p.syscalls},
          {"ctx_per_req", p.ctx},
          {"p50_us", p.p50},
          {"p99_us", p.p99},
          {"p99_us_range", {p.p99_min, p.p99_max}},
          {"p999_us", p.p999},
          {"uncorrected_p99_us",
           p.uncorrected_p99 >= 0 ? nlohmann::json(p.uncorrected_p99) : nlohmann::json(nullptr)},
          {"repetitions", p.reps.size()},
          {"intervals", intervals_json(p)},
          {"resolved", p.reps.size() > 1 ? nlohmann::json(p.resolved) : nlohmann::json(nullptr)},
          {"requests", p.reps.front().r.requests},
          {"peer_cpu_util", p.peer_cpu},
          {"peer_late", p.late},
          {"holds", p.holds},
          {"why", p.why},
          {"warnings", warnings}};
}

// A point's line of the table: medians, and with repetitions their range.
void print_point(FILE* out, const Point& p) {
  char unc[32] = "";
  if (p.uncorrected_p99 >= 0) std::snprintf(unc, sizeof unc, "%9.0f", p.uncorrected_p99);
  char range[96] = "";
  if (p.reps.size() > 1)
    std::snprintf(range, sizeof range, "  (of %zu: CPU %.2f..%.2f, p99 %.0f..%.0f)", p.reps.size(),
                  p.cpu_util_min, p.cpu_util_max, p.p99_min, p.p99_max);
  std::fprintf(out, "%-16s %9s %9.0f %5.0f%% %6.2f %8.2f %8.2f %9.0f %9.0f %9s %s%s%s\n",
               p.model.c_str(), rate_text(p.offered).c_str(), p.achieved, 100 * p.on_schedule,
               p.cpu_util, p.cpu_us, p.syscalls, p.p50, p.p99, unc, p.holds ? "" : "KNEE PASSED",
               p.late ? (p.uncorrected_p99 >= 0 ? " generator-late" : " peer-late") : "", range);
  std::fflush(out);
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

// A model at a load, ready to measure: the schedule lasts `duration_ns`.
Point make_point(const Scenario& base, const std::string& model, double rate,
                 uint64_t duration_ns) {
  Point p;
  p.model = model;
  p.offered = rate;
  p.sc = base;
  p.sc.model = model;
  p.sc.warmup_rounds = 2;
  const double per_conn = rate / base.workload.connections;
  p.sc.rounds = std::max<uint64_t>(
      10, static_cast<uint64_t>(per_conn * (static_cast<double>(duration_ns) / 1e9) + 0.5));
  if (base.workload.role == Role::kServer)
    p.sc.workload.offered_per_s = rate;
  else
    p.sc.rate_per_s = per_conn;
  return p;
}

// Measures one more repetition of `p`. A run that does not complete is
// printed with why and, unless the model does not apply, counted in
// `failed`; then false.
bool measure_rep(FILE* human, Point* p, int* failed) {
  Rep r;
  const Status st = p->exec ? run_exec(p->sc, *p->exec, &r.r) : run_scenario(p->sc, &r.r);
  if (!st.ok()) {
    std::fprintf(human, "%-16s %9s  %s: %s\n", p->model.c_str(), rate_text(p->offered).c_str(),
                 st.not_applicable() ? "not applicable" : "failed", st.message().c_str());
    if (!st.not_applicable()) ++*failed;
    return false;
  }
  r.on_schedule = on_schedule(p->sc, r.r);
  r.late = instrument_late(p->sc, r.r);
  p->reps.push_back(std::move(r));
  return true;
}

// The knee from a model's points, in order of load: the highest load held
// with every load below it held too.
Knee knee_of(const std::vector<const Point*>& pts) {
  Knee k;
  for (const Point* p : pts) {
    if (!p->holds) {
      k.failed = p->offered;
      k.why = p->why + " at " + rate_text(p->offered) + "/s";
      return k;
    }
    k.held = p->offered;
  }
  return k;
}

}  // namespace iomodels::cli::sweep
