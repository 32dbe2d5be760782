// Description: the one-screen summary of a result, as `iomodels run` prints it.
#pragma once

#include <string>

#include "run/session.h"

namespace iomodels::cli {

std::string summary_text(const Scenario& sc, const ScenarioResult& r);

}  // namespace iomodels::cli
