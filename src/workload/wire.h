// Description: private wire formats between Workload and its peer.
#pragma once

#include <cstdint>

#include "measure/histogram.h"

namespace iomodels::detail {

inline constexpr uint64_t kStatsMagic = 0x696f6d6f64737461ULL;  // "iomodsta"

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
  Histogram::Raw turnaround;  // ns: a response's last byte -> the next request
};

// The hello a client of a network-facing peer sends first on every
// connection: one Request {kHelloConn, kHelloVersion, kHelloMagic}, then the
// token in kHelloTokenBytes (zero-padded). The peer answers with the
// kHelloAckBytes of payload (kHelloConn, 0), or closes the connection.
inline constexpr uint32_t kHelloVersion = 1;
inline constexpr uint64_t kHelloMagic = 0x696f6d6f6468656cULL;  // "iomodhel"
inline constexpr size_t kHelloTokenBytes = 32;
inline constexpr uint32_t kHelloAckBytes = 16;

// Set-up messages on the local control socket (SOCK_SEQPACKET), each with
// descriptors attached (SCM_RIGHTS).
enum class SetupKind : uint32_t {
  kSockets = 1,  // one fd per connection
  kPipes = 2,    // (request read end, response write end) per connection
  kListen = 3,   // the listening TCP socket
  kGo = 4,       // set-up done: start serving
};
struct SetupHeader {
  SetupKind kind;
  uint32_t count;
};
// SCM_MAX_FD is 253; keep a margin.
inline constexpr int kFdsPerMessage = 200;

}  // namespace iomodels::detail
