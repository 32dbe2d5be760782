// Description: the demo's rendering: its stories, the measured 2x2 table,
// the race and the services story as text, or all of it as one JSON document.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/demo_race.h"
#include "cli/demo_services.h"
#include "cli/demo_story.h"

namespace iomodels::cli {

// Everything the demo measured, as its renderers read it.
struct DemoOutcome {
  std::string latency;  // the device's latency, as text
  uint64_t work_ns = 0;
  std::vector<Story> stories;  // in the order of demo_stories()
  bool race_on = false;        // the race ran (a fixed latency long enough)
  Race race;
  bool services_on = false;  // --services
  ServicesStory services;
};

// How the text looks: bold and dim escapes, and each story's Python twin.
struct DemoStyle {
  bool color = false;
  bool python = false;
};

// The paragraph printed before the stories run.
void print_demo_intro(const DemoOutcome& d);

// The stories, the 2x2 table, task start order, the race and the services
// story, then how the verdicts are derived.
void print_demo_text(const DemoOutcome& d, const DemoStyle& style);

// The same as one JSON document (without the timeline's part).
nlohmann::json demo_json(const DemoOutcome& d);

// After the text: where the timeline went and which stories it lost to the
// event cap.
void print_demo_timeline(const DemoOutcome& d, const std::string& path, size_t events,
                         bool truncated, uint64_t max_events);

}  // namespace iomodels::cli
