// Description: what the frontends (cli, bench, calibrate) share: the usage
// error (exit code 2), the scenario flags, and writing a result file.
#pragma once

#include <CLI/CLI.hpp>
#include <stdexcept>
#include <string>

#include "run/session.h"

namespace iomodels::frontend {

// Bad input: main prints "iomodels: error: <what>" and exits with code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Which flags ScenarioFlags::add_to adds besides the workload's.
struct ScenarioFlagParts {
  bool model = true;     // --model and --requests
  bool switches = true;  // --verify, --histogram, --counters, --trace-hooks
};

// The client role's default device: think times drawn uniformly from 0.5 to
// 1.5 ms, a mean of 1 ms. A constant latency ("1ms") makes the connections'
// responses fall due together, so one wait reaps many of them, or not, from
// run to run: that regime ("in step") is a property of the constant, which a
// real device or network rarely gives, and it moves CPU per request by up to
// 3x between runs. Jitter keeps the connections apart (docs/design.md).
inline constexpr const char* kDefaultLatency = "uniform:0.5ms-1.5ms";

// The flags that describe one scenario, as typed (validated by to_scenario).
struct ScenarioFlags {
  std::string model = "epoll";
  std::string transport = "socketpair";
  std::string connections = "64";
  std::string size = "4KiB";
  std::string latency;  // empty: kDefaultLatency on a peer's transport, 0 on the file transport
  std::string requests = "100";
  std::string pool_threads = "0";
  // --threads: only the thread-per-core models take it; not given = 0, auto.
  std::string threads;
  bool threads_given = false;  // set by the parser, so that "--threads ''" is refused
  // --ladder-steps: uring-ladder only; names of models/uring_ladder.h, all | none.
  std::string ladder_steps = "all";
  bool ladder_steps_given = false;
  std::string poll_interval = "100us";
  std::string timeout = "10s";
  std::string verify = "on";
  // The harness's other per-request parts: on | off (see RunOptions).
  std::string histogram = "on";
  std::string counters = "on";
  std::string trace_hooks = "on";
  std::string seed = "1";
  std::string peer_spin = "0";
  std::string peer;                  // HOST:PORT of a remote `iomodels peer`, or several: A,B
  std::string peer_token;            // its token, or one per peer: T1,T2 (or IOMODELS_PEER_TOKEN)
  std::string rate = "0";            // open loop: requests/s per connection (0 = closed loop)
  std::string role = "client";       // client | server
  std::string offered;               // server role: requests/s over all connections
  std::string arrivals = "uniform";  // server role: uniform | poisson
  std::string pattern = "free";      // closed loop: free | lockstep
  std::string cpus = "none";         // none | auto | model=LIST,peer=LIST
  std::string peer_loop = "auto";    // auto | uring | epoll
  std::string peer_threads = "1";    // the forked peer's serving threads, 1..64
  std::string file;                  // the file transport's data file (empty: unnamed, in /dev/shm)
  std::string file_size = "256MiB";
  bool direct = false;

  void add_to(CLI::App* app, ScenarioFlagParts parts = {});
  // Adds the switches of the harness's per-request work: --verify,
  // --histogram, --counters, --trace-hooks (for a frontend with its own list
  // of flags: bench).
  void add_switches_to(CLI::App* app);
  // Validates everything; throws UsageError naming the bad flag.
  Scenario to_scenario() const;
};

// Parse helpers that throw UsageError("--flag: reason").
uint64_t flag_count(const std::string& flag, const std::string& text, uint64_t lo, uint64_t hi);
uint64_t flag_duration(const std::string& flag, const std::string& text);
uint64_t flag_size(const std::string& flag, const std::string& text, uint64_t lo, uint64_t hi);
Transport flag_transport(const std::string& flag, const std::string& text);
Pattern flag_pattern(const std::string& flag, const std::string& text);
// A comma list's items ("a,b,c"); an empty item is a UsageError naming `flag`.
std::vector<std::string> flag_list(const std::string& flag, const std::string& text);
// --ladder-steps: a comma list of ladder step names, or all | none; the mask
// of RunOptions::ladder_steps.
uint32_t flag_ladder_steps(const std::string& flag, const std::string& text);
// --cpus: fills sc->model_cpus and sc->workload.peer_cpus. "auto": on two or
// more allowed CPUs with a forked peer, the peer gets the last one and the
// model the rest; "none": the scheduler decides; "model=LIST,peer=LIST"
// (either part may be left out): exactly those, each a subset of the CPUs
// this process may use.
void flag_cpus(const std::string& flag, const std::string& text, Scenario* sc);
// --peer-loop: auto | uring | epoll; uring where this kernel cannot run the
// io_uring loop is refused with the reason.
PeerLoopChoice flag_peer_loop(const std::string& flag, const std::string& text);
LatencySpec flag_latency(const std::string& flag, const std::string& text);
// A rate in requests/s: a positive decimal number, with an optional k or M
// (thousands, millions), in (0, hi].
double flag_rate(const std::string& flag, const std::string& text, double hi);
// A percentage: a decimal number in [lo, hi] (e.g. 5 or 2.5), returned as a
// fraction (0.05, 0.025).
double flag_percent(const std::string& flag, const std::string& text, double lo, double hi);
Role flag_role(const std::string& flag, const std::string& text);
Arrivals flag_arrivals(const std::string& flag, const std::string& text);
// "on" or "off".
bool flag_on_off(const std::string& flag, const std::string& text);
void flag_model(const std::string& flag, const std::string& text);

}  // namespace iomodels::frontend
