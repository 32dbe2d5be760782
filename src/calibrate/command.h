// Description: `iomodels calibrate`: iomodels side by side with fio and
// sockperf, interleaved, with medians and ratios.
#pragma once

#include <CLI/CLI.hpp>

namespace iomodels::calibrate {

CLI::App* add_calibrate(CLI::App& app);
int run_calibrate();

}  // namespace iomodels::calibrate
