// Description: `iomodels chain`: services A -> B -> C as processes, a
// synchronous call chain (--mode sync) against a JetStream queue (--mode
// queue), with faults injected into B or C, measured per 100 ms and in
// total. And the hidden `iomodels chain-service` each service runs as.
#pragma once

#include <CLI/CLI.hpp>

namespace iomodels::chain {

CLI::App* add_chain(CLI::App& app);
int run_chain();
CLI::App* add_chain_service(CLI::App& app);
int run_chain_service();

}  // namespace iomodels::chain
