// Description: how a Workload hands a forked peer its ends of the
// connections: set-up messages on the local control socket
// (SOCK_SEQPACKET), each with descriptors attached (SCM_RIGHTS), then kGo.
#pragma once

#include <cstdint>

#include "peer/peer.h"
#include "sys/status.h"

namespace iomodels::detail {

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

// Sends one set-up message with `count` (at most kFdsPerMessage) descriptors.
Status send_setup(int sock, SetupKind kind, const int* fds, int count);

// The forked peer's side: receives descriptors on `control_fd` until kGo,
// then serves with `settings` (the load generator in the server role, the
// serving loop otherwise) until the parent closes the control socket. Never
// returns: the process exits with the loop's code.
[[noreturn]] void serve_forked_peer(int control_fd, const PeerSettings& settings);

}  // namespace iomodels::detail
