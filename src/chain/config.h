// Description: the options of one `iomodels chain` run as typed (ChainFlags,
// each a flag of the command) and their check into a run's Config, every
// refusal before a process starts; for the command and for callers in this
// program (the demo's services story).
#pragma once

#include <string>
#include <vector>

#include "chain/run.h"

namespace iomodels::chain {

// The flags of `iomodels chain`, with their defaults.
struct ChainFlags {
  std::string mode = "sync";
  std::string rate = "500";
  std::string duration = "6s";
  std::string work = "100us";
  std::string size = "256B";
  std::string workers = "8";
  std::string callers = "64";
  std::string timeout = "5s";
  std::string ack_wait = "2s";
  std::string drain_timeout = "20s";
  std::vector<std::string> faults;
  std::string broker;
  std::string json;
};

// Checks `flags` and makes the run's Config; throws frontend::UsageError
// naming the bad flag. Finds nats-server on PATH for a private broker.
Config to_config(const ChainFlags& flags);

}  // namespace iomodels::chain
