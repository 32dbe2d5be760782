// Description: `iomodels demo --html`: the demo's stories as one
// self-contained HTML page — the timeline drawn as SVG, each story's verdict
// beside it, the race, and the recorded trace embedded as JSON.
#pragma once

#include <string>

#include "cli/demo_render.h"

namespace iomodels::cli {

// The page: `trace_json` is the timeline as Trace::to_json() wrote it. No
// external resource: styles, script and data are all inline, so the page
// opens offline in any browser.
std::string demo_html(const DemoOutcome& d, const std::string& trace_json);

}  // namespace iomodels::cli
