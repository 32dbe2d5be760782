// Description: the commands of the cli frontend (list, run, peer, demo,
// sweep), one factory each for main's dispatch table.
#pragma once

#include <memory>

#include "frontend/command.h"

namespace iomodels::cli {

std::unique_ptr<frontend::Command> make_list_command();
std::unique_ptr<frontend::Command> make_run_command();
std::unique_ptr<frontend::Command> make_peer_command();
std::unique_ptr<frontend::Command> make_demo_command();
std::unique_ptr<frontend::Command> make_sweep_command();

}  // namespace iomodels::cli
