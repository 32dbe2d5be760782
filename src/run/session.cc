// Description: the frontend-neutral scenario driver.
#include "run/session.h"

#include <time.h>

#include <cerrno>
#include <filesystem>

#include "measure/env.h"
#include "run/slowdown.h"
#include "sys/cpus.h"
#include "sys/sys.h"
#include "sys/time.h"

namespace iomodels {

namespace {

// Threads of this process now (the model's, the harness's, io_uring's workers).
uint32_t count_threads() {
  uint32_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

}  // namespace

std::string_view pattern_name(Pattern p) { return p == Pattern::kFree ? "free" : "lockstep"; }

bool parse_pattern(std::string_view text, Pattern* out) {
  if (text == "free") {
    *out = Pattern::kFree;
  } else if (text == "lockstep") {
    *out = Pattern::kLockstep;
  } else {
    return false;
  }
  return true;
}

Status Session::open(const Scenario& sc, std::unique_ptr<Session>* out) {
  const ModelInfo* info = find_model(sc.model);
  if (info == nullptr)
    return Status::error("unknown model '" + sc.model + "' (see: iomodels list)");
  if (std::string why = why_not(*info, sc.workload); !why.empty())
    return Status::not_applicable(sc.model + " on " +
                                  std::string(transport_name(sc.workload.transport)) + ": " + why);
  // A thread-per-core model in the server role on tcp is served as such a
  // server is: each loop listens on one SO_REUSEPORT port and accepts what
  // the kernel gives it, instead of being dealt connections by index.
  Scenario own = sc;
  own.workload.model_listens = info->thread_per_core && sc.workload.role == Role::kServer &&
                               sc.workload.transport == Transport::kTcp &&
                               sc.workload.remote.empty() && sc.workload.connect;
  return open(own, info->make(), out);
}

Status Session::open(const Scenario& sc, std::unique_ptr<Model> model,
                     std::unique_ptr<Session>* out) {
  std::unique_ptr<Session> s(new Session);
  s->sc_ = sc;
  if (!sc.model_cpus.empty()) {
    // This thread runs the model's loop, and the threads the model makes
    // inherit its CPUs; the destructor gives the caller its own back.
    s->saved_cpus_ = sys::affinity();
    if (Status st = sys::set_affinity(sc.model_cpus); !st.ok()) {
      s->saved_cpus_.clear();
      return st;
    }
  }
  if (Status st = Workload::create(sc.workload, &s->workload_); !st.ok()) return st;
  s->model_ = std::move(model);
  s->ctx_.workload = s->workload_.get();
  s->ctx_.options = sc.run;
  s->ctx_.latency = &s->latency_;
  s->ctx_.cpus = sc.model_cpus;
  if (Status st = s->model_->setup(s->ctx_); !st.ok()) {
    if (st.not_applicable())
      return Status::not_applicable(sc.model + " on " +
                                    std::string(transport_name(sc.workload.transport)) + ": " +
                                    st.message());
    return st;
  }
  s->threads_ = count_threads();
  *out = std::move(s);
  return {};
}

Session::~Session() {
  // The model first: its threads and rings go before the connections they use.
  model_.reset();
  workload_.reset();
  if (!saved_cpus_.empty()) sys::set_affinity(saved_cpus_);
}

Status Session::warm_up(uint64_t n) {
  if (n == 0) return {};
  const double rate = sc_.rate_per_s;
  sc_.rate_per_s = 0;  // warm-up is never paced
  Status s = rounds(n);
  sc_.rate_per_s = rate;
  latency_.reset();
  return s;
}

Status Session::rounds(uint64_t n) {
  if (Status w = workload_->arm_watchdog(sc_.run.timeout_ns); !w.ok()) return w;
  Status s;
  if (sc_.rate_per_s <= 0 && sc_.pattern == Pattern::kFree) {
    s = model_->run(n);
  } else if (sc_.rate_per_s <= 0) {
    for (uint64_t k = 0; k < n && s.ok(); ++k) s = model_->run(1);
  } else {
    // Open loop: round k is due at start + k / rate. The driver sleeps until
    // then (an uncounted clock_nanosleep: pacing is the harness's, not the
    // model's); a model that is late starts at once and its latency, counted
    // from the due time, shows how late.
    const auto period = static_cast<uint64_t>(1e9 / sc_.rate_per_s);
    if (next_tick_ns_ == 0) next_tick_ns_ = now_ns();
    for (uint64_t k = 0; k < n && s.ok(); ++k) {
      const timespec due = sys::to_timespec(next_tick_ns_);
      while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) == EINTR) {
      }
      ctx_.scheduled_ns = next_tick_ns_;
      s = model_->run(1);
      next_tick_ns_ += period;
    }
    ctx_.scheduled_ns = 0;
  }
  workload_->disarm_watchdog();
  return s;
}

Status Session::measure(const Body& body, ScenarioResult* out) {
  // Set-up of the window, untimed: a fresh histogram, the open-loop schedule
  // starting now, and the peer's statistics reset (the answer is discarded).
  latency_.reset();
  next_tick_ns_ = 0;
  PeerStats ignored;
  if (Status st = workload_->peer_stats(&ignored, true); !st.ok()) return st;
  model_->begin_window();

  // The syscall counters are process-wide: switched as this window asks,
  // and back afterwards (counting is off only while RunOptions::counters is).
  const bool counting = sys::counting();
  sys::set_counting(sc_.run.counters);
  uint64_t done = 0;
  Recorder rec;
  rec.start();
  const Status st = body(*this, &done);
  const Measurement m = rec.stop();
  sys::set_counting(counting);
  if (!st.ok()) return st;

  PeerStats peer;
  if (Status e = workload_->peer_stats(&peer, false); !e.ok()) return e;
  out->m = m;
  // The server role: the latency is the load generator's, from each
  // request's scheduled time to its response's last byte.
  out->latency = peer.generator ? peer.generator->corrected : latency_;
  out->peer = peer;
  out->rounds = done;
  out->requests = done * sc_.workload.connections;
  out->bytes = out->requests * sc_.workload.size;
  out->figures = figures(out->m, out->latency, out->requests, out->bytes, sc_.run);
  out->model_threads = threads_;
  out->model_facts = model_->facts();
  return {};
}

Status Session::measure(uint64_t n, ScenarioResult* out) {
  const double slow = sc_.test_slowdown_percent;
  return measure(
      [n, slow](Session& s, uint64_t* done) {
        *done = n;
        const uint64_t before = slow > 0 ? process_cpu_ns() : 0;
        Status st = s.rounds(n);
        if (st.ok() && slow > 0) burn_cpu_share(process_cpu_ns() - before, slow);
        return st;
      },
      out);
}

Status run_scenario(const Scenario& sc, ScenarioResult* out) {
  // Before the peer is forked: the load then is other work's, not the run's.
  const double load = load_average();
  std::unique_ptr<Session> s;
  if (Status st = Session::open(sc, &s); !st.ok()) return st;
  if (Status st = s->warm_up(sc.warmup_rounds); !st.ok()) return st;
  if (Status st = s->measure(sc.rounds, out); !st.ok()) return st;
  out->load_at_start = load;
  return {};
}

}  // namespace iomodels
