// Description: the per-request figures of a measurement, and a result as JSON.
#include "run/figures.h"

#include <algorithm>
#include <cstdio>

#include "measure/env.h"
#include "run/exec_run.h"
#include "run/scenario.h"
#include "sys/cpus.h"
#include "sys/uring.h"
#include "workload/parse.h"

namespace iomodels {

Figures figures(const Measurement& m, const Histogram& h, uint64_t requests, uint64_t bytes,
                const RunOptions& run) {
  Figures f;
  f.has_latency = run.histogram;
  f.has_syscalls = run.counters;
  const double n = requests > 0 ? static_cast<double>(requests) : 1.0;
  if (m.wall_s > 0) {
    f.requests_per_s = static_cast<double>(requests) / m.wall_s;
    f.bytes_per_s = static_cast<double>(bytes) / m.wall_s;
  }
  f.cpu_util = m.cpu_util();
  f.cpu_us_per_req = m.cpu_s() * 1e6 / n;
  f.user_us_per_req = m.user_s * 1e6 / n;
  f.sys_us_per_req = m.sys_s * 1e6 / n;
  f.ctx_per_req = static_cast<double>(m.ctx()) / n;
  if (f.has_syscalls) {
    f.syscalls_per_req = static_cast<double>(m.calls.syscalls) / n;
    f.eagain_per_req = static_cast<double>(m.calls.eagain) / n;
    f.uring_enter_per_req = static_cast<double>(m.calls.uring_enter) / n;
    f.has_waits = m.calls.waits > 0;
    if (f.has_waits)
      f.events_per_wait = static_cast<double>(m.calls.events) / static_cast<double>(m.calls.waits);
  }
  if (!f.has_latency) return f;
  f.p50_us = static_cast<double>(h.percentile(0.50)) / 1e3;
  f.p90_us = static_cast<double>(h.percentile(0.90)) / 1e3;
  f.p99_us = static_cast<double>(h.percentile(0.99)) / 1e3;
  f.p999_us = static_cast<double>(h.percentile(0.999)) / 1e3;
  f.max_us = static_cast<double>(h.max()) / 1e3;
  f.mean_us = h.mean() / 1e3;
  return f;
}

namespace {

// The configured think time the peer was asked for, in nanoseconds: the
// fixed value, or a distribution's typical value.
uint64_t configured_latency_ns(const LatencySpec& l) {
  switch (l.kind) {
    case LatencySpec::Kind::kZero:
      return 0;
    case LatencySpec::Kind::kUniform:
      return (l.a_ns + l.b_ns) / 2;
    case LatencySpec::Kind::kFixed:
    case LatencySpec::Kind::kExp:
      return l.a_ns;
  }
  return 0;
}

// Several remote peers (run --peer A,B): what each reported, in the order
// given; null with one peer, whose figures are the peer's own.
nlohmann::json peer_parts_json(const PeerStats& peer) {
  if (peer.parts.empty()) return nullptr;
  nlohmann::json parts = nlohmann::json::array();
  for (const PeerStats::Part& p : peer.parts)
    parts.push_back({{"address", p.address},
                     {"requests", p.requests},
                     {"cpu_s", p.cpu_ns / 1e9},
                     {"wall_s", p.wall_ns / 1e9},
                     {"late_p99_us", p.late_p99_ns / 1e3},
                     {"late_max_us", p.late_max_ns / 1e3},
                     {"threads", p.threads}});
  return parts;
}

}  // namespace

bool peer_late(const Scenario& sc, const PeerStats& peer) {
  const uint64_t latency_ns = configured_latency_ns(sc.workload.latency);
  return latency_ns > 0 && !peer.none && !peer.remote && sc.workload.remote.empty() &&
         peer.late_p99_ns > latency_ns;
}

// A sleep's overshoot on a busy 2-core VM reaches a few hundred microseconds;
// below this the generator's lateness is timer noise, not a lost load.
constexpr double kGeneratorLateNs = 500'000;

bool generator_late(const Scenario& sc, const PeerStats& peer) {
  if (!peer.generator || sc.workload.offered_per_s <= 0) return false;
  const double interval_ns = sc.workload.connections * 1e9 / sc.workload.offered_per_s;
  return static_cast<double>(peer.generator->send_late_p99_ns) >
             std::max(interval_ns / 4, kGeneratorLateNs) ||
         peer.peer_bound();
}

nlohmann::json generator_json(const Scenario& sc, const ScenarioResult& r) {
  const GeneratorStats* g = r.peer.generator.get();
  if (g == nullptr) return nullptr;
  const auto pct = [](const Histogram& h) {
    return nlohmann::json{{"p50", h.percentile(0.50) / 1e3},
                          {"p90", h.percentile(0.90) / 1e3},
                          {"p99", h.percentile(0.99) / 1e3},
                          {"p999", h.percentile(0.999) / 1e3},
                          {"max", h.max() / 1e3},
                          {"mean", h.mean() / 1e3}};
  };
  return {{"offered_per_s", g->offered_per_s},
          {"achieved_per_s", r.m.wall_s > 0 ? static_cast<double>(r.requests) / r.m.wall_s : 0},
          {"arrivals", arrivals_name(g->arrivals)},
          {"sent", g->sent},
          {"responses", g->responses},
          {"bad_bytes", g->bad_bytes},
          {"connections_closed", g->closed},
          {"behind", g->behind},
          {"sched_span_s", g->sched_span_ns / 1e9},
          {"corrected_us", pct(g->corrected)},
          {"uncorrected_us", pct(g->uncorrected)},
          {"send_late_p99_us", g->send_late_p99_ns / 1e3},
          {"send_late_max_us", g->send_late_max_ns / 1e3},
          {"cpu_util", r.peer.cpu_util()},
          {"late", generator_late(sc, r.peer)}};
}

std::vector<std::string> result_warnings(const Scenario& sc, const ScenarioResult& r) {
  std::vector<std::string> out;
  char buf[256];
  const int cpus = environment().cores;
  if (machine_busy(r.load_at_start, cpus)) {
    std::snprintf(buf, sizeof buf,
                  "the machine was busy at the start: load average %.2f on %d CPUs (above %.1f "
                  "per CPU); figures move with the other load",
                  r.load_at_start, cpus, kBusyLoadPerCpu);
    out.emplace_back(buf);
  }
  if (generator_late(sc, r.peer)) {
    std::snprintf(buf, sizeof buf,
                  "the load generator sent late: p99 %.1f us after the schedule, CPU %.2f core; "
                  "the load offered was partly its, not the model's, limit",
                  static_cast<double>(r.peer.generator->send_late_p99_ns) / 1e3, r.peer.cpu_util());
    out.emplace_back(buf);
  }
  if (peer_late(sc, r.peer)) {
    std::snprintf(buf, sizeof buf,
                  "the peer answered late: p99 %.1f us beyond the due time at latency %s; "
                  "figures include the peer's delay",
                  static_cast<double>(r.peer.late_p99_ns) / 1e3,
                  sc.workload.latency.text().c_str());
    out.emplace_back(buf);
  }
  // A program's counters are read every kExecSampleMs and interpolated at the
  // window's ends: over a few readings, that error is the figure.
  // The server role reads the counters at the window's edges: nothing to
  // interpolate.
  if (r.exec && r.exec->counters_why.empty() && sc.workload.role == Role::kClient &&
      r.m.wall_s * 1e3 < kExecSampleMs * kExecMinSamples) {
    std::snprintf(buf, sizeof buf,
                  "the measurement window was %.1f ms, under %d readings of the counters (%d ms "
                  "apart): CPU and syscalls per request are interpolated at its ends and may be "
                  "far off; run more requests (-r) for them to count",
                  r.m.wall_s * 1e3, kExecMinSamples, kExecSampleMs);
    out.emplace_back(buf);
  }
  // A shared remote peer counts every client's requests in one window: fewer
  // than this run made means another client reset the window meanwhile, and
  // the peer's figures cover only part of this run.
  if (r.peer.remote && r.peer.requests < r.latency.count()) {
    std::snprintf(buf, sizeof buf,
                  "the remote peer counted %llu requests, fewer than this run's %llu: another "
                  "client reset its statistics during the run, so its figures cover part of it",
                  static_cast<unsigned long long>(r.peer.requests),
                  static_cast<unsigned long long>(r.latency.count()));
    out.emplace_back(buf);
  }
  return out;
}

nlohmann::json environment_json() {
  const Environment& e = environment();
  const sys::UringProbe& u = sys::uring_probe();
  return {{"kernel", e.kernel},
          {"machine", e.machine},
          {"hostname", e.hostname},
          {"cpu", e.cpu_model},
          {"cores", e.cores},
          {"mitigations", e.mitigations},
          {"io_uring", u.describe()},
          {"io_uring_available", u.available},
          {"iomodels_version", e.version}};
}

nlohmann::json scenario_json(const Scenario& sc) {
  const WorkloadOptions& w = sc.workload;
  return {{"model", sc.model},
          {"transport", transport_name(w.transport)},
          {"role", role_name(w.role)},
          {"offered_per_s",
           w.role == Role::kServer ? nlohmann::json(w.offered_per_s) : nlohmann::json(nullptr)},
          {"arrivals", w.role == Role::kServer ? nlohmann::json(arrivals_name(w.arrivals))
                                               : nlohmann::json(nullptr)},
          {"connections", w.connections},
          {"size", w.size},
          {"latency", w.latency.text()},
          {"requests_per_connection", sc.rounds},
          {"warmup_rounds", sc.warmup_rounds},
          {"rate_per_s", sc.rate_per_s},
          {"loop", sc.rate_per_s > 0 ? "open" : "closed"},
          {"pattern", sc.rate_per_s > 0 ? "paced rounds" : pattern_name(sc.pattern)},
          {"cpus",
           {{"model", sys::cpu_list_text(sc.model_cpus)},
            {"peer", sys::cpu_list_text(sc.workload.peer_cpus)}}},
          {"pool_threads", sc.run.pool_threads},
          {"loop_threads", sc.run.threads},  // --threads (0 = auto); the loops made: model_facts
          {"poll_interval_ns", sc.run.poll_interval_ns},
          {"timeout_ns", sc.run.timeout_ns},
          {"verify", sc.run.verify},
          {"histogram", sc.run.histogram},
          {"counters", sc.run.counters},
          {"trace_hooks", sc.run.trace_hooks},
          {"seed", w.seed},
          {"peer_spin_ns", w.peer_spin_ns},
          {"peer", w.transport == Transport::kFile ? "none (file transport)"
                   : w.remote.empty()              ? "local (forked)"
                                                   : w.remote},
          {"file", w.transport == Transport::kFile
                       ? nlohmann::json{{"path", w.file_path.empty() ? "(unnamed, in /dev/shm)"
                                                                     : w.file_path},
                                        {"bytes", w.file_bytes},
                                        {"direct", w.direct}}
                       : nlohmann::json(nullptr)}};
}

nlohmann::json spectrum_json(const Histogram& h) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [ns, frac] : h.spectrum()) a.push_back({{"us", ns / 1e3}, {"fraction", frac}});
  return a;
}

