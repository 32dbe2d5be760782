// Description: the statistics the peer sends back on its control connection,
// in the binary layout both sides share; private to the peer and Workload.
#pragma once

#include <cstdint>

#include "measure/histogram.h"
#include "peer/hello.h"
#include "peer/peer.h"

namespace iomodels::detail {

// Changed with the layout below, so that ends of two versions tell at once.
inline constexpr uint64_t kStatsMagic = 0x696f6d6f64737433ULL;  // "iomodst3"

// The peer's answer to a control request.
struct PeerStatsWire {
  uint64_t magic;
  uint64_t requests;
  uint64_t wall_ns;
  uint64_t cpu_ns;
  uint64_t late_p50_ns;
  uint64_t late_p99_ns;
  uint64_t late_max_ns;
  uint64_t spin_ns;
  uint64_t protocol_errors;
  uint64_t poll_horizon_ns;  // deadlines nearer than this are polled for, not slept for
  uint64_t loop;             // a PeerLoop: how the peer moves bytes
  uint64_t refused;          // connections over the peer's limit (since it started)
  uint64_t bad_token;        // hellos with a wrong token
  uint64_t idle_closed;      // connections closed for silence
  uint64_t throttled;        // times reading stopped for responses not being read
  uint64_t held_over;        // bytes a stopped connection held past its bound
  uint64_t threads;          // serving threads (--peer-threads)
  uint64_t busiest_cpu_ns;   // the busiest thread's own CPU (one thread: cpu_ns)
};

// The load generator's (server role) second answer to a control request,
// right after PeerStatsWire on the local control socket.
inline constexpr uint64_t kGeneratorMagic = 0x696f6d6f6467656eULL;  // "iomodgen"
struct GeneratorStatsWire {
  uint64_t magic;
  uint64_t sent;
  uint64_t responses;
  uint64_t bad_bytes;
  uint64_t send_late_p99_ns;
  uint64_t send_late_max_ns;
  uint64_t behind;
  uint64_t sched_span_ns;
  uint64_t closed;  // connections it closed since it started
  Histogram::Raw corrected;
  Histogram::Raw uncorrected;
};

// The third answer to a control request when the peer checks a program run
// under `run --exec` (PeerOptions::exec_requests): one message on the local
// control socket, right after PeerStatsWire.
inline constexpr uint64_t kExecMagic = 0x696f6d6f64657865ULL;  // "iomodexe"
struct ExecStatsWire {
  uint64_t magic;
  uint64_t first_request_ns;  // CLOCK_MONOTONIC; 0: none yet
  uint64_t last_response_ns;  // its last byte written
  uint64_t complete_conns;    // connections whose every request was served
  uint64_t early, wrong_conn, wrong_size, wrong_id, extra;
  uint64_t refused_conns;     // connections closed unanswered for a broken rule
  Histogram::Raw turnaround;  // ns: a response's last byte -> the next request
};

// The statistics as the wire carries them, as PeerStats (remote unset).
PeerStats stats_from_wire(const PeerStatsWire& w);

}  // namespace iomodels::detail
