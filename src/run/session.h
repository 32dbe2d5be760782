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
