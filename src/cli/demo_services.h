// Description: the demo's services story: chain's run (services A, B and C as
// processes of this binary, with a private nats-server) in both modes with C
// stalled for a second, told as what A, B and C did and what A saw.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace iomodels::cli {

struct ServicesStory {
  bool ran = false;            // both modes ran to the end
  std::string skipped;         // why not (nats-server missing), or empty
  std::string error;           // a run that failed, or empty
  nlohmann::json sync, queue;  // each mode's `chain --json` result
};

// Runs both modes (about 10 s in all). Never throws.
ServicesStory run_services_story();

// The story in words, from its own figures.
std::string services_story_text(const ServicesStory& s, bool python);

}  // namespace iomodels::cli
