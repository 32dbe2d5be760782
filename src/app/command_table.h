// Description: the dispatch table of `iomodels`, made from command_list.h:
// each row's factory declared in its frontend's namespace, and kCommands, the
// rows as frontend::CommandEntry in the order the help lists them. main.cc
// dispatches from it; the tests walk it.
#pragma once

#include <memory>
#include <string_view>

#include "frontend/command.h"

#define IOMODELS_COMMAND(ns, factory, name, summary, hidden) \
  namespace iomodels::ns {                                   \
  std::unique_ptr<frontend::Command> factory();              \
  }
#include "app/command_list.h"
#undef IOMODELS_COMMAND

namespace iomodels {

inline const frontend::CommandEntry kCommands[] = {
#define IOMODELS_COMMAND(ns, factory, name, summary, hidden) {name, summary, ns::factory, hidden},
#include "app/command_list.h"
#undef IOMODELS_COMMAND
};

// The row named `name`, or nullptr.
inline const frontend::CommandEntry* find_command(const char* name) {
  for (const frontend::CommandEntry& e : kCommands)
    if (std::string_view(name) == e.name) return &e;
  return nullptr;
}

}  // namespace iomodels
