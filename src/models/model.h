// Description: the one small interface every I/O model implements, the
// context a model runs in, and the registry of models.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "measure/histogram.h"
#include "sys/status.h"
#include "workload/exchange.h"
#include "workload/workload.h"

namespace iomodels {

enum class Quadrant {
  kSyncBlocking,
  kSyncNonblocking,
  kAsyncBlocking,
  kAsyncNonblocking,
  kMultiplexing
};
// "sync-blocking", "sync-nonblocking", "async-blocking", "async-nonblocking", "multiplexing".
std::string_view quadrant_name(Quadrant q);

// The kernel mechanism a model waits with: what a probe must find for it to
// run, and what the tests that concern one mechanism select by.
enum class Mechanism {
  kBlockingRead,     // read() that sleeps, one connection at a time
  kThreads,          // read() that sleeps, one thread per connection
  kThreadPool,       // read() that sleeps on a pool's worker; the caller waits on a future
  kNonblockingRead,  // O_NONBLOCK read() (or preadv2 RWF_NOWAIT) asked again and again
  kPoll,             // poll(2)
  kSelect,           // select(2)
  kEpoll,            // epoll(7)
  kIoUring,          // io_uring(7)
};
// "blocking-read", "threads", "thread-pool", "nonblocking-read", "poll", "select", "epoll",
// "io_uring".
std::string_view mechanism_name(Mechanism m);

// The most event-loop threads a thread-per-core model makes (--threads).
inline constexpr uint32_t kMaxLoopThreads = 1024;

struct RunOptions {
  uint32_t pool_threads = 0;  // threadpool workers; 0 = number of cores
  // Thread-per-core models: event loops, each owning a shard of the
  // connections; 0 = one per model CPU (RunContext::cpus), else per online CPU.
  uint32_t threads = 0;
  uint64_t poll_interval_ns = 100'000;  // polling-sleep: sleep between sweeps
  // uring-ladder: the io_uring feature ladder's steps in force, bit k for
  // step k (models/uring_ladder.h); every step by default, each where it applies.
  uint32_t ladder_steps = ~0u;
  uint64_t timeout_ns = 10'000'000'000;  // no progress for this long = an error
  // The harness's own per-request work, each part on by default and each
  // switchable off to measure what it costs (iomodels overhead):
  bool verify = true;       // check every payload byte
  bool histogram = true;    // time each request (issue, last byte) and record its latency
  bool counters = true;     // count every syscall in src/sys (EAGAIN, io_uring_enter too)
  bool trace_hooks = true;  // look for an installed timeline (Trace) at each request
};

// What a model is given. The model records each request's latency (issue to
// last byte) in `latency` from the thread that calls run(); worker threads
// record with Histogram::record_shared or merge their own before run() returns.
// With options.histogram off nothing is recorded (finish() does it all).
struct RunContext {
  Workload* workload = nullptr;
  RunOptions options;
  Histogram* latency = nullptr;
  // Open-loop mode: the time the driver scheduled this round's requests.
  // Latency then counts from it, so a model that falls behind shows its
  // queueing (no coordinated omission). 0 = closed loop: from the send.
  uint64_t scheduled_ns = 0;
  // The CPUs the model may run on (--cpus' model set); empty: no placement.
  // The calling thread is already restricted to them, and threads it makes
  // inherit that; a model that pins its threads one CPU each reads them here.
  std::vector<int> cpus;
  // A thread-per-core model's loop sees only its shard: when set, conns()
  // is this subset (each keeps its workload-wide index) instead of all.
  std::span<const ClientConn> shard;

  std::span<const ClientConn> conns() const { return shard.empty() ? workload->conns() : shard; }
  uint32_t size() const { return workload->options().size; }
};

class Model {
 public:
  virtual ~Model() = default;
  // Untimed: set fd flags, start threads, make rings and buffers. May return
  // Status::not_applicable with the reason. Called once.
  virtual Status setup(RunContext& ctx) = 0;
  // Timed: every connection completes `rounds` requests, each one verified.
  // Returns an error, never hangs: every wait is bounded by options.timeout_ns.
  virtual Status run(uint64_t rounds) = 0;

  // What set-up found that a result should carry, beside the scenario: the
  // io_uring setup flags the kernel took, a thread-per-core model's shards.
  struct Fact {
    std::string key;   // snake_case, the JSON key
    std::string text;  // the value; a number when is_number
    bool is_number = false;
  };
  // Read after set-up and again after each measurement window, so a fact
  // may count what the window did (a thread-per-core model's requests per
  // loop); begin_window() is called, untimed, as each window starts.
  virtual std::vector<Fact> facts() const { return {}; }
  virtual void begin_window() {}
};

struct ModelInfo {
  std::string_view name;
  Quadrant quadrant;
  Mechanism mechanism;
  bool coroutine;  // written as C++20 coroutines over the mechanism
  std::string_view summary;
  std::unique_ptr<Model> (*make)();
  // Whether this kernel can run it at all: empty, or the reason it cannot.
  std::string (*unavailable)() = nullptr;
  // Whether it applies to a workload: empty, or the reason it does not.
  std::string (*not_applicable)(const WorkloadOptions&) = nullptr;
  // Thread-per-core: one event loop per thread, each owning a shard of the
  // connections; the only models that take --threads (RunOptions::threads).
  bool thread_per_core = false;
};

// Every model, in the order of the quadrant table (src/models/list.h).
std::span<const ModelInfo* const> all_models();
const ModelInfo* find_model(std::string_view name);
// Empty if `m` can run on `w` here; otherwise the reason.
std::string why_not(const ModelInfo& m, const WorkloadOptions& w);

}  // namespace iomodels
