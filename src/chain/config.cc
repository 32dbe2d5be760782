// Description: ChainFlags checked into a run's Config (config.h).
#include "chain/config.h"

#include <unistd.h>

#include "frontend/frontend.h"
#include "frontend/output.h"
#include "sys/process.h"

namespace iomodels::chain {

using frontend::UsageError;

Config to_config(const ChainFlags& flags) {
  Config cfg;
  ServiceOptions& o = cfg.svc;
  if (flags.mode == "sync")
    o.mode = Mode::kSync;
  else if (flags.mode == "queue")
    o.mode = Mode::kQueue;
  else
    throw UsageError("--mode: '" + flags.mode + "' must be sync or queue");
  cfg.mode = o.mode;
  o.rate = frontend::flag_count("--rate", flags.rate, 1, 100000);
  o.duration_ns = frontend::flag_duration("--duration", flags.duration);
  if (o.duration_ns < 100'000'000 || o.duration_ns > 3600'000'000'000ull)
    throw UsageError("--duration: between 100ms and 1h");
  o.work_ns = frontend::flag_duration("--work", flags.work);
  if (o.work_ns > 1'000'000'000) throw UsageError("--work: at most 1s");
  o.size = frontend::flag_size("--size", flags.size, 1, 1 << 20);
  o.workers = frontend::flag_count("--workers", flags.workers, 1, 1024);
  o.callers = frontend::flag_count("--callers", flags.callers, 1, 1024);
  o.timeout_ns = frontend::flag_duration("--timeout", flags.timeout);
  if (o.timeout_ns < 1'000'000) throw UsageError("--timeout: at least 1ms");
  cfg.ack_wait_ns = frontend::flag_duration("--ack-wait", flags.ack_wait);
  if (cfg.ack_wait_ns < 100'000'000) throw UsageError("--ack-wait: at least 100ms");
  cfg.drain_timeout_ns = frontend::flag_duration("--drain-timeout", flags.drain_timeout);
  for (const std::string& f : flags.faults) {
    cfg.faults.push_back(parse_fault(f));
    const Fault& p = cfg.faults.back();
    if (p.at_ns + p.for_ns > o.duration_ns)
      throw UsageError("--fault: '" + f + "' ends after the load does (--duration " +
                       flags.duration + ")");
  }
  // Two faults on one service at once would undo each other's signals.
  for (size_t i = 0; i < cfg.faults.size(); ++i)
    for (size_t j = i + 1; j < cfg.faults.size(); ++j) {
      const Fault &x = cfg.faults[i], &y = cfg.faults[j];
      if (x.role == y.role && x.at_ns < y.at_ns + y.for_ns && y.at_ns < x.at_ns + x.for_ns)
        throw UsageError("--fault: '" + x.text + "' and '" + y.text +
                         "' overlap on the same service");
    }
  if (!flags.broker.empty()) {
    if (o.mode != Mode::kQueue) throw UsageError("--broker: only with --mode queue");
    std::string host;
    int port;
    if (!parse_nats_url(flags.broker, &host, &port))
      throw UsageError("--broker: '" + flags.broker + "' is not nats://HOST:PORT");
    o.broker = flags.broker;
  } else if (o.mode == Mode::kQueue) {
    cfg.private_broker = true;
    cfg.nats_server = sys::find_executable("nats-server");
    if (cfg.nats_server.empty())
      throw UsageError(
          "--mode queue: nats-server not found on PATH; install it with `apt-get install "
          "nats-server` "
          "(or give --broker nats://HOST:PORT)");
  }
  cfg.json = frontend::check_output("--json", flags.json);
  o.prefix = "iomodels_chain_" + std::to_string(::getpid());
  return cfg;
}

}  // namespace iomodels::chain
