// Description: calibrate's iomodels side: rounds driven for a time budget, a
// step at a time, inside Session::measure, read into a Sample.
#include "calibrate/iomodels_side.h"

#include <algorithm>
#include <memory>

#include "measure/recorder.h"
#include "run/figures.h"

namespace iomodels::calibrate {
namespace {

// In batch steps the iomodels side runs about a twentieth of the budget (at
// least this long) per call, so it stops near the budget like fio does. Every
// call ends in a barrier (all reads of the call done), which fio's free-running
// jobs do not have: few calls keep that cost small.
constexpr uint64_t kMinChunkNs = 10'000'000;
constexpr uint64_t kChunksPerBudget = 20;
// Untimed warm-up before each iomodels sample, as a fraction of the budget.
constexpr uint64_t kWarmupDivisor = 10;

// Rounds, `step` at a time, until `ns` have passed since the first.
Status run_for(Session& s, uint64_t ns, bool timed, Step step, uint64_t* rounds_done) {
  uint64_t chunk = 1, done = 0;
  const uint64_t chunk_ns = std::max(kMinChunkNs, ns / kChunksPerBudget);
  const uint64_t t0 = now_ns();
  for (;;) {
    const uint64_t c0 = now_ns();
    if (Status st = timed ? s.rounds(chunk) : s.warm_up(chunk); !st.ok()) return st;
    done += chunk;
    const uint64_t t = now_ns();
    if (t - t0 >= ns) break;
    if (step == Step::kRound) continue;
    const uint64_t per_round = std::max<uint64_t>((t - c0) / chunk, 1);
    const uint64_t want = std::min(chunk_ns, ns - (t - t0)) / per_round;
    // Grow at most 8x per chunk: the first rounds may be unusually fast.
    chunk = std::clamp<uint64_t>(want, 1, chunk * 8);
  }
  *rounds_done = done;
  return {};
}

}  // namespace

const char* step_name(Step s) { return s == Step::kRound ? "round" : "batch"; }

Status run_iomodels(const Scenario& sc, uint64_t budget_ns, Step step, Sample* out) {
  std::unique_ptr<Session> s;
  if (Status st = Session::open(sc, &s); !st.ok()) return st;
  uint64_t rounds = 0;
  if (Status st = run_for(*s, budget_ns / kWarmupDivisor, false, step, &rounds); !st.ok())
    return st;
  ScenarioResult r;
  if (Status st =
          s->measure([&](Session& session,
                         uint64_t* done) { return run_for(session, budget_ns, true, step, done); },
                     &r);
      !st.ok())
    return st;
  const Figures& f = r.figures;
  const PeerStats& peer = r.peer;
  const uint64_t requests = r.requests;
  out->ops = requests;
  out->wall_s = r.m.wall_s;
  out->ops_per_s = f.requests_per_s;
  out->p50_us = f.p50_us;
  out->p99_us = f.p99_us;
  out->cpu_us_per_op = f.cpu_us_per_req;
  out->extra = {{"cpu_user_us_per_op", f.user_us_per_req},
                {"cpu_sys_us_per_op", f.sys_us_per_req},
                {"syscalls_per_op", f.syscalls_per_req},
                {"ctx_per_op", f.ctx_per_req}};
  if (sc.workload.transport != Transport::kFile) {
    out->extra["peer_cpu_util"] = peer.cpu_util();
    out->extra["peer_bound"] = peer.peer_bound();
  }
  return {};
}

}  // namespace iomodels::calibrate
