// Description: the command table as a user meets it (one line per command in
// `iomodels --help`, an unknown command refused with the list of known ones)
// and each command's flag checks, run in-process: a bad value is a UsageError
// naming its option, thrown by validate() before any work starts.
#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "app/command_table.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "util.h"

using namespace iomodels;

namespace {

using iomodels::frontend::Command;
using iomodels::frontend::UsageError;

// The commands `iomodels --help` offers, in its order: the table's rows that
// are not hidden.
std::vector<std::string> listed() {
  std::vector<std::string> names;
  for (const frontend::CommandEntry& e : kCommands)
    if (!e.hidden) names.push_back(e.name);
  return names;
}

std::string known_list() {
  std::string all;
  for (const std::string& n : listed()) all += (all.empty() ? "" : ", ") + n;
  return all;
}

// Parses `args` as the command line of `name` (without the program name) and
// validates it, as main does, without executing anything.
void parse_and_validate(const std::string& name, const std::string& args) {
  const frontend::CommandEntry* entry = find_command(name.c_str());
  REQUIRE(entry != nullptr);
  CLI::App app{"test"};
  CLI::App* sub = app.add_subcommand(name, "");
  std::unique_ptr<Command> command = entry->make();
  command->add_flags(sub);
  app.parse(name + " " + args, false);
  command->validate();
}

}  // namespace

TEST_CASE("commands: iomodels --help lists every command on one line", "[commands]") {
  const test::CommandResult r = test::run_iomodels("--help");
  REQUIRE(r.exit_code == 0);
  const size_t at = r.out.find("Subcommands:");
  REQUIRE(at != std::string::npos);
  std::istringstream in(r.out.substr(at));
  std::string line;
  std::getline(in, line);  // the heading
  std::vector<std::string> names;
  while (std::getline(in, line) && !line.empty()) {
    INFO(line);
    // Every line of the list starts a command: no description runs on.
    REQUIRE(line.rfind("  ", 0) == 0);
    REQUIRE(line[2] != ' ');
    names.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  CHECK(names == listed());
  CHECK(names.size() >= 10);
  // The long descriptions stay with `iomodels CMD --help`.
  const test::CommandResult c = test::run_iomodels("compare --help");
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("Mann-Whitney") != std::string::npos);
  CHECK(r.out.find("Mann-Whitney") == std::string::npos);
}

TEST_CASE("commands: an unknown command is refused with the known ones, --help or not",
          "[commands]") {
  const std::string want =
      "iomodels: error: unknown command 'nosuch' (commands: " + known_list() + ")";
  for (const char* args : {"nosuch", "nosuch --help", "nosuch --models all"}) {
    INFO(args);
    const test::CommandResult r = test::run_iomodels(args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find(want) != std::string::npos);
    CHECK(r.out.find("Subcommands:") == std::string::npos);
  }
  // No command at all is still CLI11's usage error.
  CHECK(test::run_iomodels("").exit_code == 2);
}

