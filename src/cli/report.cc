// Description: the one-screen summary of a result.
#include "cli/report.h"

#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>

#include "measure/env.h"
#include "run/exec.h"
#include "run/figures.h"
#include "sys/cpus.h"
#include "workload/parse.h"

namespace iomodels::cli {

namespace {

// Bytes per second with a decimal prefix: "950 B/s", "12.3 MB/s", "1.20 GB/s".
std::string bytes_rate_text(double bps) {
  static constexpr const char* units[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
  std::size_t u = 0;
  while (bps >= 1000.0 && u + 1 < std::size(units)) {
    bps /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf,
                u == 0     ? "%.0f %s"
                : bps < 10 ? "%.2f %s"
                           : "%.1f %s",
                bps, units[u]);
  return buf;
}

// A whole number with thousands separators: 147436 -> "147,436".
std::string grouped(double v) {
  if (!std::isfinite(v)) return "n/a";
  char digits[32];
  std::snprintf(digits, sizeof digits, "%.0f", std::fabs(v));
  std::string s = digits;
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return (v < 0 && s != "0" ? "-" : "") + s;
}

// "latency 1ms, constant (in step)" or "latency uniform:500us-1.5ms, jittered"
// (client role), "serving 20,000 requests/s offered, uniform arrivals".
std::string role_text(const Scenario& sc) {
  if (sc.workload.role == Role::kClient) {
    const LatencySpec& l = sc.workload.latency;
    return "latency " + l.text() +
           (l.kind == LatencySpec::Kind::kFixed  ? ", constant (in step)"
            : l.kind == LatencySpec::Kind::kZero ? ""
                                                 : ", jittered");
  }
  return "serving " + grouped(sc.workload.offered_per_s) + " requests/s offered, " +
         std::string(arrivals_name(sc.workload.arrivals)) + " arrivals";
}

// The server role's lines: what the load generator offered, saw and verified.
std::string generator_text(const Scenario& sc, const ScenarioResult& r) {
  const GeneratorStats& g = *r.peer.generator;
  char buf[1024];
  std::snprintf(
      buf, sizeof buf,
      "  uncorrected   p50 %9.1f   p90 %9.1f   p99 %9.1f   p99.9 %9.1f   max %9.1f  (from each "
      "send; the line above counts from each request's scheduled time)\n"
      "  generator     offered %.0f/s, achieved %.0f/s; sent %llu, %llu responses verified, %llu "
      "bad; %llu behind schedule\n"
      "                sent late p99 %.1f us  max %.1f us   CPU %.2f core%s\n",
      g.uncorrected.percentile(0.50) / 1e3, g.uncorrected.percentile(0.90) / 1e3,
      g.uncorrected.percentile(0.99) / 1e3, g.uncorrected.percentile(0.999) / 1e3,
      g.uncorrected.max() / 1e3, g.offered_per_s, r.figures.requests_per_s,
      static_cast<unsigned long long>(g.sent), static_cast<unsigned long long>(g.responses),
      static_cast<unsigned long long>(g.bad_bytes), static_cast<unsigned long long>(g.behind),
      g.send_late_p99_ns / 1e3, g.send_late_max_ns / 1e3, r.peer.cpu_util(),
      generator_late(sc, r.peer) ? "\n  GENERATOR-LATE: the load generator fell behind its own "
                                   "schedule; the offered load was partly its limit"
                                 : "");
  return buf;
}

}  // namespace

std::string summary_text(const Scenario& sc, const ScenarioResult& r, bool verbose) {
  const Figures& f = r.figures;
  const ModelInfo* info = find_model(sc.model);
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "%s (%s) on %s: %u connection%s, %u B responses, %s, %s requests each\n"
      "  wall          %10.3f s      requests/s %12s   bytes %12s\n"
      "  CPU           %10.3f s      user %.3f s  sys %.3f s  utilisation %.2f core\n",
      sc.model.c_str(),
      r.exec ? (r.exec->quadrant.empty() ? "a program" : r.exec->quadrant + ", a program").c_str()
      : info ? std::string(quadrant_name(info->quadrant)).c_str()
             : "?",
      std::string(transport_name(sc.workload.transport)).c_str(), sc.workload.connections,
      sc.workload.connections == 1 ? "" : "s", sc.workload.size, role_text(sc).c_str(),
      grouped(static_cast<double>(sc.rounds)).c_str(), r.m.wall_s,
      grouped(f.requests_per_s).c_str(), bytes_rate_text(f.bytes_per_s).c_str(), r.m.cpu_s(),
      r.m.user_s, r.m.sys_s, f.cpu_util);
  std::string s = buf;
  // A part of the harness switched off leaves its figures out, not at 0.
  if (r.exec) {
    // A program's EAGAINs are its own business: the kernel's counter sees
    // every syscall, not what each returned.
    char calls[32] = "not counted (below)";
    if (f.has_syscalls) std::snprintf(calls, sizeof calls, "%6.2f", f.syscalls_per_req);
    std::snprintf(buf, sizeof buf,
                  "  per request   CPU %8.2f us   syscalls %s   ctx switches %5.2f\n",
                  f.cpu_us_per_req, calls, f.ctx_per_req);
  } else if (f.has_syscalls) {
    std::snprintf(buf, sizeof buf,
                  "  per request   CPU %8.2f us   syscalls %6.2f   EAGAIN %6.2f   ctx switches "
                  "%5.2f\n",
                  f.cpu_us_per_req, f.syscalls_per_req, f.eagain_per_req, f.ctx_per_req);
  } else {
    std::snprintf(buf, sizeof buf,
                  "  per request   CPU %8.2f us   syscalls not counted (--counters off)   ctx "
                  "switches %5.2f\n",
                  f.cpu_us_per_req, f.ctx_per_req);
  }
  s += buf;
  // The regime: a loop whose wake-ups each bring many events pays its wait
  // once for all of them.
  if (!r.exec && f.has_waits) {
    std::snprintf(buf, sizeof buf, "  regime        %.2f events per wait (%s waits)\n",
                  f.events_per_wait, grouped(static_cast<double>(r.m.calls.waits)).c_str());
    s += buf;
  }
  // What the model's set-up found: its loops and shards, its ring's flags.
  if (!r.model_facts.empty()) {
    s += "  model        ";
    for (size_t i = 0; i < r.model_facts.size(); ++i)
      s += (i == 0 ? " " : "; ") + r.model_facts[i].key + " " + r.model_facts[i].text;
    s += "\n";
  }
  if (f.has_latency) {
    std::snprintf(buf, sizeof buf,
                  "  latency (us)  p50 %9.1f   p90 %9.1f   p99 %9.1f   p99.9 %9.1f   max %9.1f\n",
                  f.p50_us, f.p90_us, f.p99_us, f.p999_us, f.max_us);
    s += buf;
  } else if (r.exec) {
    s += "  latency       not reported by the program\n";
  } else {
    s += "  latency       not measured (--histogram off)\n";
  }
  if (sc.workload.transport == Transport::kFile) {
    const WorkloadOptions& w = sc.workload;
    s += "  file          " +
         (w.file_path.empty() ? std::string("unnamed, in /dev/shm") : w.file_path) + ", " +
         std::to_string(w.file_bytes >> 20) + " MiB, reads at random 4 KiB-aligned offsets" +
         (w.direct ? ", O_DIRECT" : ", through the page cache") + "; no peer\n";
  } else if (r.peer.generator) {
    s += generator_text(sc, r);
  } else {
    std::snprintf(buf, sizeof buf,
                  "  peer          lateness p50 %.1f us  p99 %.1f us  max %.1f us   CPU %.2f core, "
                  "%.2f us/req%s%s\n",
                  r.peer.late_p50_ns / 1e3, r.peer.late_p99_ns / 1e3, r.peer.late_max_ns / 1e3,
                  r.peer.cpu_util(), r.peer.cpu_us_per_req(),
                  r.peer.spin_ns ? ", spinning before deadlines" : "",
                  r.peer.peer_bound()
                      ? "\n  PEER-BOUND: the peer used >= 90% of a core; this measures the peer"
                      : "");
    s += buf;
    if (verbose) {
      std::snprintf(buf, sizeof buf,
                    "                polls (busy-waits) for deadlines < %.0f us away; loop: %s\n",
                    r.peer.poll_horizon_ns / 1e3, std::string(peer_loop_name(r.peer.loop)).c_str());
      s += buf;
    }
  }
  if (!sc.workload.remote.empty()) {
    s += "  remote peer   " + sc.workload.remote +
         ": its own --latency applies, not this run's; its CPU is another machine's\n";
  }
  if (!sc.model_cpus.empty() || !sc.workload.peer_cpus.empty()) {
    const auto where = [](const std::vector<int>& c) {
      return c.empty() ? std::string("any CPU") : "CPU " + sys::cpu_list_text(c);
    };
    s += "  placement     model on " + where(sc.model_cpus) + ", peer on " +
         where(sc.workload.peer_cpus);
    if (!sc.model_cpus.empty() && r.model_threads > sc.model_cpus.size())
      s += "; " + std::to_string(r.model_threads) + " threads share the model's " +
           std::to_string(sc.model_cpus.size()) + " CPU" + (sc.model_cpus.size() > 1 ? "s" : "");
    s += "\n";
  }
  if (sc.rate_per_s <= 0 && sc.pattern == Pattern::kLockstep)
    s += "  pattern       lockstep: rounds, every connection waits for the slowest\n";
  if (sc.rate_per_s > 0) {
    // As given: 2.5 is not 2 (no exponent up to --rate's 1e6).
    std::snprintf(buf, sizeof buf,
                  "  open loop     %.7g requests/s per connection; latency counts from each "
                  "scheduled start\n",
                  sc.rate_per_s);
    s += buf;
  }
  if (!sc.run.verify) s += "  verification OFF: payload bytes were not checked\n";
  if (!sc.run.trace_hooks) s += "  trace hooks OFF: no timeline could be recorded\n";
  return s;
}

}  // namespace iomodels::cli
