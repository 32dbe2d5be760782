// Description: the one-screen summary of a result, as `iomodels run` prints it.
#pragma once

#include <string>

#include "run/session.h"

namespace iomodels::cli {

// `verbose` adds the peer's internals (its loop, how near a deadline it
// busy-waits): what explains an odd lateness, not what a result means.
std::string summary_text(const Scenario& sc, const ScenarioResult& r, bool verbose = false);

}  // namespace iomodels::cli
