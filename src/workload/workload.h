// Description: the shared workload. A Workload owns the peer (a separate
// process playing the slow device, src/peer) and the client ends of N
// connections to it.
// Every model drives the same Workload; the peer never knows which model it serves.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "measure/histogram.h"
#include "peer/peer.h"
#include "sys/fd.h"
#include "sys/status.h"
#include "workload/parse.h"

namespace iomodels {

// pipe, socketpair and tcp connect to the peer process; `file` has no peer:
// each "connection" is one read in flight on a data file the workload made,
// and the device is the page cache (or the disk, with --direct).
enum class Transport { kPipe, kSocketpair, kTcp, kFile };
std::string_view transport_name(Transport t);
bool parse_transport(std::string_view text, Transport* out, std::string* why);
// The transports the peer serves (pipe, socketpair, tcp); not `file`.
std::span<const Transport> all_transports();

// The file transport's defaults: 256 MiB, in tmpfs.
inline constexpr uint64_t kDefaultFileBytes = 256ull << 20;
inline constexpr const char* kDefaultFileDir = "/dev/shm";
// An unnamed file (O_TMPFILE) in kDefaultFileDir holding the file
// transport's data: for a caller that hands its /proc/PID/fd/N path to other
// programs, and that nothing, not even kill -9, can leave behind.
Status make_unnamed_data_file(uint64_t bytes, Fd* out);
// Reads start at multiples of this (and, with --direct, are sized in them).
inline constexpr uint32_t kFileAlign = 4096;

// Everything a run's workload is: what the peer serves (PeerSettings, the
// base, handed whole to a forked peer) and how the client reaches it.
struct WorkloadOptions : PeerSettings {
  Transport transport = Transport::kSocketpair;
  // "HOST:PORT" of an `iomodels peer`, or several, comma-separated: the
  // connections then go round-robin (connection i to peer i % P), each peer
  // with a control connection of its own; tcp only.
  std::string remote;
  // Presented to the remote peer on every connection; with several peers,
  // one token each when it holds exactly as many comma-separated parts.
  std::string peer_token;
  // --- the file transport ---
  // Empty: an unnamed file (O_TMPFILE) in kDefaultFileDir, gone when the run
  // ends. Otherwise this path: created and filled if missing, reused if it
  // already holds iomodels' data of file_bytes, refused otherwise.
  std::string file_path;
  uint64_t file_bytes = kDefaultFileBytes;
  bool direct = false;  // O_DIRECT: past the page cache, to the device
  // --- a program run under `run --exec` (local peer) ---
  // tcp, off: the client role's peer listens but nothing connects here; the
  // program does (Workload::tcp_address). In the server role the listener is
  // the program's instead (program_listener()), and the load generator's
  // connections are made to it by connect_generator(). The other transports
  // always connect.
  bool connect = true;
  // The server role on tcp, local peer: the model listens itself (a
  // thread-per-core model's SO_REUSEPORT listeners, one per loop). No
  // connection is made at create(); once the model's listeners exist it calls
  // connect_generator_to(port), accepts, and finds each accepted socket's
  // connection with generator_conn(). conns() stays empty: the accepted
  // sockets are the model's.
  bool model_listens = false;
};

// One connection as the client sees it. For sockets rfd == wfd.
struct ClientConn {
  int rfd = -1;  // responses arrive here
  int wfd = -1;  // requests go here
  uint32_t index = 0;
};

class Workload {
 public:
  // Forks the peer (or connects to opts.remote) and opens every connection.
  // Refuses, with the reason, connection counts beyond RLIMIT_NOFILE.
  static Status create(const WorkloadOptions& opts, std::unique_ptr<Workload>* out);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  const WorkloadOptions& options() const { return opts_; }
  std::span<const ClientConn> conns() const { return conns_; }
  pid_t peer_pid() const { return peer_pid_; }
  // tcp with options().connect off: "127.0.0.1:PORT", where the peer listens
  // (client role) or the program will (server role).
  const std::string& tcp_address() const { return tcp_address_; }
  // The server role on tcp with options().connect off: the listening socket
  // (127.0.0.1, blocking) to hand to the program, and, once the program has
  // it, the generator's connections to it, made one by one and handed to the
  // load generator, which then starts its schedule. The listener stays open
  // here until the Workload goes.
  int program_listener() const { return program_listener_.get(); }
  Status connect_generator();
  // The server role on tcp with options().model_listens: the model's
  // listeners on 127.0.0.1:port exist (and accept while this runs, since a
  // listener's backlog is bounded); the generator's connections are made to
  // them one by one in index order, each one's own address noted, and handed
  // to the load generator, which then starts its schedule.
  Status connect_generator_to(uint16_t port);
  // Which of the generator's connections an accepted socket is: its peer's
  // address (getpeername on the accepted socket, or accept's address) is the
  // address the generator's socket was given (getsockname after connect).
  // False for an address that is none of them. Valid once
  // connect_generator_to() has returned.
  bool generator_conn(const sockaddr_in& peer, uint32_t* index) const;
  // Closes this process's copies of the client ends, once a program has its
  // own (the server role of run --exec): the program's close of a connection
  // is then the connection's end, which the generator sees. conns() keeps
  // the numbers, no longer open here.
  void close_client_ends() { owned_.clear(); }

  // The peer's statistics since the last reset; `reset` starts a new window.
  // Control traffic is not counted in the syscall counters.
  Status peer_stats(PeerStats* out, bool reset);

  // Kills the peer now (tests, the watchdog). Connections then see EOF/errors.
  void kill_peer();

  // The progress watchdog. While armed, a run that completes no request for
  // `timeout_ns` gets the peer killed, so every blocked call returns. Models
  // call note_progress() once per completed request.
  Status arm_watchdog(uint64_t timeout_ns);
  void disarm_watchdog();
  bool watchdog_fired() const { return watchdog_fired_.load(); }
  void note_progress() { progress_.fetch_add(1, std::memory_order_relaxed); }
  // Requests completed so far (what note_progress counted): how a model that
  // waits for its threads tells a long run from a stuck one.
  uint64_t progress() const { return progress_.load(std::memory_order_relaxed); }

 private:
  struct Watchdog;
  Workload() = default;
  Status start_local();
  Status start_remote();
  Status start_file();  // src/workload/datafile.cc
  Status connect_tcp(const std::string& host, uint16_t port, Fd* out);
  // connect_generator() and connect_generator_to(): the generator's
  // connections to host:port, in index order, each one's address noted.
  Status connect_generator_at(const std::string& host, uint16_t port);
  // The remote peers' statistics, merged (remote.cc).
  Status remote_stats(uint64_t cmd, PeerStats* out);
  void watchdog_loop(Watchdog* wd);

  WorkloadOptions opts_;
  pid_t peer_pid_ = -1;
  std::string tcp_address_;
  Fd control_;                           // the forked peer's control socket
  std::vector<Fd> controls_;             // each remote peer's control connection
  std::vector<std::string> peer_names_;  // and its HOST:PORT
  Fd program_listener_;
  // The generator's connections by their own address (IPv4 address << 16 |
  // port), sorted: (address, connection index).
  std::vector<std::pair<uint64_t, uint32_t>> generator_addrs_;
  std::vector<Fd> owned_;
  std::vector<ClientConn> conns_;

  std::unique_ptr<Watchdog> watchdog_;
  std::atomic<uint64_t> progress_{0};
  std::atomic<bool> watchdog_fired_{false};
};

// File descriptors this process needs for `connections` on `t` (client side).
uint64_t fds_needed(Transport t, uint32_t connections);

}  // namespace iomodels
