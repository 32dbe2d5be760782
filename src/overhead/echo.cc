// Description: the peer's floor (echo.h): the connections made here, a
// forked process answering each request with one io_uring (a receive, then
// a send of the response bytes, one submit-and-wait per turn, every ready
// completion reaped), and the minimal client loop driving it.
#include "overhead/echo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <vector>

#include "measure/recorder.h"
#include "sys/cpus.h"
#include "sys/fd.h"
#include "sys/process.h"
#include "sys/time.h"

namespace iomodels::overhead {
namespace {

// One connection as the echo sees it.
struct EchoConn {
  int rfd = -1;  // requests arrive here
  int wfd = -1;  // responses leave here
  uint8_t request[sizeof(Request)];
  uint32_t have = 0;  // request bytes so far
  uint32_t sent = 0;  // response bytes so far
  bool open = true;
};

constexpr uint64_t kSendBit = 1;

// The echo's loop, in the forked child: every buffer exists already, so
// nothing here allocates. Returns its exit code.
int echo_loop(std::vector<EchoConn>& conns, const std::vector<uint8_t>& response, bool socket) {
  const size_t n = conns.size();
  io_uring ring{};
  bool cqe_skip = false;
  if (init_minimal_ring(&ring, n, &cqe_skip) < 0) return 3;
  const auto sqe = [&ring]() {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (s == nullptr) {
      io_uring_submit(&ring);
      s = io_uring_get_sqe(&ring);
    }
    return s;
  };
  const auto recv = [&](uint32_t i) {
    EchoConn& c = conns[i];
    io_uring_sqe* s = sqe();
    const auto left = static_cast<unsigned>(sizeof c.request - c.have);
    if (socket)
      io_uring_prep_recv(s, c.rfd, c.request + c.have, left, 0);
    else
      io_uring_prep_read(s, c.rfd, c.request + c.have, left, 0);
    io_uring_sqe_set_data64(s, uint64_t{i} << 1);
  };
  const auto send = [&](uint32_t i) {
    EchoConn& c = conns[i];
    io_uring_sqe* s = sqe();
    const auto left = static_cast<unsigned>(response.size() - c.sent);
    if (socket)
      io_uring_prep_send(s, c.wfd, response.data() + c.sent, left, MSG_NOSIGNAL);
    else
      io_uring_prep_write(s, c.wfd, response.data() + c.sent, left, 0);
    io_uring_sqe_set_data64(s, (uint64_t{i} << 1) | kSendBit);
  };
  for (uint32_t i = 0; i < n; ++i) recv(i);
  size_t open = n;
  while (open > 0) {
    const int w = io_uring_submit_and_wait(&ring, 1);
    if (w < 0 && w != -EINTR) return 4;
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const auto i = static_cast<uint32_t>(cqe->user_data >> 1);
      EchoConn& c = conns[i];
      if (cqe->res <= 0) {  // the client closed (the end), or an error
        if (c.open) --open;
        c.open = false;
        continue;
      }
      const auto got = static_cast<uint32_t>(cqe->res);
      if ((cqe->user_data & kSendBit) == 0) {
        c.have += got;
        if (c.have < sizeof c.request) {
          recv(i);
        } else {
          c.have = c.sent = 0;
          send(i);
        }
      } else {
        c.sent += got;
        if (c.sent < response.size())
          send(i);
        else
          recv(i);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
  return 0;
}

// N connections of `t`: the client's ends in *client, the echo's in *echo;
// every descriptor owned by *owned.
Status make_conns(Transport t, uint32_t n, std::vector<ClientConn>* client,
                  std::vector<EchoConn>* echo, std::vector<Fd>* owned) {
  Fd listener;
  sockaddr_in a{};
  socklen_t alen = sizeof a;
  if (t == Transport::kTcp) {
    listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        ::listen(listener.get(), 4096) < 0 ||
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &alen) < 0)
      return Status::from_errno(-errno, "echo: listening on 127.0.0.1");
  }
  const int one = 1;
  for (uint32_t i = 0; i < n; ++i) {
    int c = -1, e = -1, c2 = -1, e2 = -1;
    if (t == Transport::kSocketpair) {
      int p[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
        return Status::from_errno(-errno, "echo: socketpair");
      c = c2 = p[0];
      e = e2 = p[1];
    } else if (t == Transport::kPipe) {
      int req[2], resp[2];
      if (::pipe2(req, O_CLOEXEC) < 0) return Status::from_errno(-errno, "echo: pipe2");
      if (::pipe2(resp, O_CLOEXEC) < 0) {
        ::close(req[0]);
        ::close(req[1]);
        return Status::from_errno(-errno, "echo: pipe2");
      }
      c = resp[0];   // the client reads responses
      c2 = req[1];   // and writes requests
      e = req[0];    // the echo reads requests
      e2 = resp[1];  // and writes responses
    } else {
      c = c2 = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), alen) < 0) {
        const int err = errno;
        if (c >= 0) ::close(c);
        return Status::from_errno(-err, "echo: connecting on loopback");
      }
      e = e2 = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (e < 0) {
        const int err = errno;
        ::close(c);
        return Status::from_errno(-err, "echo: accept");
      }
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::setsockopt(e, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    for (int fd : {c, c2 == c ? -1 : c2, e, e2 == e ? -1 : e2})
      if (fd >= 0) owned->emplace_back(fd);
    client->push_back(ClientConn{c, c2, i});
    EchoConn ec;
    ec.rfd = e;
    ec.wfd = e2;
    echo->push_back(ec);
  }
  return {};
}

}  // namespace

Status measure_echo(const MinimalOptions& o, EchoResult* out) {
  const WorkloadOptions& wo = o.workload;
  if (wo.transport == Transport::kFile)
    return Status::not_applicable("the file transport has no peer to set a floor under");
  if (wo.role != Role::kClient)
    return Status::not_applicable("the echo answers requests: the client role only");
  if (wo.latency.bound_ns() != 0)
    return Status::not_applicable("the echo answers at once: set the peer's latency to 0 (-l 0)");
  std::unique_ptr<MinimalLoop> loop = make_minimal_loop(o.mechanism);
  if (!loop) return Status::not_applicable("no minimal loop for this mechanism");

  std::vector<ClientConn> client;
  std::vector<EchoConn> echo;
  std::vector<Fd> owned;
  if (Status s = make_conns(wo.transport, wo.connections, &client, &echo, &owned); !s.ok())
    return s;
  const std::vector<uint8_t> response(wo.size, 0x5a);
  const bool socket = wo.transport != Transport::kPipe;
  ::signal(SIGPIPE, SIG_IGN);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status::from_errno(-errno, "echo: fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    if (!wo.peer_cpus.empty() && !sys::set_affinity(wo.peer_cpus).ok()) ::_exit(2);
    for (const ClientConn& c : client) {  // the client's ends are the parent's alone
      ::close(c.rfd);
      if (c.wfd != c.rfd) ::close(c.wfd);
    }
    ::_exit(echo_loop(echo, response, socket));
  }
  // The echo's ends are the child's alone: its end of file is the client's.
  for (const EchoConn& e : echo) {
    for (Fd& f : owned)
      if (f.get() == e.rfd || f.get() == e.wfd) f.reset();
  }
  const auto reap = [pid]() {
    int st = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid, &st, WNOHANG) == pid) return st;
      ::usleep(10'000);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    return st;
  };

