// Description: plays the demo's stories: each one run as a model of one
// connection inside a measured Session, with a watcher thread noting when the
// data became readable, and its steps stamped as they happen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cli/demo_story.h"
#include "run/session.h"

namespace iomodels::cli {

// Every story of demo_stories(), in order, on sc's transport, size and
// latency with `work_ns` of own work each. With a timeline installed, a story
// that would pass `trace_cap` events is kept as its parent slice only.
std::vector<Story> play_stories(const Scenario& sc, uint64_t work_ns, size_t trace_cap);

}  // namespace iomodels::cli
