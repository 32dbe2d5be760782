// Description: a thread-per-core model's listeners in the server role on tcp
// (src/models/tpc_listen.cc): one listening socket per loop, all bound to one
// 127.0.0.1 port with SO_REUSEPORT, so that the kernel hands each incoming
// connection to one of them by a hash of its addresses (as nginx's
// `listen ... reuseport`, monoio and glommio do). Each loop accepts what its
// own listener was given; how many that is, is the kernel's choice.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "sys/fd.h"
#include "sys/status.h"

namespace iomodels::detail {

// A port for the listeners: a socket bound to 127.0.0.1:0 with SO_REUSEPORT,
// held by the caller until the listeners are bound to the same port. Bound
// but never listening, it takes no connection itself.
Status reserve_reuseport_port(Fd* holder, uint16_t* port);

// One loop's listener: 127.0.0.1:port, SO_REUSEPORT, non-blocking.
Status make_reuseport_listener(uint16_t port, Fd* out);

// A socket a loop accepted, and its peer's address (which connection it is:
// Workload::generator_conn).
struct Accepted {
  Fd fd;
  sockaddr_in peer{};
};

// What the loops share while they accept: the number of connections coming,
// how many are in so far, and an eventfd that becomes readable once they all
// are (or one loop failed, or the generator could not connect), which every
// loop polls beside its own listener. A loop cannot know its own share: it
// accepts until the connections of all loops add up.
class AcceptGate {
 public:
  Status init(uint32_t total);
  // Accepts from `listener` (non-blocking) until the gate opens, appending
  // to *out; an error after `timeout_ns` with nothing left to accept, or
  // when accept fails (which opens the gate for the others).
  Status accept_share(int listener, uint64_t timeout_ns, std::vector<Accepted>* out);
  // Opens the gate without all the connections: every loop stops accepting.
  void abort();
  bool aborted() const { return aborted_.load(std::memory_order_acquire); }
  uint32_t accepted() const { return accepted_.load(std::memory_order_acquire); }
  uint32_t total() const { return total_; }

 private:
  bool open() const { return aborted() || accepted() >= total_; }
  void wake_all();

  uint32_t total_ = 0;
  std::atomic<uint32_t> accepted_{0};
  std::atomic<bool> aborted_{false};
  Fd done_;  // eventfd: readable once the gate is open
};

}  // namespace iomodels::detail
