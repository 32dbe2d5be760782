// Description: run_peer_loop (peer.h): the io_uring loop where this kernel
// runs it, else the epoll loop, or the one asked for by name; on several
// threads (shards.h) when the peer is given more than one.
#include "peer/core.h"
#include "peer/peer.h"
#include "peer/shards.h"

namespace iomodels {
namespace {

// One thread's loop over its connections.
int serve_connections(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns,
                      std::string* why) {
  if (opts.peer_loop != PeerLoopChoice::kEpoll) {
    std::string no_uring;
    const int code = detail::run_uring_peer(opts, conns, &no_uring);
    if (code >= 0) {
      if (code != 0) *why = no_uring;
      return code;
    }
    if (opts.peer_loop == PeerLoopChoice::kUring) {
      *why = "the io_uring loop cannot run here: " + no_uring;
      return 1;
    }
  }
  return detail::run_epoll_peer(opts, conns, why);
}

}  // namespace

int run_peer_loop(const PeerOptions& opts, std::vector<std::pair<int, int>> conns,
                  std::string* why) {
  // Every client holds a descriptor here: take what the hard limit allows.
  raise_fd_limit();
  if (opts.peer_threads > 1 && opts.shards == nullptr)
    return detail::run_sharded(opts, std::move(conns), serve_connections, why);
  return serve_connections(opts, conns, why);
}

}  // namespace iomodels
