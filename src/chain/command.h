// Description: `iomodels chain`: services A -> B -> C as processes, a
// synchronous call chain (--mode sync) against a JetStream queue (--mode
// queue), with faults injected into B or C, measured per 100 ms and in
// total. And the hidden `iomodels chain-service` each service runs as.
#pragma once

#include <memory>

#include "frontend/command.h"

namespace iomodels::chain {

std::unique_ptr<frontend::Command> make_chain_command();
std::unique_ptr<frontend::Command> make_chain_service_command();

}  // namespace iomodels::chain
