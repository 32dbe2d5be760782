// Description: a subcommand as an object: it owns its flags, declares them on
// its CLI11 subcommand, validates them before any work, and executes.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace iomodels::frontend {

// One subcommand of the `iomodels` binary. main.cc constructs every command
// from the dispatch table, lets each declare its flags on its own subcommand,
// parses the command line, then calls validate() and execute() on the one
// that was named. The flags live in the object, bound by CLI11 to its
// members, so that two commands (or two tests) never share a flag's value.
class Command {
 public:
  virtual ~Command() = default;

  // Declares the flags (and the long description and footer shown by
  // `iomodels CMD --help`) on `app`, the command's own subcommand. `app`
  // outlives the command's validate() and execute().
  virtual void add_flags(CLI::App* app) = 0;

  // Checks the parsed flags and turns them into what execute() needs. Throws
  // UsageError naming the bad option (exit code 2); starts no work, so a bad
  // flag never costs a run.
  virtual void validate() {}

  // Does the work and returns the exit code. Checks that need the work
  // under way (a model the kernel cannot run, say) still report here.
  virtual int execute() = 0;
};

// A row of the dispatch table: the command's name, the one line that
// `iomodels --help` shows for it, and how to make it.
struct CommandEntry {
  const char* name;
  const char* summary;
  std::unique_ptr<Command> (*make)();
  // Hidden commands (run by iomodels itself) are neither listed nor offered.
  bool hidden = false;
};

}  // namespace iomodels::frontend
