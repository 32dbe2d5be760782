// Description: `iomodels calibrate`: iomodels side by side with fio and
// sockperf, interleaved, with medians and ratios.
#pragma once

#include <memory>

#include "frontend/command.h"

namespace iomodels::calibrate {

std::unique_ptr<frontend::Command> make_calibrate_command();

}  // namespace iomodels::calibrate
