// Description: the peer's public entry points (peer.h): the names and parsers
// of its settings, the io_uring probe, the descriptor limit. The choice of
// loop is in choose_loop.cc, the statistics' wire form in wire.cc.
#include "peer/peer.h"

#include <sys/resource.h>

#include "sys/uring.h"

namespace iomodels {

std::string_view peer_loop_name(PeerLoop loop) {
  switch (loop) {
    case PeerLoop::kUring:
      return "io_uring";
    case PeerLoop::kEpollBatch:
      return "epoll + io_uring batch";
    case PeerLoop::kEpollWrite:
      return "epoll + write()";
  }
  return "?";
}

bool parse_peer_loop(std::string_view text, PeerLoopChoice* out, std::string* why) {
  if (text == "auto") {
    *out = PeerLoopChoice::kAuto;
  } else if (text == "uring" || text == "io_uring") {
    *out = PeerLoopChoice::kUring;
  } else if (text == "epoll") {
    *out = PeerLoopChoice::kEpoll;
  } else {
    *why = "'" + std::string(text) + "' is not one of auto, uring, epoll";
    return false;
  }
  return true;
}

std::string_view role_name(Role r) { return r == Role::kServer ? "server" : "client"; }

bool parse_role(std::string_view text, Role* out, std::string* why) {
  if (text == "client") {
    *out = Role::kClient;
  } else if (text == "server") {
    *out = Role::kServer;
  } else {
    *why = "'" + std::string(text) + "' is not one of client, server";
    return false;
  }
  return true;
}

std::string_view arrivals_name(Arrivals a) {
  return a == Arrivals::kPoisson ? "poisson" : "uniform";
}

bool parse_arrivals(std::string_view text, Arrivals* out, std::string* why) {
  if (text == "uniform") {
    *out = Arrivals::kUniform;
  } else if (text == "poisson") {
    *out = Arrivals::kPoisson;
  } else {
    *why = "'" + std::string(text) + "' is not one of uniform, poisson";
    return false;
  }
  return true;
}

bool uring_peer_available(std::string* why) {
  const sys::UringProbe& u = sys::uring_probe();
  if (!u.available) {
    *why = "io_uring is unavailable: " + u.reason;
    return false;
  }
  if (!u.recv_multishot) {
    *why = "this kernel lacks multishot receive with provided buffers";
    return false;
  }
  return true;
}

std::string peer_loop_text(PeerLoopChoice c) {
  if (c == PeerLoopChoice::kEpoll) return "epoll (chosen)";
  std::string why;
  if (uring_peer_available(&why)) return "io_uring";
  return "epoll (" + why + ")";
}

uint64_t raise_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace iomodels
