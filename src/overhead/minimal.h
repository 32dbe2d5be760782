// Description: the minimal loops: for three mechanisms (a blocking read,
// epoll, io_uring), the least code that drives the workload the models drive
// (the same peer, connections, requests and response sizes) with the bare
// syscalls and nothing of the harness: no payload verification, no latency
// timestamps or histogram, no syscall counters, no trace hooks. They only
// count the bytes of each response, so that a broken loop fails instead of
// reporting a figure. What a model costs beyond the minimal loop of its
// mechanism is the harness's share plus the model's own choices.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "measure/recorder.h"
#include "models/model.h"
#include "sys/status.h"
#include "workload/workload.h"

namespace iomodels::overhead {

// What a minimal loop completed: responses and their bytes.
struct MinimalCount {
  uint64_t requests = 0;
  uint64_t bytes = 0;
};

// What a minimal loop drives: the client ends of the connections, the
// response size and the transport, from a Workload (its peer) or from the
// echo floor (echo.h); progress goes to the workload's watchdog, if any.
struct LoopConns {
  std::span<const ClientConn> conns;
  uint32_t size = 0;
  Transport transport = Transport::kSocketpair;
  Workload* watchdog = nullptr;
  void note_progress() const {
    if (watchdog != nullptr) watchdog->note_progress();
  }
};

class MinimalLoop {
 public:
  virtual ~MinimalLoop() = default;
  // Untimed: fd flags, the epoll set or the ring, buffers. Not applicable,
  // with the reason, where the kernel refuses the mechanism. `w` outlives
  // the loop.
  virtual Status setup(const LoopConns& w, uint64_t timeout_ns) = 0;
  // Every connection completes `rounds` requests, each connection asking
  // again as soon as its response is in (the models' free pattern). Adds
  // what completed to *count. A response with more bytes than asked for, a
  // closed connection or a wait longer than the timeout is an error.
  virtual Status run(uint64_t rounds, MinimalCount* count) = 0;
};

// A ring for a minimal loop (or the echo) of `connections`: the SQ holds a
// sweep (a send and a receive per connection), the CQ every connection's
// receive and failed send, with the task-work modes the models ask for,
// cheapest first. 0, or -errno from io_uring_setup; *cqe_skip: whether the
// kernel has IOSQE_CQE_SKIP_SUCCESS.
int init_minimal_ring(io_uring* ring, size_t connections, bool* cqe_skip);

// Whether mechanism m has a minimal loop (blocking read, epoll, io_uring).
bool has_minimal_loop(Mechanism m);
// The minimal loop of m, or nullptr.
std::unique_ptr<MinimalLoop> make_minimal_loop(Mechanism m);

struct MinimalOptions {
  Mechanism mechanism = Mechanism::kEpoll;
  WorkloadOptions workload;              // a transport with a peer (not the file transport)
  uint64_t rounds = 100;                 // requests per connection, timed
  uint64_t timeout_ns = 10'000'000'000;  // no progress for this long = an error
  std::vector<int> cpus;                 // run the loop on these CPUs; empty: anywhere
};

struct MinimalResult {
  Measurement m;  // process-wide: the peer is another process and not in it
  MinimalCount count;
  // The peer's own CPU per request over the same window (its statistics);
  // -1: not known.
  double peer_us_per_req = -1;
  double cpu_us_per_req() const {
    return count.requests ? m.cpu_s() * 1e6 / static_cast<double>(count.requests) : 0;
  }
};

// As Session does for a model: a fresh workload, set-up untimed, one
// warm-up round, then the Recorder around `rounds` rounds, the watchdog
// armed. Fails unless every connection completed every request with exactly
// the bytes it asked for.
Status measure_minimal(const MinimalOptions& o, MinimalResult* out);

}  // namespace iomodels::overhead