TEST_CASE("commands: bad flag values are refused by validate(), naming the option", "[commands]") {
  struct Bad {
    const char* command;
    const char* args;
    const char* option;  // what the message must start with
  };
  const std::string service_flags =
      "--mode sync --dir /nonexistent --t0 0 --rate 10 --duration 1s --work 0 --size 64 "
      "--workers 1 --callers 1 --timeout 1s --port-b 1 --port-c 2 --broker x --prefix p ";
  const std::vector<Bad> table = {
      {"run", "--connections 0", "--connections"},
      {"run", "--model nosuch", "--model"},
      {"run", "--trace-events 0", "--trace-events"},
      {"run", "--name x", "--name"},
      {"run", "--exec ./prog --model epoll", "--model"},
      {"run", "--repeat 0", "--repeat"},
      {"run", "--repeat 1001", "--repeat"},
      {"run", "--max-time soon", "--max-time"},
      {"run", "--max-time 2d", "--max-time"},
      {"run", "--repeat 6 --precision 0", "--precision"},
      {"run", "--precision 5", "--precision"},
      {"run", "--repeat 6 --trace t.json", "--trace"},
      {"bench", "--precision 200", "--precision"},
      {"bench", "--reference nosuch", "--reference"},
      {"bench", "--models epoll --reference uring", "--reference"},
      {"compare", "--old /nonexistent/a.json", "--new"},
      {"peer", "--listen nohost", "--listen"},
      {"peer", "--latency soon", "--latency"},
      {"peer", "--log-level loud", "--log-level"},
      {"peer", "--token 0123456789012345678901234567890123", "--token"},
      {"demo", "--latency 40s", "--latency"},
      {"demo", "--work 11s", "--work"},
      {"demo", "--color red", "--color"},
      {"demo", "-t file", "--transport"},
      {"demo", "--trace-events 0", "--trace-events"},
      {"sweep", "--duration 1ms", "--duration"},
      {"sweep", "--repetitions 0", "--repetitions"},
      {"sweep", "--reference nosuch", "--reference"},
      {"sweep", "--max-time soon", "--max-time"},
      {"sweep", "--precision 0", "--precision"},
      {"bench", "--max-time soon", "--max-time"},
      {"bench", "--max-time 2d", "--max-time"},
      {"sweep", "--rates 100 --from 5", "--from"},
      {"sweep", "--rate 5", "--rate"},
      {"sweep", "--models nosuch", "--models"},
      {"sweep", "--role client -t file", "--transport"},
      {"chain", "--mode both", "--mode"},
      {"chain", "--duration 10ms", "--duration"},
      {"chain", "--work 2s", "--work"},
      {"chain", "--ack-wait 1ms", "--ack-wait"},
      {"chain", "--broker nats://h:4222", "--broker"},
      {"chain", "--fault stall:C:2s@5s", "--fault"},
      {"chain-service", "--role D", "--role"},
      {"calibrate", "--pairs 2", "--pairs"},
      {"calibrate", "--budget 1ms", "--budget"},
      {"calibrate", "--size 1000", "--size"},
      {"calibrate", "--only both", "--only"},
      {"overhead", "--repeat 0", "--repeat"},
      {"bench", "--log-level loud", "--log-level"},
      {"bench", "--connections 0", "--connections"},
      {"compare", "/nonexistent/a.json /nonexistent/b.json", "OLD"},
  };
  for (const Bad& b : table) {
    std::string args = b.args;
    if (std::string(b.command) == "chain-service") args = service_flags + args;
    INFO(b.command << " " << args);
    try {
      parse_and_validate(b.command, args);
      FAIL("accepted");
    } catch (const UsageError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.rfind(b.option, 0) == 0);
    }
  }
}

TEST_CASE("commands: every command's defaults pass validate()", "[commands]") {
  // The arguments a command cannot run without; every other command takes
  // none and must accept its defaults.
  const std::string service_flags =
      "--mode sync --dir /tmp --t0 0 --rate 10 --duration 1s --work 0 --size 64 --workers 1 "
      "--callers 1 --timeout 1s --port-b 1 --port-c 2 --broker x --prefix p --role B";
  const std::string reference = std::string(IOMODELS_SOURCE_DIR) + "/results/reference/bench.json";
  for (const frontend::CommandEntry& e : kCommands) {
    std::string args;
    if (std::string(e.name) == "chain-service") args = service_flags;
    if (std::string(e.name) == "compare") args = reference + " " + reference;
    INFO(e.name << " " << args);
    CHECK_NOTHROW(parse_and_validate(e.name, args));
  }
  // Two commands do not share a flag's value: each owns its flags.
  CLI::App app{"test"};
  const frontend::CommandEntry* demo = find_command("demo");
  REQUIRE(demo != nullptr);
  std::unique_ptr<Command> a = demo->make(), b = demo->make();
  a->add_flags(app.add_subcommand("demo", ""));
  b->add_flags(app.add_subcommand("demo2", ""));
  app.parse(std::string("demo --color red"), false);
  CHECK_THROWS_AS(a->validate(), UsageError);
  CHECK_NOTHROW(b->validate());
}
