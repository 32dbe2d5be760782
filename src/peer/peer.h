// Description: the peer's public face: the process that plays the slow device
// (client role) or generates the load (server role), what it is told
// (PeerSettings, PeerOptions), what it reports (PeerStats), and the call that
// runs it. The peer never knows which model it serves.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "measure/histogram.h"
#include "peer/latency.h"

namespace iomodels {

namespace detail {
class ShardGroup;
}  // namespace detail

// How the peer moves bytes. kUring: one io_uring for everything (multishot
// receives into provided buffers, sends batched, one io_uring_enter per loop
// turn). kEpollBatch / kEpollWrite: epoll and read(), responses that fall due
// together sent in one io_uring batch, or by write() where io_uring is refused.
enum class PeerLoop : uint64_t { kEpollWrite = 0, kEpollBatch = 1, kUring = 2 };
std::string_view peer_loop_name(PeerLoop loop);
// Which loop the peer may use: auto is io_uring where this kernel allows it
// (the reason it does not is kept), else epoll.
enum class PeerLoopChoice { kAuto, kUring, kEpoll };
bool parse_peer_loop(std::string_view text, PeerLoopChoice* out, std::string* why);
// Whether this machine's io_uring can run the peer's io_uring loop; the
// reason it cannot otherwise.
bool uring_peer_available(std::string* why);
// The loop a forked peer will run for this choice, as results name it:
// "io_uring", or "epoll" with the reason io_uring was not used.
std::string peer_loop_text(PeerLoopChoice c);

// Who speaks first. kClient: the model asks and the peer answers after its
// latency (a device, a remote service). kServer: the peer is the load
// generator; it sends each connection's requests on its own schedule and the
// model answers them (a server under a known load).
enum class Role { kClient, kServer };
std::string_view role_name(Role r);
bool parse_role(std::string_view text, Role* out, std::string* why);
// The server role's arrival process, per connection and independent:
// uniform (a fixed interval, each connection at its own random phase) or
// poisson (exponential intervals of the same mean).
enum class Arrivals { kUniform, kPoisson };
std::string_view arrivals_name(Arrivals a);
bool parse_arrivals(std::string_view text, Arrivals* out, std::string* why);

// What a peer serves and how, whether it is forked by a Workload (which
// embeds these settings, so the child takes them whole) or started on its
// own by `iomodels peer`.
struct PeerSettings {
  Role role = Role::kClient;
  // The server role: requests per second over all connections (each
  // connection offers an equal share), and how they arrive.
  double offered_per_s = 0;
  Arrivals arrivals = Arrivals::kUniform;
  uint32_t connections = 1;   // 1..kMaxConnections; tcp: accepted in index order
  uint32_t size = 4096;       // response bytes, 1..kMaxResponseBytes
  LatencySpec latency;        // the peer's think time per request
  uint64_t seed = 1;          // seeds the peer's latency draws
  uint64_t peer_spin_ns = 0;  // the peer spins (burns its core) this long before a deadline
  PeerLoopChoice peer_loop = PeerLoopChoice::kAuto;
  // A program run under `run --exec` (a local peer, client role): each of
  // the `connections` must send exactly this many requests, of `size`, one
  // at a time and in order (docs/protocol.md); the peer counts what breaks
  // that and each connection's turnaround. 0: no checks.
  uint64_t exec_requests = 0;
  // Serving threads (--peer-threads), 1..kMaxPeerThreads, each with its own
  // loop (or load generator) and connection i when i % N is its index; a
  // forked peer runs no more threads than it has connections.
  uint32_t peer_threads = 1;
  // The forked peer runs only on these CPUs, serving thread k on the k-th
  // (round-robin); empty: anywhere.
  std::vector<int> peer_cpus;
};
inline constexpr uint32_t kMaxPeerThreads = 64;

// The server role's peer is a load generator. Each connection has its own
// schedule of request times; a request is sent at its time, or, when the
// model has not yet answered the connection's previous request, as soon as
// it has (one request in flight per connection, as an HTTP/1.1 client). Each
// response is verified byte for byte and timed twice: from the request's
// scheduled time (corrected: includes the time it waited for the model to
// catch up, so no coordinated omission) and from its actual send
// (uncorrected, what a closed-loop client would report).
struct GeneratorStats {
  uint64_t sent = 0;       // requests sent in the window
  uint64_t responses = 0;  // responses received whole and verified
  uint64_t bad_bytes = 0;  // responses with a wrong byte (0 in a good run)
  // Connections it closed since it started (not per window): the model
  // closed them, or sent a wrong byte or one nobody asked for (0 in a good run).
  uint64_t closed = 0;
  Histogram corrected;    // ns from scheduled time to the response's last byte
  Histogram uncorrected;  // ns from the send to the response's last byte
  // How late the generator itself sent requests whose connection was free:
  // its own lag, not the model's (p99 and max, ns).
  uint64_t send_late_p99_ns = 0, send_late_max_ns = 0;
  // Requests scheduled in the window but not yet sent when it was read,
  // because their connection still waited for the model.
  uint64_t behind = 0;
  // From the window's start to the scheduled time of the latest request sent
  // in it: how long the schedule of the requests served took. A model that
  // keeps up finishes just after it; wall / span > 1 says by how much it lagged.
  uint64_t sched_span_ns = 0;
  double offered_per_s = 0;
  Arrivals arrivals = Arrivals::kUniform;
};

// What the peer saw of a program run under --exec (docs/protocol.md): the
// rules it broke, counted, and each connection's turnaround. A request that
// breaks a rule is never served: its connection is closed (refused_conns).
struct ExecPeerStats {
  uint64_t first_request_ns = 0;  // CLOCK_MONOTONIC; 0: no request came
  uint64_t last_response_ns = 0;  // the last response's last byte written
  uint64_t complete_conns = 0;    // connections whose every request was served
  uint64_t early = 0;             // a request before the previous response was out
  uint64_t wrong_conn = 0;        // an index out of range, changed, or another's
  uint64_t wrong_size = 0;        // a size other than the workload's
  uint64_t wrong_id = 0;          // an id out of order
  uint64_t extra = 0;             // requests beyond the workload's count
  uint64_t refused_conns = 0;     // connections closed unanswered: a request broke a rule
  Histogram turnaround;           // ns: a response's last byte -> the next request
  uint64_t errors() const { return early + wrong_conn + wrong_size + wrong_id + extra; }
};

// What the peer says about itself over a window (since the last reset).
struct PeerStats {
  uint64_t requests = 0;
  uint64_t wall_ns = 0;
  uint64_t cpu_ns = 0;  // the peer process's own CPU, never charged to the model
  uint64_t late_p50_ns = 0, late_p99_ns = 0, late_max_ns = 0;  // send time - due time
  uint64_t spin_ns = 0;                                        // its spin-before-deadline setting
  // Deadlines nearer than this (its measured sleep overshoot) it polls for
  // instead of sleeping: a bounded busy wait, in its CPU.
  uint64_t poll_horizon_ns = 0;
  PeerLoop loop = PeerLoop::kEpollWrite;  // how the peer moved bytes
  uint64_t protocol_errors = 0;
  // What the peer's limits turned away (since it started, not per window):
  // connections over its limit, hellos with a wrong token, connections
  // closed idle, and times it stopped reading a connection that did not read.
  uint64_t refused = 0, bad_token = 0, idle_closed = 0, throttled = 0;
  // Bytes a stopped connection had already been given past the few receive
  // buffers' worth it may hold (the io_uring loop: what its multishot
  // receive completed before the cancel landed), kept and parsed later all
  // the same. The epoll loop reads no more than there is room for: 0.
  uint64_t held_over = 0;
  // The serving threads, over every peer, and the busiest one's own CPU in
  // the window (with one thread, the process's: cpu_ns).
  uint32_t threads = 1;
  uint64_t busiest_cpu_ns = 0;
  bool remote = false;
  bool none = false;  // the file transport: no peer, so every figure above is 0
  // The server role: what the load generator saw.
  std::shared_ptr<const GeneratorStats> generator;
  // A program run under --exec: what the peer checked.
  std::shared_ptr<const ExecPeerStats> exec;
  // Several remote peers (run --peer A,B): what each reported, in the order
  // given; the figures above are their sum (counts, CPU), the longest window,
  // and the worst lateness. Empty with one peer.
  struct Part {
    std::string address;
    uint64_t requests = 0, wall_ns = 0, cpu_ns = 0, late_p99_ns = 0, late_max_ns = 0;
    uint32_t threads = 1;
  };
  std::vector<Part> parts;
  double cpu_util() const { return wall_ns ? static_cast<double>(cpu_ns) / wall_ns : 0; }
  // The peer's CPU per response it sent, in microseconds.
  double cpu_us_per_req() const {
    return requests ? static_cast<double>(cpu_ns) / 1e3 / static_cast<double>(requests) : 0;
  }
  // At >= 90% of a core the peer, not the model, sets the pace; with several
  // threads, when its busiest thread is there.
  bool peer_bound() const {
    if (threads <= 1) return cpu_util() >= 0.9;
    return wall_ns != 0 && static_cast<double>(busiest_cpu_ns) / wall_ns >= 0.9;
  }
};

// Everything a running peer is told: the settings, its descriptors, and the
// rules of a network-facing peer.
struct PeerOptions : PeerSettings {
  int listen_fd = -1;   // accept connections from here (tcp)
  int stop_fd = -1;     // readable = shut down (a signalfd for `iomodels peer`)
  int control_fd = -1;  // the local parent's control socket: closed = shut down
  // The network-facing peer's rules (`iomodels peer`); 0 or empty = none.
  std::string token;             // each connection presents it first (hello.h)
  uint32_t max_connections = 0;  // accepted beyond this: closed at once, counted
  uint32_t max_queued = 0;       // responses owed per connection; beyond, reading stops
  uint64_t idle_timeout_ns = 0;  // no byte in or out this long: closed, counted
  // When set, the loop's statistics (since its last reset) are left here when it returns.
  PeerStats* final_stats = nullptr;
  // One thread of a sharded peer (peer_threads > 1): its group and index.
  detail::ShardGroup* shards = nullptr;
  uint32_t shard = 0;
};

// Runs the peer's event loop over the connections it already has (read fd,
// write fd; set up by Workload) and those it accepts; returns when stop_fd
// fires or control_fd closes. Returns a process exit code.
int run_peer_loop(const PeerOptions& opts, std::vector<std::pair<int, int>> conns,
                  std::string* why);

// Raises RLIMIT_NOFILE's soft limit to the hard limit (once) and returns the
// soft limit now in force.
uint64_t raise_fd_limit();

}  // namespace iomodels