  sys::CpuList saved;
  if (!o.cpus.empty()) {
    saved = sys::affinity();
    if (Status st = sys::set_affinity(o.cpus); !st.ok()) {
      owned.clear();
      reap();
      return st;
    }
  }
  const LoopConns conns{client, wo.size, wo.transport, nullptr};
  Status st = loop->setup(conns, o.timeout_ns);
  MinimalCount warm;
  if (st.ok()) st = loop->run(1, &warm);
  EchoResult r;
  // The echo's CPU clock, read from here in nanoseconds (/proc/PID/stat
  // counts in ticks of 10 ms: too coarse for a window this short).
  clockid_t clock{};
  const auto cpu_of = [&clock]() -> int64_t {
    timespec ts{};
    if (::clock_gettime(clock, &ts) != 0) return -1;
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  };
  if (st.ok() && ::clock_getcpuclockid(pid, &clock) != 0)
    st = Status::error("echo: clock_getcpuclockid: " + errno_text(-errno));
  int64_t cpu0 = 0, cpu1 = 0;
  if (st.ok()) {
    cpu0 = cpu_of();
    Recorder rec;
    rec.start();
    st = loop->run(o.rounds, &r.client.count);
    r.client.m = rec.stop();
    cpu1 = cpu_of();
  }
  if (!saved.empty()) sys::set_affinity(saved);
  loop.reset();
  owned.clear();  // the end of file that ends the echo
  const int status = reap();
  if (!st.ok()) return st;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Status::error("the minimal echo ended with " +
                         std::string(WIFEXITED(status)
                                         ? "status " + std::to_string(WEXITSTATUS(status))
                                         : "a signal"));
  const uint64_t want = o.rounds * wo.connections;
  if (r.client.count.requests != want || cpu0 < 0 || cpu1 < cpu0)
    return Status::error("the minimal echo: " + std::to_string(r.client.count.requests) +
                         " responses where " + std::to_string(want) + " were due");
  r.echo_us_per_req = static_cast<double>(cpu1 - cpu0) / 1e3 / static_cast<double>(want);
  *out = r;
  return {};
}

}  // namespace iomodels::overhead