nlohmann::json model_facts_json(const std::vector<Model::Fact>& facts) {
  nlohmann::json j = nlohmann::json::object();
  for (const Model::Fact& f : facts) {
    if (f.is_number)
      j[f.key] = std::stoull(f.text);
    else
      j[f.key] = f.text;
  }
  return j;
}

nlohmann::json result_json(const Scenario& sc, const ScenarioResult& r) {
  const Figures& f = r.figures;
  const ModelInfo* info = find_model(sc.model);
  // A part switched off leaves its figures null: not measured, not zero.
  const auto counted = [&](auto v) {
    return f.has_syscalls ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {
      {"scenario", scenario_json(sc)},
      {"quadrant", info ? quadrant_name(info->quadrant) : "?"},
      {"environment", environment_json()},
      {"requests", r.requests},
      {"bytes", r.bytes},
      {"wall_s", r.m.wall_s},
      {"cpu_user_s", r.m.user_s},
      {"cpu_sys_s", r.m.sys_s},
      {"cpu_util", f.cpu_util},
      {"cpu_us_per_req", f.cpu_us_per_req},
      {"syscalls", counted(r.m.calls.syscalls)},
      {"syscalls_per_req", counted(f.syscalls_per_req)},
      {"eagain_per_req", counted(f.eagain_per_req)},
      {"uring_enter_per_req", counted(f.uring_enter_per_req)},
      {"waits", counted(r.m.calls.waits)},
      {"events_per_wait",
       f.has_waits ? nlohmann::json(f.events_per_wait) : nlohmann::json(nullptr)},
      {"voluntary_ctx", r.m.voluntary_ctx},
      {"involuntary_ctx", r.m.involuntary_ctx},
      {"ctx_per_req", f.ctx_per_req},
      {"max_rss_kb", r.m.max_rss_kb},
      {"threads", r.model_threads},
      {"model_facts", model_facts_json(r.model_facts)},
      {"items_per_second", f.requests_per_s},
      {"bytes_per_second", f.bytes_per_s},
      {"latency_us", f.has_latency ? nlohmann::json{{"p50", f.p50_us},
                                                    {"p90", f.p90_us},
                                                    {"p99", f.p99_us},
                                                    {"p999", f.p999_us},
                                                    {"max", f.max_us},
                                                    {"mean", f.mean_us},
                                                    {"min", r.latency.min() / 1e3}}
                                   : nlohmann::json(nullptr)},
      {"latency_spectrum", f.has_latency ? spectrum_json(r.latency) : nlohmann::json(nullptr)},
      {"generator", generator_json(sc, r)},
      {"peer",
       {{"requests", r.peer.requests},
        {"cpu_util", r.peer.cpu_util()},
        {"cpu_us_per_req", r.peer.cpu_us_per_req()},
        {"late_p50_us", r.peer.late_p50_ns / 1e3},
        {"late_p99_us", r.peer.late_p99_ns / 1e3},
        {"late_max_us", r.peer.late_max_ns / 1e3},
        {"spin_ns", r.peer.spin_ns},
        {"remote", r.peer.remote},
        {"none", r.peer.none},
        {"poll_horizon_us", r.peer.poll_horizon_ns / 1e3},
        {"loop", r.peer.none ? "" : std::string(peer_loop_name(r.peer.loop))},
        {"peer_bound", r.peer.peer_bound()},
        {"protocol_errors", r.peer.protocol_errors},
        {"turned_away",
         {{"refused", r.peer.refused},
          {"bad_token", r.peer.bad_token},
          {"idle_closed", r.peer.idle_closed},
          {"throttled", r.peer.throttled}}},
        {"late", peer_late(sc, r.peer)},
        {"threads", r.peer.threads},
        {"peers", peer_parts_json(r.peer)}}},
      {"load_average_at_start",
       r.load_at_start < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.load_at_start)},
      {"machine_busy_at_start", machine_busy(r.load_at_start, environment().cores)},
      {"warnings", result_warnings(sc, r)},
  };
  if (r.exec) {
    // A program measured from outside: no EAGAIN or io_uring_enter count
    // (the kernel's counter sees every syscall, not what each returned).
    const ExecRun& x = *r.exec;
    j["quadrant"] = x.quadrant.empty() ? "program" : x.quadrant;
    j["eagain_per_req"] = nullptr;
    j["uring_enter_per_req"] = nullptr;
    const bool server = sc.workload.role == Role::kServer;
    j["exec"] = {
        {"command", x.command},
        {"role", role_name(sc.workload.role)},
        {"window",
         server                   ? (x.counters_why.empty()
                                         ? "after the warm-up, the generator's window (counters read at its edges)"
                                         : "the generator's window (" + x.counters_why + ")")
         : x.counters_why.empty() ? "first request to last response"
                                  : "the program's whole life (" + x.counters_why + ")"},
        {"syscalls_not_counted",
         x.syscalls_why.empty() ? nlohmann::json(nullptr) : nlohmann::json(x.syscalls_why)},
        {"life_s", x.life_s},
        {"life_cpu_s", x.life_cpu_s},
        {"startup_s", x.startup_s},
        {"latencies_reported", x.reported},
        {"leftover_processes_killed", x.leftovers},
    };
    if (!x.ended.empty()) j["exec"]["ended"] = x.ended;
    if (r.peer.exec) {
      const ExecPeerStats& p = *r.peer.exec;
      j["exec"]["turnaround_us"] = {{"p50", p.turnaround.percentile(0.50) / 1e3},
                                    {"p90", p.turnaround.percentile(0.90) / 1e3},
                                    {"p99", p.turnaround.percentile(0.99) / 1e3},
                                    {"max", p.turnaround.max() / 1e3},
                                    {"mean", p.turnaround.mean() / 1e3}};
      j["exec"]["turnaround_spectrum"] = spectrum_json(p.turnaround);
    }
  }
  return j;
}

}  // namespace iomodels
