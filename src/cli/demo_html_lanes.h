// Description: the demo page's timeline drawing: one SVG per story, made
// from the recorded trace, and the small text helpers the page shares with it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/demo_render.h"

namespace iomodels::cli {

// Text made safe for HTML element content and attribute values.
std::string html_escape(const std::string& s);

// printf into a string.
std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// One SVG per story of d.stories, in order, all on one time scale: a lane
// per thread, each slice filled by what the thread did (running, sleeping in
// a blocking call, spinning on EAGAIN, another syscall), the step marks, the
// trace's flow arrows and the request → data ready → used arrows. An empty
// string for a story the timeline does not hold (cut by --trace-events).
std::vector<std::string> story_svgs(const DemoOutcome& d, const nlohmann::json& trace);

// The <defs> the SVGs and the legend fill with (patterns, arrowheads), to be
// placed once in the page.
std::string timeline_defs();

// The legend: one swatch per kind of slice and arrow, with what it means.
std::string timeline_legend();

}  // namespace iomodels::cli
