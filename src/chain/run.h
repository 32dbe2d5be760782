// Description: one run of `iomodels chain`, as the coordinator sees it: the
// checked configuration, the processes and broker it starts, the samples it
// takes every 100 ms, and the report it makes of A's and C's records.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chain/fault.h"
#include "chain/net.h"
#include "chain/service.h"
#include "chain/shared.h"
#include "frontend/output.h"

namespace iomodels::chain {

constexpr uint64_t kTickNs = 100'000'000;  // the timeline's interval

struct Sample {
  double t_s = 0;
  int64_t depth_ab = -1, depth_bc = -1;  // from the broker: pending + ack-pending
  uint64_t a_outstanding = 0, b_busy = 0, b_errors = 0, b_timeouts = 0;
  double cpu[kRoles + 1] = {0, 0, 0, 0};  // A, B, C, broker: % of one CPU
};

struct Config {
  Mode mode = Mode::kSync;
  ServiceOptions svc;
  uint64_t ack_wait_ns = 0, drain_timeout_ns = 0;
  std::vector<Fault> faults;
  bool private_broker = false;
  std::string nats_server;  // the binary, for a private broker
  frontend::OutputPath json;
  // The console summary on stdout (the command), or nothing (a caller that
  // tells the run in its own words).
  bool print_report = true;
  // When set, receives the report (what --json writes) as the run ends.
  nlohmann::json* result = nullptr;
};

// Runs the whole chain described by `cfg` and reports it; returns the exit
// code. While it runs, Ctrl-C, SIGTERM and SIGHUP stop the services and the
// broker, remove the run's directory, then end the process by the same
// signal; the caller's handlers are back when it returns, and the NATS
// library is closed (another run may open it again).
int run_chain(Config& cfg);

// Every fixed-size record in the file at `path`, in order.
template <class R>
std::vector<R> read_records(const std::string& path) {
  std::vector<R> out;
  std::ifstream f(path, std::ios::binary);
  R r;
  while (f.read(reinterpret_cast<char*>(&r), sizeof r)) out.push_back(r);
  return out;
}

// Everything a run started; the destructor stops and removes all of it, on
// every way out (the end, an error, Ctrl-C).
class Run {
 public:
  explicit Run(Config& cfg) : cfg_(cfg) {}
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  int execute();

 private:
  void make_dir();
  void start_broker();
  void setup_queues();
  pid_t start_service(Role r);
  void wait_ready(Role r);
  void reap();
  void sample(uint64_t now);
  void apply_faults(uint64_t now);
  void teardown();
  int report();
  void print_summary(const nlohmann::json& out) const;

  Config& cfg_;
  std::string exe_, dir_, broker_url_, broker_version_, broker_what_;
  pid_t broker_pid_ = -1;
  pid_t pid_[kRoles] = {-1, -1, -1};
  bool a_done_ = false;
  SharedCounters* sc_ = nullptr;
  Nats nats_;
  uint64_t t0_ = 0, load_end_ = 0, end_ = 0;
  std::vector<Sample> samples_;
  uint64_t last_cpu_[kRoles + 1] = {0, 0, 0, 0};
  uint64_t last_b_errors_ = 0, last_b_timeouts_ = 0;
  std::vector<int> fault_phase_;  // 0: not started, 1: on, 2: over
  int broker_errors_ = 0;
  bool torn_down_ = false;
};

}  // namespace iomodels::chain
