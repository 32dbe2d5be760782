// Description: registers the grid with Google Benchmark. Each benchmark keeps
// one Session (peer, connections, threads, rings) open across the runs Google
// Benchmark makes of it, so nothing is set up inside the timed loop and the
// iteration-count trials do not pay for a fork and 1000 connections each.
#include "bench/grid.h"

#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <utility>

#include "frontend/frontend.h"
#include "measure/env.h"
#include "measure/recorder.h"
#include "measure/resolution.h"

namespace iomodels::bench {
namespace {

struct GridState {
  std::string current;  // the benchmark the session belongs to
  std::unique_ptr<Session> session;
  std::function<void(const std::string&)> hook;
  nlohmann::json spectra = nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> skipped;
  // Run name (with kNameSuffix) -> its registration, for set_repetitions.
  std::map<std::string, benchmark::internal::Benchmark*> registered;
};

GridState& state() {
  static GridState s;
  return s;
}

void skip(benchmark::State& bs, const std::string& name, const Status& st) {
  const std::string why = (st.not_applicable() ? "not applicable: " : "failed: ") + st.message();
  bs.SkipWithError(why.c_str());
  GridState& g = state();
  // Once per benchmark, however often it runs (repetitions, interleaved or not).
  bool listed = false;
  for (const auto& [n, w] : g.skipped) listed = listed || n == name;
  if (!listed) g.skipped.emplace_back(name, why);
  // A failed session (peer killed by the watchdog, a broken connection) is
  // not reused: the next run of this benchmark starts afresh.
  g.session.reset();
}

void run_point(benchmark::State& bs, const Scenario& sc, uint64_t per_iteration,
               const std::string& name, double slow_percent) {
  GridState& g = state();
  if (name != g.current) {
    // Free the previous benchmark's peer and fds before opening new ones:
    // 1000 connections each would otherwise pile up.
    g.session.reset();
    g.current = name;
    if (g.hook) g.hook(name);
  }
  if (!g.session) {
    std::unique_ptr<Session> s;
    Status st = Session::open(sc, &s);
    if (st.ok()) st = s->warm_up(sc.warmup_rounds);
    if (!st.ok()) return skip(bs, name, st);
    g.session = std::move(s);
  }
  Session& s = *g.session;
  // One iteration: every connection completes `per_iteration` requests.
  ScenarioResult r;
  // What the rest of the machine did meanwhile: its busy CPU less ours and
  // the peer's, for the summary's account of an unresolved point.
  const double busy0 = machine_busy_cpu_s();
  const uint64_t t0 = now_ns();
  const Status st = s.measure(
      [&bs, per_iteration, slow_percent](Session& session, uint64_t* done) {
        for (auto _ : bs) {
          const uint64_t before = slow_percent > 0 ? process_cpu_ns() : 0;
          if (Status e = session.rounds(per_iteration); !e.ok()) return e;
          if (slow_percent > 0) burn_cpu_share(process_cpu_ns() - before, slow_percent);
        }
        *done = static_cast<uint64_t>(bs.iterations()) * per_iteration;
        return Status{};
      },
      &r);
  if (!st.ok()) return skip(bs, name, st);
  const double wall_s = static_cast<double>(now_ns() - t0) / 1e9;
  const double busy_s = busy0 < 0 ? -1 : machine_busy_cpu_s() - busy0;

  const Figures& f = r.figures;
  bs.SetItemsProcessed(static_cast<int64_t>(r.requests));
  bs.SetBytesProcessed(static_cast<int64_t>(r.bytes));
  auto& c = bs.counters;
  c["cpu_util"] = f.cpu_util;
  c["cpu_us_per_req"] = f.cpu_us_per_req;
  c["cpu_user_us_per_req"] = f.user_us_per_req;
  c["cpu_sys_us_per_req"] = f.sys_us_per_req;
  c["ctx_per_req"] = f.ctx_per_req;
  // A part of the harness switched off leaves its counters out, not at 0.
  if (f.has_syscalls) {
    c["syscalls_per_req"] = f.syscalls_per_req;
    c["eagain_per_req"] = f.eagain_per_req;
    if (f.has_waits) c["events_per_wait"] = f.events_per_wait;
  }
  if (f.has_latency) {
    c["p50_us"] = f.p50_us;
    c["p90_us"] = f.p90_us;
    c["p99_us"] = f.p99_us;
    c["p999_us"] = f.p999_us;
    c["max_us"] = f.max_us;
  }
  c["peer_late_p99_us"] = static_cast<double>(r.peer.late_p99_ns) / 1e3;
  c["peer_cpu_util"] = r.peer.cpu_util();
  c["peer_cpu_us_per_req"] = r.peer.cpu_us_per_req();
  if (busy_s >= 0 && wall_s >= kMinAttributionS)
    c["others_cores"] =
        std::max(0.0, (busy_s - r.m.cpu_s() - static_cast<double>(r.peer.cpu_ns) / 1e9) / wall_s);

  const ModelInfo* info = find_model(sc.model);
  std::string label(info ? quadrant_name(info->quadrant) : "?");
  if (r.peer.peer_bound()) label += ",peer-bound";
  bs.SetLabel(label);
  // Each run overwrites the last: the one left is the run Google Benchmark reports.
  if (f.has_latency) g.spectra[name] = spectrum_json(r.latency);
}

}  // namespace

std::string benchmark_name(const Scenario& sc) {
  const WorkloadOptions& w = sc.workload;
  return sc.model + "/" + std::string(transport_name(w.transport)) +
         "/conns:" + std::to_string(w.connections) + "/size:" + std::to_string(w.size) + "/" +
         w.latency.name_part() +
         (sc.rate_per_s > 0 ? "/rate:" + std::to_string(static_cast<uint64_t>(sc.rate_per_s))
                            : "") +
         (sc.rate_per_s <= 0 && sc.pattern == Pattern::kLockstep ? "/lockstep" : "");
}

std::vector<std::string> register_grid(const Grid& grid) {
  std::vector<std::string> names;
  for (const std::string& model : grid.models)
    for (Transport t : grid.transports)
      for (uint32_t conns : grid.connections)
        for (uint32_t size : grid.sizes)
          // A file has no peer and so no think time: one point, latency 0.
          for (const LatencySpec& lat :
               t == Transport::kFile ? std::vector<LatencySpec>{LatencySpec{}} : grid.latencies) {
            Scenario sc = grid.base;
            sc.model = model;
            sc.workload.transport = t;
            if (t != Transport::kFile) {
              sc.workload.file_path.clear();
              sc.workload.direct = false;
            } else {
              sc.workload.peer_cpus.clear();  // no peer to place
            }
            sc.workload.connections = conns;
            sc.workload.size = size;
            sc.workload.latency = lat;
            std::string name = benchmark_name(sc);
            benchmark::internal::Benchmark* b =
                benchmark::RegisterBenchmark(
                    name.c_str(), [sc, name, per = grid.requests_per_iteration,
                                   slow = model == grid.slow_model ? grid.slow_percent : 0.0](
                                      benchmark::State& bs) { run_point(bs, sc, per, name, slow); })
                    ->UseRealTime()
                    ->MeasureProcessCPUTime()
                    // The models make their own threads; Threads(N) would divide
                    // the process CPU by N.
                    ->Threads(1)
                    ->Unit(benchmark::kMicrosecond);
            state().registered[name + kNameSuffix] = b;
            names.push_back(std::move(name));
          }
  return names;
}

void parse_test_slowdown(const char* value, Grid* g) {
  TestSlowdown t;
  std::string why;
  if (!iomodels::parse_test_slowdown(value, &t, &why))
    throw frontend::UsageError(std::string(kSlowdownEnv) + ": " + why);
  g->slow_model = t.model;
  g->slow_percent = t.percent;
}

bool set_repetitions(const std::string& run_name, int n) {
  const auto it = state().registered.find(run_name);
  if (it == state().registered.end()) return false;
  it->second->Repetitions(n);
  return true;
}

void on_benchmark_start(std::function<void(const std::string&)> hook) {
  state().hook = std::move(hook);
}

void close_sessions() {
  state().session.reset();
  state().current.clear();
}

const nlohmann::json& spectra() { return state().spectra; }

const std::vector<std::pair<std::string, std::string>>& skipped() { return state().skipped; }

}  // namespace iomodels::bench
