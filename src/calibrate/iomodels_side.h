// Description: calibrate's iomodels side: one sample of a scenario, set up
// and warmed up untimed, then rounds for the budget in Session::measure.
#pragma once

#include <cstdint>

#include "calibrate/sample.h"
#include "run/session.h"

namespace iomodels::calibrate {

// How many rounds one call of the model's run() gets. A round is one request
// per connection (per read in flight); run() ends when all are done.
enum class Step {
  // One round per call, as `iomodels bench` runs every model: each request is
  // handed out on its own (threadpool submits a task per request, threads
  // wakes every thread per round), with a barrier after every round.
  kRound,
  // Rounds for a twentieth of the budget per call, as `iomodels run
  // --requests N`: each thread or pool task loops over its connection's
  // requests, as fio's jobs loop over theirs.
  kBatch,
};

// "round" or "batch", as the JSON names the step.
const char* step_name(Step s);

// One iomodels sample: set-up and warm-up untimed, then rounds for `budget_ns`.
Status run_iomodels(const Scenario& sc, uint64_t budget_ns, Step step, Sample* out);

}  // namespace iomodels::calibrate
