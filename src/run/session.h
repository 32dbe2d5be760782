// Description: runs one scenario (model × workload) the same way for every
// frontend: set-up untimed, warm-up rounds, then ONE measurement window
// (Session::measure): the Recorder around the timed rounds, the peer's own
// statistics for the same window, the watchdog, and the figures.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "measure/histogram.h"
#include "measure/recorder.h"
#include "models/model.h"
#include "run/figures.h"
#include "workload/workload.h"

namespace iomodels {

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

struct ExecRun;  // run/exec.h

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
  // The 1-minute load average just before the session opened (run_scenario),
  // while nothing of the run was running yet; -1: not measured.
  double load_at_start = -1;
  // A program run under --exec instead of a model (run/exec.h); null otherwise.
  std::shared_ptr<const ExecRun> exec;
};

// A model set up on a live workload, ready for timed rounds. Bench keeps one
// per benchmark; run_scenario uses one for a single measurement.
class Session {
 public:
  // Creates the workload and the registered model sc.model and sets the
  // model up (untimed); not applicable, with the reason, where why_not says so.
  static Status open(const Scenario& sc, std::unique_ptr<Session>* out);
  // The same with a model that is not in the registry (the demo's stories,
  // a test's model); sc.model names it in messages.
  static Status open(const Scenario& sc, std::unique_ptr<Model> model,
                     std::unique_ptr<Session>* out);
  ~Session();

  // Untimed rounds, latencies discarded.
  Status warm_up(uint64_t rounds);
  // Timed: `n` requests per connection in the scenario's pattern (free: one
  // run of n; lockstep: n runs of one), guarded by the watchdog. Call it
  // inside measure().
  Status rounds(uint64_t n);

  // The one measurement window every frontend uses: resets the peer's window
  // and the histogram, starts the Recorder, runs `body`, stops the Recorder,
  // then takes the peer's statistics for the same window and derives the
  // figures. `body` runs timed rounds (through rounds()) and says how many
  // per connection it ran; a body that fails leaves *out untouched.
  using Body = std::function<Status(Session&, uint64_t* rounds_done)>;
  Status measure(const Body& body, ScenarioResult* out);
  // The same for exactly `rounds` rounds.
  Status measure(uint64_t rounds, ScenarioResult* out);

  Workload& workload() { return *workload_; }
  Histogram& latency() { return latency_; }
  const Scenario& scenario() const { return sc_; }

 private:
  Session() = default;
  Scenario sc_;
  std::unique_ptr<Workload> workload_;
  std::unique_ptr<Model> model_;
  Histogram latency_;
  RunContext ctx_;
  std::vector<int> saved_cpus_;  // the caller's affinity, restored on close
  uint32_t threads_ = 0;
  uint64_t next_tick_ns_ = 0;  // open loop: when the next round is due
};

// Everything at once: note the load average, open, warm up, measure
// sc.rounds, close.
Status run_scenario(const Scenario& sc, ScenarioResult* out);

}  // namespace iomodels
