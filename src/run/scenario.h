// Description: runs one scenario (model × workload) the same way for every
// frontend: set-up untimed, one warm-up round, then the timed rounds with the
// Recorder, the peer's own statistics, and the watchdog.
#pragma once

#include <memory>
#include <string>

#include "iomodels/histogram.h"
#include "iomodels/model.h"
#include "iomodels/recorder.h"
#include "iomodels/workload.h"

namespace iomodels {

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
};

struct ScenarioResult {
  Measurement m;
  Histogram latency;  // ns per request, issue to last byte
  PeerStats peer;
  uint64_t requests = 0;
  uint64_t bytes = 0;
};

// A model set up on a live workload, ready for timed rounds. Bench keeps one
// per benchmark; run_scenario uses one for a single measurement.
class Session {
 public:
  // Creates the workload and the model and sets the model up (untimed).
  static Status open(const Scenario& sc, std::unique_ptr<Session>* out);
  ~Session();

  // Untimed rounds, latencies discarded.
  Status warm_up(uint64_t rounds);
  // Starts a measured window: resets the peer's window and the histogram.
  Status begin();
  // Timed rounds, guarded by the watchdog.
  Status rounds(uint64_t n);
  // Ends the window: the peer's statistics for it.
  Status end(PeerStats* peer);

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
  uint64_t next_tick_ns_ = 0;  // open loop: when the next round is due
};

// Everything at once: open, warm up, measure `rounds`, close.
Status run_scenario(const Scenario& sc, ScenarioResult* out);

}  // namespace iomodels
