// Description: SO_REUSEPORT listeners for the thread-per-core loops, and the
// gate their accepting shares (src/models/tpc_listen.h). Set-up only: every
// call here happens before the first timed round.
#include "models/tpc_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "sys/sys.h"
#include "sys/time.h"

namespace iomodels::detail {

namespace {

// As the workload's own listener: the generator connects every connection
// before the first request, and up to 10,000 of them may land on one
// listener, accepted while they arrive.
constexpr int kTpcListenBacklog = 4096;

sockaddr_in tpc_loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// A TCP socket with SO_REUSEPORT bound to 127.0.0.1:port.
Status tpc_bound_reuseport(uint16_t port, int extra_flags, Fd* out) {
  const long sock = sys::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | extra_flags, 0);
  if (sock < 0) return Status::from_errno(sock, "socket(loop listener)");
  Fd fd(static_cast<int>(sock));
  const int one = 1;
  if (const long r = sys::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one); r < 0)
    return Status::from_errno(r, "setsockopt(SO_REUSEPORT)");
  const sockaddr_in a = tpc_loopback(port);
  if (const long r = sys::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a); r < 0)
    return Status::from_errno(r, "bind(127.0.0.1:" + std::to_string(port) + ", SO_REUSEPORT)");
  *out = std::move(fd);
  return {};
}

}  // namespace

Status reserve_reuseport_port(Fd* holder, uint16_t* port) {
  Fd fd;
  if (Status s = tpc_bound_reuseport(0, 0, &fd); !s.ok()) return s;
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0)
    return Status::from_errno(-errno, "getsockname(loop listeners' port)");
  *port = ntohs(a.sin_port);
  *holder = std::move(fd);
  return {};
}

Status make_reuseport_listener(uint16_t port, Fd* out) {
  Fd fd;
  if (Status s = tpc_bound_reuseport(port, SOCK_NONBLOCK, &fd); !s.ok()) return s;
  if (const long r = sys::listen(fd.get(), kTpcListenBacklog); r < 0)
    return Status::from_errno(r, "listen(127.0.0.1:" + std::to_string(port) + ")");
  *out = std::move(fd);
  return {};
}

Status AcceptGate::init(uint32_t total) {
  total_ = total;
  done_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!done_) return Status::from_errno(-errno, "eventfd(accept gate)");
  return {};
}

void AcceptGate::wake_all() {
  // Never read: once written, the eventfd stays readable for every poll.
  const uint64_t one = 1;
  [[maybe_unused]] const long w = sys::write(done_.get(), &one, sizeof one);
}

void AcceptGate::abort() {
  aborted_.store(true, std::memory_order_release);
  wake_all();
}

Status AcceptGate::accept_share(int listener, uint64_t timeout_ns, std::vector<Accepted>* out) {
  const uint64_t deadline = sys::monotonic_ns() + timeout_ns;
  for (;;) {
    // Everything this listener holds now.
    while (!open()) {
      Accepted a;
      socklen_t len = sizeof a.peer;
      // Blocking, like the workload's own ends: the loop's model sets the
      // flags it wants in its set-up.
      const long fd =
          sys::accept4(listener, reinterpret_cast<sockaddr*>(&a.peer), &len, SOCK_CLOEXEC);
      if (fd == -EAGAIN || fd == -EWOULDBLOCK) break;
      if (fd == -ECONNABORTED) continue;  // gone before it was accepted
      if (fd < 0) {
        abort();
        return Status::from_errno(fd, "accept4(loop listener)");
      }
      a.fd.reset(static_cast<int>(fd));
      // As the workload's connections: a response leaves at once.
      const int one = 1;
      sys::setsockopt(a.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      out->push_back(std::move(a));
      if (accepted_.fetch_add(1, std::memory_order_acq_rel) + 1 == total_) wake_all();
    }
    if (open()) return {};
    const uint64_t now = sys::monotonic_ns();
    if (now >= deadline) {
      abort();
      return Status::error(
          "accepting the load generator's connections: " + std::to_string(accepted()) + " of " +
          std::to_string(total_) + " in after " + std::to_string(timeout_ns / sys::kNsPerSecond) +
          " s (--timeout)");
    }
    pollfd p[2] = {{listener, POLLIN, 0}, {done_.get(), POLLIN, 0}};
    const auto wait_ms =
        static_cast<int>(std::min<uint64_t>((deadline - now) / 1'000'000 + 1, 1'000'000));
    if (const long r = sys::poll(p, 2, wait_ms); r < 0) {
      abort();
      return Status::from_errno(r, "poll(loop listener)");
    }
  }
}

}  // namespace iomodels::detail
