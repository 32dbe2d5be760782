// Description: a scenario (model × workload × how rounds follow one another)
// and what one measurement window of it found, with its derived figures:
// the data that the session fills and the figures and frontends report.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "measure/histogram.h"
#include "measure/recorder.h"
#include "models/model.h"
#include "workload/workload.h"

namespace iomodels {

// Per request, per second and the latency percentiles (microseconds). A
// figure whose part of the harness was switched off is absent, not 0: the
// latency percentiles without the histogram (has_latency), the syscall, EAGAIN
// and io_uring_enter counts without the counters (has_syscalls).
struct Figures {
  bool has_latency = true, has_syscalls = true;
  // The model waited for readiness or completions (poll, select, epoll_wait,
  // io_uring_enter): events_per_wait is then the events each wait brought
  // (sys::Counters::waits, ::events), the regime of the run. Needs the counters.
  bool has_waits = false;
  double events_per_wait = 0;
  double requests_per_s = 0, bytes_per_s = 0;
  double cpu_util = 0, cpu_us_per_req = 0, user_us_per_req = 0, sys_us_per_req = 0;
  double syscalls_per_req = 0, eagain_per_req = 0, uring_enter_per_req = 0, ctx_per_req = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

// How the connections' requests follow one another in a closed loop.
enum class Pattern {
  // Each connection issues its next request as soon as its response is
  // complete, independently of the others: how real clients behave.
  kFree,
  // Rounds: every connection's request leaves together, and the next round
  // starts only when every response of this one is in (a barrier per round).
  kLockstep,
};
// "free", "lockstep".
std::string_view pattern_name(Pattern p);
// Parses "free" or "lockstep"; false for anything else.
bool parse_pattern(std::string_view text, Pattern* out);

struct ExecRun;  // run/exec_run.h

struct Scenario {
  std::string model = "epoll";
  WorkloadOptions workload;
  RunOptions run;
  uint64_t rounds = 100;       // requests per connection, timed
  uint64_t warmup_rounds = 1;  // untimed, first
  // Open loop: rounds start at this rate (requests/s per connection) whether
  // or not the model kept up, and latency counts from each round's scheduled
  // start. 0 = closed loop: the next round starts when the last one ends.
  double rate_per_s = 0;
  // Closed loop only; open-loop rounds are paced one by one.
  Pattern pattern = Pattern::kFree;
  // The model's threads run only on these CPUs (the peer's are
  // workload.peer_cpus); empty: wherever the scheduler puts them.
  std::vector<int> model_cpus;
  // For testing the comparisons only (run/slowdown.h): the window burns this
  // many percent more CPU than its rounds took, on the driving thread.
  double test_slowdown_percent = 0;
};

// What one measurement window found.
struct ScenarioResult {
  Measurement m;
  Histogram latency;  // ns per request, issue to last byte
  PeerStats peer;
  uint64_t rounds = 0;    // per connection
  uint64_t requests = 0;  // rounds × connections
  uint64_t bytes = 0;
  Figures figures;             // derived from the above
  uint32_t model_threads = 0;  // the process's threads once the model was set up
  // What the model's set-up found (Model::facts): the io_uring setup flags,
  // a thread-per-core model's loops and shards. Empty for most models.
  std::vector<Model::Fact> model_facts;
  // The 1-minute load average just before the session opened (run_scenario),
  // while nothing of the run was running yet; -1: not measured.
  double load_at_start = -1;
  // A program run under --exec instead of a model (run/exec.h); null otherwise.
  std::shared_ptr<const ExecRun> exec;
};

}  // namespace iomodels
