// Description: the command line of `iomodels chain` (its flags, checked into
// a run's Config before anything starts) and of the hidden `iomodels
// chain-service` that each of the chain's services runs as.
#include "frontend/command.h"

#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "chain/config.h"
#include "chain/run.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "sys/process.h"

namespace iomodels::chain {
namespace {

using frontend::UsageError;

// The flags of one service, as the coordinator passes them (all required).
struct ServiceFlags {
  std::string role, mode, dir, t0, rate, duration, work, size, workers, callers, timeout, port_b,
      port_c, broker, prefix;
};

// `chain`: the coordinator. validate() turns the flags into a Config (every
// refusal before a process starts); execute() runs it.
class ChainCommand final : public frontend::Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override { return run_chain(cfg_); }

 private:
  ChainFlags flags_;
  Config cfg_;
};

void ChainCommand::add_flags(CLI::App* sub) {
  sub->description(
      "services A -> B -> C as processes: synchronous calls against a JetStream queue, faults "
      "injected");
  sub->footer(
      "Services A -> B -> C as processes: a synchronous call chain (--mode sync) against a "
      "message\n"
      "queue on a real broker (--mode queue: NATS JetStream), with faults injected into B or C.\n"
      "A receives an open-loop stream of --rate requests/s (latency from each request's scheduled\n"
      "time). sync: A calls B, B (a pool of --workers) calls C, over loopback TCP. queue: A "
      "publishes\n"
      "to a durable stream and is done when the broker accepts; B consumes, works and publishes "
      "on;\n"
      "C consumes, works and acknowledges (at-least-once: duplicates counted, never hidden).\n"
      "Every message C finishes is verified (id and payload); lost and duplicated are counted "
      "from\n"
      "that data. Measured per 100 ms and in total; --json writes it all, tools/plot_chain.py "
      "draws it.\n"
      "Examples:\n"
      "  iomodels chain --mode sync --fault stall:C:2s@2s --json sync.json\n"
      "  iomodels chain --mode queue --fault stall:C:2s@2s --json queue.json\n"
      "  /usr/bin/python3 tools/plot_chain.py sync.json queue.json -o chain.png");
  sub->add_option("--mode", flags_.mode, "sync (A calls B calls C) | queue (through the broker)")
      ->capture_default_str();
  sub->add_option("--rate", flags_.rate, "requests/s offered to A (open loop)")
      ->capture_default_str();
  sub->add_option("--duration", flags_.duration, "how long A is offered load (e.g. 6s)")
      ->capture_default_str();
  sub->add_option("--work", flags_.work, "CPU each of B and C spends per request (e.g. 100us)")
      ->capture_default_str();
  sub->add_option("--size", flags_.size, "payload bytes per message (verified at C)")
      ->capture_default_str();
  sub->add_option("--workers", flags_.workers,
                  "sync: B's pool; requests beyond it wait for a worker")
      ->capture_default_str();
  sub->add_option("--callers", flags_.callers, "A's requests in flight at most (its threads)")
      ->capture_default_str();
  sub->add_option("--timeout", flags_.timeout,
                  "how long A and B wait for an answer (sync) or the broker's ack (queue)")
      ->capture_default_str();
  sub->add_option("--ack-wait", flags_.ack_wait,
                  "queue: a message not acknowledged this long is delivered again")
      ->capture_default_str();
  sub->add_option("--drain-timeout", flags_.drain_timeout,
                  "after the load, how long to wait for the backlog to empty")
      ->capture_default_str();
  sub->add_option(
      "--fault", flags_.faults,
      "repeatable: stall:C:2s@3s (SIGSTOP at 3 s, SIGCONT 2 s later) | crash:C@3s+2s\n"
      "(SIGKILL at 3 s, restarted 2 s later) | slow:C:10x@3s+2s (work x10 for 2 s); B or C");
  sub->add_option(
      "--broker", flags_.broker,
      "queue: nats://HOST:PORT of an existing server with JetStream (default: a private\n"
      "nats-server in a temporary directory on a free port, removed at the end)");
  sub->add_option("--json", flags_.json, "write the totals, the timeline and the environment here");
}

void ChainCommand::validate() { cfg_ = to_config(flags_); }

// `chain-service`: one of A, B and C, started by `chain` with its options.
class ChainServiceCommand final : public frontend::Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override { return run_service(options_); }

 private:
  ServiceFlags flags_;
  ServiceOptions options_;
};

void ChainServiceCommand::add_flags(CLI::App* sub) {
  sub->description("one service of `iomodels chain` (started by it)");
  for (auto [name, var] :
       std::initializer_list<std::pair<const char*, std::string*>>{{"--role", &flags_.role},
                                                                   {"--mode", &flags_.mode},
                                                                   {"--dir", &flags_.dir},
                                                                   {"--t0", &flags_.t0},
                                                                   {"--rate", &flags_.rate},
                                                                   {"--duration", &flags_.duration},
                                                                   {"--work", &flags_.work},
                                                                   {"--size", &flags_.size},
                                                                   {"--workers", &flags_.workers},
                                                                   {"--callers", &flags_.callers},
                                                                   {"--timeout", &flags_.timeout},
                                                                   {"--port-b", &flags_.port_b},
                                                                   {"--port-c", &flags_.port_c},
                                                                   {"--broker", &flags_.broker},
                                                                   {"--prefix", &flags_.prefix}})
    sub->add_option(name, *var)->required();
}

void ChainServiceCommand::validate() {
  ServiceOptions& o = options_;
  if (flags_.role == "A")
    o.role = Role::kA;
  else if (flags_.role == "B")
    o.role = Role::kB;
  else if (flags_.role == "C")
    o.role = Role::kC;
  else
    throw UsageError("--role: A, B or C");
  o.mode = flags_.mode == "queue" ? Mode::kQueue : Mode::kSync;
  o.dir = flags_.dir;
  o.t0_ns = frontend::flag_count("--t0", flags_.t0, 0, UINT64_MAX);
  o.rate = frontend::flag_count("--rate", flags_.rate, 1, 100000);
  o.duration_ns = frontend::flag_duration("--duration", flags_.duration);
  o.work_ns = frontend::flag_duration("--work", flags_.work);
  o.size = frontend::flag_count("--size", flags_.size, 1, 1 << 20);
  o.workers = frontend::flag_count("--workers", flags_.workers, 1, 1024);
  o.callers = frontend::flag_count("--callers", flags_.callers, 1, 1024);
  o.timeout_ns = frontend::flag_duration("--timeout", flags_.timeout);
  o.port_b = static_cast<int>(frontend::flag_count("--port-b", flags_.port_b, 0, 65535));
  o.port_c = static_cast<int>(frontend::flag_count("--port-c", flags_.port_c, 0, 65535));
  o.broker = flags_.broker;
  o.prefix = flags_.prefix;
}

}  // namespace

std::unique_ptr<frontend::Command> make_chain_command() { return std::make_unique<ChainCommand>(); }

std::unique_ptr<frontend::Command> make_chain_service_command() {
  return std::make_unique<ChainServiceCommand>();
}

}  // namespace iomodels::chain
