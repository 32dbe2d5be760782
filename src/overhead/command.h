// Description: `iomodels overhead`: what the harness's own per-request work
// costs. For every model: CPU per request with everything on, then with each
// part (verification, histogram, counters, trace hooks) switched off and with
// all of them off, and the minimal loop of the model's mechanism; interleaved
// and repeated, medians and spreads, as a table, markdown or JSON.
#pragma once

#include <memory>

#include "frontend/command.h"

namespace iomodels::overhead {

std::unique_ptr<frontend::Command> make_overhead_command();

}  // namespace iomodels::overhead
