// Description: `iomodels overhead`: what the harness's own per-request work
// costs. For every model: CPU per request with everything on, then with each
// part (verification, histogram, counters, trace hooks) switched off and with
// all of them off, and the minimal loop of the model's mechanism; interleaved
// and repeated, medians and spreads, as a table, markdown or JSON.
#pragma once

#include <CLI/CLI.hpp>

namespace iomodels::overhead {

CLI::App* add_overhead(CLI::App& app);
int run_overhead();

}  // namespace iomodels::overhead
