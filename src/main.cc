// Description: the `iomodels` binary: the table of subcommands
// (command_list.h), each an object made by its frontend; main parses,
// validates and dispatches.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "app/command_table.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "measure/env.h"
#include "sys/cleanup.h"

namespace {

using iomodels::find_command;
using iomodels::kCommands;
using iomodels::frontend::CommandEntry;

// The main help lists each command by its table summary, one line, while
// `iomodels CMD --help` keeps the command's own (longer) description.
class SummaryFormatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    const CommandEntry* e = find_command(sub->get_name().c_str());
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true),
                             e != nullptr ? e->summary : sub->get_description(), column_width_);
    return out.str();
  }
};

// The first argument that is not a flag names the command: the main app has
// flags only (--help, --version), none taking a value. An unknown name is
// refused before CLI11 sees it, --help or not, so a typo never passes for a
// request for help.
bool refuse_unknown_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;
    if (find_command(argv[i]) != nullptr) return false;
    std::string names;
    for (const CommandEntry& e : kCommands)
      if (!e.hidden) names += (names.empty() ? "" : ", ") + std::string(e.name);
    std::fprintf(stderr, "iomodels: error: unknown command '%s' (commands: %s)\n", argv[i],
                 names.c_str());
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using iomodels::frontend::Command;
  using iomodels::frontend::UsageError;
  // A write to a peer that died is an error to report (-EPIPE), not a reason
  // to die: pipes and io_uring writes raise SIGPIPE otherwise.
  ::signal(SIGPIPE, SIG_IGN);
  // Ctrl-C (or SIGTERM, SIGHUP) removes the temporary files of a result
  // still being written before the process ends.
  iomodels::sys::install_signal_cleanup();
  if (refuse_unknown_command(argc, argv)) return 2;
  CLI::App app{
      "iomodels: what each I/O model costs while a program waits for slow I/O.\n"
      "A forked peer process plays a slow device; each model (blocking, polling, threads,\n"
      "poll/select, epoll, io_uring, coroutines) drives the same workload and is measured."};
  app.formatter(std::make_shared<SummaryFormatter>());
  app.set_version_flag("--version", iomodels::iomodels_version());
  app.require_subcommand(1);
  struct Registered {
    CLI::App* app;
    std::unique_ptr<Command> command;
  };
  std::vector<Registered> commands;
  try {
    for (const CommandEntry& e : kCommands) {
      CLI::App* sub = app.add_subcommand(e.name, e.summary);
      if (e.hidden) sub->group("");
      std::unique_ptr<Command> command = e.make();
      command->add_flags(sub);
      commands.push_back({sub, std::move(command)});
    }
    app.parse(argc, argv);
    for (Registered& r : commands) {
      if (!r.app->parsed()) continue;
      r.command->validate();
      return r.command->execute();
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "iomodels: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "iomodels: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "iomodels: out of memory: an allocation failed (a memory limit such as ulimit "
                 "-v, or fewer connections or threads)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "iomodels: %s\n", e.what());
    return 1;
  }
  return 2;
}
