// Description: the command table as a user meets it (one line per command in
// `iomodels --help`, an unknown command refused with the list of known ones)
// and each command's flag checks, run in-process: a bad value is a UsageError
// naming its option, thrown by validate() before any work starts.
#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/command.h"
#include "calibrate/command.h"
#include "chain/command.h"
#include "cli/commands.h"
#include "compare/command.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "overhead/command.h"
#include "util.h"

using namespace iomodels;

namespace {

using iomodels::frontend::Command;
using iomodels::frontend::UsageError;

// The commands `iomodels --help` offers, in its order.
const std::vector<std::string> kListed = {"list",  "run",       "peer",     "demo",  "sweep",
                                          "bench", "calibrate", "overhead", "chain", "compare"};

std::string known_list() {
  std::string all;
  for (const std::string& n : kListed) all += (all.empty() ? "" : ", ") + n;
  return all;
}

// Parses `args` as the command line of `name` (without the program name) and
// validates it, as main does, without executing anything.
void parse_and_validate(const std::string& name, std::unique_ptr<Command> (*make)(),
                        const std::string& args) {
  CLI::App app{"test"};
  CLI::App* sub = app.add_subcommand(name, "");
  std::unique_ptr<Command> command = make();
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
  CHECK(names == kListed);
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
    std::unique_ptr<Command> (*make)();
    const char* args;
    const char* option;  // what the message must start with
  };
  const std::string service_flags =
      "--mode sync --dir /nonexistent --t0 0 --rate 10 --duration 1s --work 0 --size 64 "
      "--workers 1 --callers 1 --timeout 1s --port-b 1 --port-c 2 --broker x --prefix p ";
  const std::vector<Bad> table = {
      {"run", cli::make_run_command, "--connections 0", "--connections"},
      {"run", cli::make_run_command, "--model nosuch", "--model"},
      {"run", cli::make_run_command, "--trace-events 0", "--trace-events"},
      {"run", cli::make_run_command, "--name x", "--name"},
      {"run", cli::make_run_command, "--exec ./prog --model epoll", "--model"},
      {"peer", cli::make_peer_command, "--listen nohost", "--listen"},
      {"peer", cli::make_peer_command, "--latency soon", "--latency"},
      {"peer", cli::make_peer_command, "--log-level loud", "--log-level"},
      {"peer", cli::make_peer_command, "--token 0123456789012345678901234567890123", "--token"},
      {"demo", cli::make_demo_command, "--latency 40s", "--latency"},
      {"demo", cli::make_demo_command, "--work 11s", "--work"},
      {"demo", cli::make_demo_command, "--color red", "--color"},
      {"demo", cli::make_demo_command, "-t file", "--transport"},
      {"demo", cli::make_demo_command, "--trace-events 0", "--trace-events"},
      {"sweep", cli::make_sweep_command, "--duration 1ms", "--duration"},
      {"sweep", cli::make_sweep_command, "--repetitions 0", "--repetitions"},
      {"sweep", cli::make_sweep_command, "--rates 100 --from 5", "--from"},
      {"sweep", cli::make_sweep_command, "--rate 5", "--rate"},
      {"sweep", cli::make_sweep_command, "--models nosuch", "--models"},
      {"sweep", cli::make_sweep_command, "--role client -t file", "--transport"},
      {"chain", chain::make_chain_command, "--mode both", "--mode"},
      {"chain", chain::make_chain_command, "--duration 10ms", "--duration"},
      {"chain", chain::make_chain_command, "--work 2s", "--work"},
      {"chain", chain::make_chain_command, "--ack-wait 1ms", "--ack-wait"},
      {"chain", chain::make_chain_command, "--broker nats://h:4222", "--broker"},
      {"chain", chain::make_chain_command, "--fault stall:C:2s@5s", "--fault"},
      {"chain-service", chain::make_chain_service_command, "--role D", "--role"},
      {"calibrate", calibrate::make_calibrate_command, "--pairs 2", "--pairs"},
      {"calibrate", calibrate::make_calibrate_command, "--budget 1ms", "--budget"},
      {"calibrate", calibrate::make_calibrate_command, "--size 1000", "--size"},
      {"calibrate", calibrate::make_calibrate_command, "--only both", "--only"},
      {"overhead", overhead::make_overhead_command, "--repeat 0", "--repeat"},
      {"bench", bench::make_bench_command, "--log-level loud", "--log-level"},
      {"bench", bench::make_bench_command, "--connections 0", "--connections"},
      {"compare", compare::make_compare_command, "/nonexistent/a.json /nonexistent/b.json", "OLD"},
  };
  for (const Bad& b : table) {
    std::string args = b.args;
    if (std::string(b.command) == "chain-service") args = service_flags + args;
    INFO(b.command << " " << args);
    try {
      parse_and_validate(b.command, b.make, args);
      FAIL("accepted");
    } catch (const UsageError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.rfind(b.option, 0) == 0);
    }
  }
}

TEST_CASE("commands: every command's defaults pass validate()", "[commands]") {
  CHECK_NOTHROW(parse_and_validate("list", cli::make_list_command, ""));
  CHECK_NOTHROW(parse_and_validate("run", cli::make_run_command, ""));
  CHECK_NOTHROW(parse_and_validate("peer", cli::make_peer_command, ""));
  CHECK_NOTHROW(parse_and_validate("demo", cli::make_demo_command, ""));
  CHECK_NOTHROW(parse_and_validate("sweep", cli::make_sweep_command, ""));
  CHECK_NOTHROW(parse_and_validate("chain", chain::make_chain_command, ""));
  CHECK_NOTHROW(parse_and_validate("overhead", overhead::make_overhead_command, ""));
  // Two commands do not share a flag's value: each owns its flags.
  CLI::App app{"test"};
  std::unique_ptr<Command> a = cli::make_demo_command(), b = cli::make_demo_command();
  a->add_flags(app.add_subcommand("demo", ""));
  b->add_flags(app.add_subcommand("demo2", ""));
  app.parse(std::string("demo --color red"), false);
  CHECK_THROWS_AS(a->validate(), UsageError);
  CHECK_NOTHROW(b->validate());
}
