// Description: both ends of the set-up protocol between a Workload and the
// peer it forks (setup.h).
#include "peer/setup.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "peer/core.h"

namespace iomodels::detail {

Status send_setup(int sock, SetupKind kind, const int* fds, int count) {
  SetupHeader h{kind, static_cast<uint32_t>(count)};
  iovec iov{&h, sizeof h};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * kFdsPerMessage)];
  if (count > 0) {
    msg.msg_control = ctrl;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
  }
  ssize_t r;
  do {
    r = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Status::from_errno(-errno, "sending descriptors to the peer");
  return {};
}

void serve_forked_peer(int control_fd, const PeerSettings& settings) {
  std::vector<std::pair<int, int>> conns;
  PeerOptions po;
  static_cast<PeerSettings&>(po) = settings;
  po.control_fd = control_fd;
  for (;;) {
    SetupHeader h{};
    iovec iov{&h, sizeof h};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * kFdsPerMessage)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
    ssize_t r;
    do {
      r = ::recvmsg(control_fd, &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r != static_cast<ssize_t>(sizeof h)) ::_exit(3);  // the parent went away mid-set-up
    if (h.kind == SetupKind::kGo) break;
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* p = reinterpret_cast<const int*>(CMSG_DATA(c));
      fds.insert(fds.end(), p, p + n);
    }
    if (h.kind == SetupKind::kSockets) {
      for (int fd : fds) conns.emplace_back(fd, fd);
    } else if (h.kind == SetupKind::kPipes) {
      for (size_t i = 0; i + 1 < fds.size(); i += 2) conns.emplace_back(fds[i], fds[i + 1]);
    } else if (h.kind == SetupKind::kListen && !fds.empty()) {
      po.listen_fd = fds[0];
    }
  }
  // A thread without connections would only wait: no more threads than
  // connections.
  po.peer_threads = std::clamp<uint32_t>(po.peer_threads, 1, std::max<uint32_t>(po.connections, 1));
  std::string why;
  const int code = po.role == Role::kServer ? run_generator(po, conns, &why)
                                            : run_peer_loop(po, std::move(conns), &why);
  if (code != 0) {
    const std::string line = "iomodels peer: " + why + "\n";
    [[maybe_unused]] auto w = ::write(2, line.data(), line.size());
  }
  ::_exit(code);
}

}  // namespace iomodels::detail
