// Description: the run summary and the result JSON.
#include "cli/report.h"

#include <cstdio>

#include "iomodels/env.h"
#include "iomodels/parse.h"

namespace iomodels::cli {

Figures figures(const Measurement& m, const Histogram& h, uint64_t requests, uint64_t bytes) {
  Figures f;
  const double n = requests > 0 ? static_cast<double>(requests) : 1.0;
  if (m.wall_s > 0) {
    f.requests_per_s = static_cast<double>(requests) / m.wall_s;
    f.bytes_per_s = static_cast<double>(bytes) / m.wall_s;
  }
  f.cpu_util = m.cpu_util();
  f.cpu_us_per_req = m.cpu_s() * 1e6 / n;
  f.user_us_per_req = m.user_s * 1e6 / n;
  f.sys_us_per_req = m.sys_s * 1e6 / n;
  f.syscalls_per_req = static_cast<double>(m.calls.syscalls) / n;
  f.eagain_per_req = static_cast<double>(m.calls.eagain) / n;
  f.uring_enter_per_req = static_cast<double>(m.calls.uring_enter) / n;
  f.ctx_per_req = static_cast<double>(m.ctx()) / n;
  f.p50_us = static_cast<double>(h.percentile(0.50)) / 1e3;
  f.p90_us = static_cast<double>(h.percentile(0.90)) / 1e3;
  f.p99_us = static_cast<double>(h.percentile(0.99)) / 1e3;
  f.p999_us = static_cast<double>(h.percentile(0.999)) / 1e3;
  f.max_us = static_cast<double>(h.max()) / 1e3;
  f.mean_us = h.mean() / 1e3;
  return f;
}

nlohmann::json environment_json() {
  const Environment& e = environment();
  const UringProbe& u = uring_probe();
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
          {"connections", w.connections},
          {"size", w.size},
          {"latency", w.latency.text()},
          {"requests_per_connection", sc.rounds},
          {"warmup_rounds", sc.warmup_rounds},
          {"rate_per_s", sc.rate_per_s},
          {"loop", sc.rate_per_s > 0 ? "open" : "closed"},
          {"pool_threads", sc.run.pool_threads},
          {"poll_interval_ns", sc.run.poll_interval_ns},
          {"timeout_ns", sc.run.timeout_ns},
          {"verify", sc.run.verify},
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

nlohmann::json result_json(const Scenario& sc, const ScenarioResult& r) {
  const Figures f = figures(r.m, r.latency, r.requests, r.bytes);
  const ModelInfo* info = find_model(sc.model);
  return {
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
      {"syscalls", r.m.calls.syscalls},
      {"syscalls_per_req", f.syscalls_per_req},
      {"eagain_per_req", f.eagain_per_req},
      {"uring_enter_per_req", f.uring_enter_per_req},
      {"voluntary_ctx", r.m.voluntary_ctx},
      {"involuntary_ctx", r.m.involuntary_ctx},
      {"ctx_per_req", f.ctx_per_req},
      {"max_rss_kb", r.m.max_rss_kb},
      {"items_per_second", f.requests_per_s},
      {"bytes_per_second", f.bytes_per_s},
      {"latency_us",
       {{"p50", f.p50_us},
        {"p90", f.p90_us},
        {"p99", f.p99_us},
        {"p999", f.p999_us},
        {"max", f.max_us},
        {"mean", f.mean_us},
        {"min", r.latency.min() / 1e3}}},
      {"latency_spectrum", spectrum_json(r.latency)},
      {"peer",
       {{"requests", r.peer.requests},
        {"cpu_util", r.peer.cpu_util()},
        {"late_p50_us", r.peer.late_p50_ns / 1e3},
        {"late_p99_us", r.peer.late_p99_ns / 1e3},
        {"late_max_us", r.peer.late_max_ns / 1e3},
        {"spin_ns", r.peer.spin_ns},
        {"remote", r.peer.remote},
        {"none", r.peer.none},
        {"poll_horizon_us", r.peer.poll_horizon_ns / 1e3},
        {"sends", r.peer.none            ? ""
                  : r.peer.batched_sends ? "io_uring batch"
                                         : "write()"},
        {"peer_bound", r.peer.peer_bound()}}},
  };
}

std::string summary_text(const Scenario& sc, const ScenarioResult& r) {
  const Figures f = figures(r.m, r.latency, r.requests, r.bytes);
  const ModelInfo* info = find_model(sc.model);
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "%s (%s) on %s: %u connections, %u B responses, latency %s, %llu requests each\n"
      "  wall          %10.3f s      requests/s %12.0f   bytes/s %12.0f\n"
      "  CPU           %10.3f s      user %.3f s  sys %.3f s  utilisation %.2f core\n"
      "  per request   CPU %8.2f us   syscalls %6.2f   EAGAIN %6.2f   ctx switches %5.2f\n"
      "  latency (us)  p50 %9.1f   p90 %9.1f   p99 %9.1f   p99.9 %9.1f   max %9.1f\n",
      sc.model.c_str(), info ? std::string(quadrant_name(info->quadrant)).c_str() : "?",
      std::string(transport_name(sc.workload.transport)).c_str(), sc.workload.connections,
      sc.workload.size, sc.workload.latency.text().c_str(),
      static_cast<unsigned long long>(sc.rounds), r.m.wall_s, f.requests_per_s, f.bytes_per_s,
      r.m.cpu_s(), r.m.user_s, r.m.sys_s, f.cpu_util, f.cpu_us_per_req, f.syscalls_per_req,
      f.eagain_per_req, f.ctx_per_req, f.p50_us, f.p90_us, f.p99_us, f.p999_us, f.max_us);
  std::string s = buf;
  if (sc.workload.transport == Transport::kFile) {
    const WorkloadOptions& w = sc.workload;
    s += "  file          " +
         (w.file_path.empty() ? std::string("unnamed, in /dev/shm") : w.file_path) + ", " +
         std::to_string(w.file_bytes >> 20) + " MiB, reads at random 4 KiB-aligned offsets" +
         (w.direct ? ", O_DIRECT" : ", through the page cache") + "; no peer\n";
  } else {
    std::snprintf(
        buf, sizeof buf,
        "  peer          lateness p50 %.1f us  p99 %.1f us  max %.1f us   CPU %.2f core%s%s\n"
        "                polls (busy-waits) for deadlines < %.0f us away; sends by %s\n",
        r.peer.late_p50_ns / 1e3, r.peer.late_p99_ns / 1e3, r.peer.late_max_ns / 1e3,
        r.peer.cpu_util(), r.peer.spin_ns ? ", spinning before deadlines" : "",
        r.peer.peer_bound()
            ? "\n  PEER-BOUND: the peer used >= 90% of a core; this measures the peer"
            : "",
        r.peer.poll_horizon_ns / 1e3,
        r.peer.batched_sends ? "one io_uring_enter per batch of due responses" : "write()");
    s += buf;
  }
  if (!sc.workload.remote.empty()) {
    s += "  remote peer   " + sc.workload.remote +
         ": its own --latency applies, not this run's; its CPU is another machine's\n";
  }
  if (sc.rate_per_s > 0) {
    std::snprintf(buf, sizeof buf,
                  "  open loop     %.0f requests/s per connection; latency counts from each "
                  "scheduled start\n",
                  sc.rate_per_s);
    s += buf;
  }
  if (!sc.run.verify) s += "  verification OFF: payload bytes were not checked\n";
  return s;
}

}  // namespace iomodels::cli
