// Description: the peer process and the Workload, driven by a client that knows
// only the wire protocol: payloads verified on every transport, responses due
// together (in order, with and without io_uring), the peer's death with its
// parent, no leaked descriptors or zombies, its statistics, bad options and the
// RLIMIT_NOFILE refusal, and connections that break, close or half-close.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "peer/payload.h"
#include "peer_util.h"
#include "util.h"
#include "workload/workload.h"

using namespace iomodels;

TEST_CASE("the peer answers with verified payloads on every transport", "[peer]") {
  for (Transport t : all_transports()) {
    for (uint32_t size : {1u, 4096u, 300'000u, kMaxResponseBytes}) {
      DYNAMIC_SECTION(transport_name(t) << ", " << size << " bytes") {
        auto w = test::make_workload(t, 4, size, "0");
        REQUIRE(w->conns().size() == 4);
        for (const ClientConn& c : w->conns()) {
          if (t == Transport::kPipe) {
            CHECK(c.rfd != c.wfd);
          } else {
            CHECK(c.rfd == c.wfd);
          }
        }
        test::WireClient cl(*w);
        std::string err;
        const int rounds = size >= 300'000 ? 3 : 20;
        for (int r = 0; r < rounds; ++r) {
          INFO("round " << r << ": " << err);
          REQUIRE(cl.round(*w, size, nullptr, &err));
        }
        // Several requests in flight on one connection come back in order.
        const ClientConn& c = w->conns()[0];
        uint64_t ids[3];
        for (uint64_t& id : ids) REQUIRE(cl.send(c, size, &id));
        for (uint64_t id : ids) {
          const bool ok = cl.receive(c, size, id, &err);
          INFO("request " << id << ": " << err);
          REQUIRE(ok);
        }
        PeerStats ps;
        REQUIRE(w->peer_stats(&ps, false).ok());
        CHECK(ps.requests == static_cast<uint64_t>(4 * rounds + 3));
        CHECK(ps.protocol_errors == 0);
      }
    }
  }
}

// Responses that fall due at about the same moment leave together (one
// io_uring batch where the kernel has it): each must still arrive whole,
// verified and in order on its connection, large ones (several writes, a
// full socket) included, and none before it is due.
TEST_CASE("the peer's responses that fall due together arrive whole and in order", "[peer]") {
  for (Transport t : all_transports()) {
    for (uint32_t size : {64u, 300'000u}) {
      DYNAMIC_SECTION(transport_name(t) << ", " << size << " bytes") {
        auto w = test::make_workload(t, 16, size, "1ms");
        test::WireClient cl(*w);
        std::vector<uint64_t> lat;
        std::string err;
        for (int r = 0; r < 5; ++r) {
          INFO("round " << r << ": " << err);
          REQUIRE(cl.round(*w, size, &lat, &err));
        }
        REQUIRE(lat.size() == 16 * 5);
        CHECK(*std::min_element(lat.begin(), lat.end()) >= 1'000'000);
        // Three requests in flight on each of two connections: six responses
        // due together, three queued behind each other per connection, read
        // one connection after the other.
        uint64_t ids[2][3];
        for (int c = 0; c < 2; ++c)
          for (uint64_t& id : ids[c]) REQUIRE(cl.send(w->conns()[c], size, &id));
        for (int c = 0; c < 2; ++c) {
          for (uint64_t id : ids[c]) {
            const bool ok = cl.receive(w->conns()[c], size, id, &err);
            INFO("connection " << c << ", request " << id << ": " << err);
            REQUIRE(ok);
          }
        }
        PeerStats ps;
        REQUIRE(w->peer_stats(&ps, false).ok());
        CHECK(ps.requests == 16 * 5 + 6);
        CHECK(ps.protocol_errors == 0);
      }
    }
  }
}

// Where io_uring is refused (a seccomp filter, as in some containers) the
// peer writes each due response with write(): the same rounds must pass.
// Runs in a child: the filter cannot be removed again.
TEST_CASE("without io_uring the peer still answers responses due together", "[peer]") {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (!test::deny_io_uring()) ::_exit(10);
    // The filter works: io_uring_setup fails with EPERM, not EFAULT.
    if (::syscall(__NR_io_uring_setup, 4, nullptr) != -1 || errno != EPERM) ::_exit(11);
    for (Transport t : all_transports()) {
      WorkloadOptions o;
      o.transport = t;
      o.connections = 16;
      o.size = 100'000;
      std::string why;
      if (!parse_latency("1ms", &o.latency, &why)) ::_exit(12);
      std::unique_ptr<Workload> w;
      if (!Workload::create(o, &w).ok()) ::_exit(13);
      test::WireClient cl(*w);
      std::string err;
      for (int r = 0; r < 5; ++r)
        if (!cl.round(*w, o.size, nullptr, &err)) ::_exit(14);
      PeerStats ps;
      if (!w->peer_stats(&ps, false).ok() || ps.requests != 16 * 5) ::_exit(15);
      // auto fell back to epoll and write(), and says so.
      if (ps.loop != PeerLoop::kEpollWrite) ::_exit(16);
    }
    ::_exit(0);
  }
  int st = 0;
  REQUIRE(::waitpid(child, &st, 0) == child);
  REQUIRE(WIFEXITED(st));
  // 10: no seccomp here; 11: the filter did not stop io_uring_setup; 13: no
  // workload; 14: a round failed; 15: wrong request count; 16: the wrong loop reported.
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("the peer dies with its parent", "[peer]") {
  // A middle process becomes the subreaper, so the orphaned peer is
  // reparented to it and can be reaped and examined there.
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  const pid_t middle = ::fork();
  REQUIRE(middle >= 0);
  if (middle == 0) {
    ::close(p[0]);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0, 0, 0);
    int q[2];
    if (::pipe(q) != 0) ::_exit(10);
    const pid_t owner = ::fork();
    if (owner == 0) {
      WorkloadOptions o;
      o.connections = 2;
      std::unique_ptr<Workload> w;
      if (!Workload::create(o, &w).ok()) ::_exit(11);
      const pid_t peer = w->peer_pid();
      [[maybe_unused]] auto n = ::write(q[1], &peer, sizeof peer);
      ::_exit(0);  // abruptly: no destructor kills the peer
    }
    pid_t peer = -1;
    if (::read(q[0], &peer, sizeof peer) != sizeof peer) ::_exit(12);
    [[maybe_unused]] auto n = ::write(p[1], &peer, sizeof peer);
    ::waitpid(owner, nullptr, 0);
    const uint64_t until = now_ns() + 2'000'000'000ull;
    while (now_ns() < until) {
      int st = 0;
      const pid_t r = ::waitpid(peer, &st, WNOHANG);
      // PR_SET_PDEATHSIG's SIGKILL, or the peer saw its control socket
      // close first (the kernel closes a dying process's files before it
      // signals the children) and exited by itself: either way it is gone.
      if (r == peer) ::_exit(WIFSIGNALED(st) || WIFEXITED(st) ? 0 : 13);
      ::usleep(1000);
    }
    ::kill(peer, SIGKILL);
    ::_exit(14);  // still alive after 2 s
  }
  ::close(p[1]);
  pid_t peer = -1;
  const bool got_pid = ::read(p[0], &peer, sizeof peer) == sizeof peer;
  ::close(p[0]);
  int st = 0;
  REQUIRE(::waitpid(middle, &st, 0) == middle);
  REQUIRE(got_pid);
  INFO("middle process exit status " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1)
                                     << " (14: still alive after 2 s)");
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  errno = 0;
  CHECK(::kill(peer, 0) == -1);
  CHECK(errno == ESRCH);
}

TEST_CASE("destroying a Workload leaks no descriptor, thread or zombie", "[peer]") {
  for (Transport t : all_transports()) {
    DYNAMIC_SECTION(transport_name(t)) {
      const int fds = test::open_fds();
      const int threads = test::threads_quiet();
      pid_t peer = -1;
      {
        auto w = test::make_workload(t, 16, 1000, "0");
        peer = w->peer_pid();
        CHECK(peer > 0);
        CHECK(test::open_fds() > fds);
        REQUIRE(w->arm_watchdog(10'000'000'000ull).ok());  // starts its thread
        test::WireClient cl(*w);
        std::string err;
        REQUIRE(cl.round(*w, 1000, nullptr, &err));
        w->disarm_watchdog();
      }
      CHECK(test::open_fds() == fds);
      CHECK(test::threads_settled(threads) == threads);
      errno = 0;
      CHECK(::waitpid(peer, nullptr, WNOHANG) == -1);
      CHECK(errno == ECHILD);  // reaped, not a zombie
      CHECK(::access(("/proc/" + std::to_string(peer)).c_str(), F_OK) != 0);
    }
  }
}

TEST_CASE("peer_stats reports requests, CPU and lateness, and resets", "[peer]") {
  // A peer that mostly waits out its latency: its CPU stays well under the
  // window's wall time even under ASan, where filling 64 KiB responses made
  // it nearly busy (CPU and wall within a few percent).
  auto w = test::make_workload(Transport::kSocketpair, 4, 4096, "1ms");
  PeerStats ps;
  REQUIRE(w->peer_stats(&ps, true).ok());
  test::WireClient cl(*w);
  std::string err;
  for (int r = 0; r < 50; ++r) REQUIRE(cl.round(*w, 4096, nullptr, &err));
  REQUIRE(w->peer_stats(&ps, false).ok());
  CHECK(ps.requests == 200);
  CHECK(ps.cpu_ns > 0);
  CHECK(ps.wall_ns >= 50 * 1'000'000ull);
  CHECK(ps.cpu_ns < ps.wall_ns);
  CHECK(ps.late_max_ns >= ps.late_p99_ns);
  CHECK(ps.late_p99_ns >= ps.late_p50_ns);
  CHECK(ps.late_p99_ns < 50'000'000);
  CHECK(ps.protocol_errors == 0);
  CHECK_FALSE(ps.remote);
  CHECK_FALSE(ps.peer_bound());
  // A stats request with reset returns the old window and starts a new one.
  REQUIRE(w->peer_stats(&ps, true).ok());
  CHECK(ps.requests == 200);
  REQUIRE(w->peer_stats(&ps, false).ok());
  CHECK(ps.requests == 0);
}

TEST_CASE("the peer closes a connection that breaks the protocol", "[peer]") {
  auto w = test::make_workload(Transport::kSocketpair, 2, 64, "0");
  const ClientConn& bad = w->conns()[0];
  const Request rq{bad.index, 0, 1};  // size 0 is not a request
  REQUIRE(test::send_all(bad.wfd, &rq, sizeof rq));
  REQUIRE(test::wait_ready(bad.rfd, POLLIN));
  char c;
  CHECK(::read(bad.rfd, &c, 1) == 0);  // EOF: the peer hung up
  PeerStats ps;
  REQUIRE(w->peer_stats(&ps, false).ok());
  CHECK(ps.protocol_errors == 1);
  // The other connection is unaffected.
  test::WireClient cl(*w);
  uint64_t id;
  std::string err;
  REQUIRE(cl.send(w->conns()[1], 64, &id));
  CHECK(cl.receive(w->conns()[1], 64, id, &err));
}

TEST_CASE("Workload refuses bad options with a clear message", "[peer]") {
  WorkloadOptions o;
  std::unique_ptr<Workload> w;
  o.connections = 0;
  CHECK_FALSE(Workload::create(o, &w).ok());
  o.connections = kMaxConnections + 1;
  CHECK_FALSE(Workload::create(o, &w).ok());
  o.connections = 1;
  o.size = 0;
  CHECK_FALSE(Workload::create(o, &w).ok());
  o.size = kMaxResponseBytes + 1;
  CHECK_FALSE(Workload::create(o, &w).ok());
  o.size = 64;
  o.remote = "127.0.0.1:1";
  o.transport = Transport::kPipe;
  const Status s = Workload::create(o, &w);
  CHECK_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains("tcp"));
  CHECK(w == nullptr);
}

TEST_CASE("connections beyond RLIMIT_NOFILE are refused with the reason", "[peer]") {
  // raise_fd_limit() lifts the soft limit to the hard one, so the hard limit
  // is lowered, in a child process: it cannot be raised again.
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(p[0]);
    rlimit rl{256, 256};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(10);
    WorkloadOptions o;
    o.connections = 1000;
    std::unique_ptr<Workload> w;
    const Status s = Workload::create(o, &w);
    const std::string msg = s.ok() ? "(created)" : s.message();
    [[maybe_unused]] auto n = ::write(p[1], msg.data(), msg.size());
    ::_exit(s.ok() ? 11 : 0);
  }
  ::close(p[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int st = 0;
  REQUIRE(::waitpid(child, &st, 0) == child);
  INFO(msg);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK_THAT(msg, Catch::Contains("RLIMIT_NOFILE"));
  CHECK_THAT(msg, Catch::Contains("1000"));
}

// A peer that dies lets go of every connection at once, whichever loop it ran
// (descriptors its io_uring still held included): the client sees end of
// file and its writes fail, rather than waiting on a connection nobody holds.
void check_death_closes_everything(Transport t, PeerLoopChoice loop) {
  auto w = test::make_workload(t, 8, 4096, "1ms", loop);
  test::WireClient cl(*w);
  std::string err;
  for (int r = 0; r < 3; ++r) REQUIRE(cl.round(*w, 4096, nullptr, &err));
  // Requests in flight when the peer dies: their responses never come.
  for (const ClientConn& c : w->conns()) {
    uint64_t id;
    REQUIRE(cl.send(c, 4096, &id));
  }
  w->kill_peer();
  for (const ClientConn& c : w->conns()) {
    INFO("connection " << c.index);
    pollfd p{c.rfd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 2000) == 1);
    CHECK((p.revents & (POLLHUP | POLLIN | POLLERR)) != 0);
    // A response that left before the peer died (its 1 ms may pass before
    // the kill on a loaded machine) may come first; then the end of file.
    ssize_t n = 0;
    for (int i = 0; i < 64; ++i) {
      n = ::read(c.rfd, cl.buf.data(), cl.buf.size());
      if (n <= 0) break;
      pollfd more{c.rfd, POLLIN, 0};
      if (::poll(&more, 1, 2000) != 1) break;
    }
    CHECK(n <= 0);
    // Nobody reads requests any more: a write fails (EPIPE), at once or, for
    // a socket, once the kernel has seen the reset.
    const Request rq{c.index, 4096, 999};
    ssize_t wr = 0;
    for (int i = 0; i < 200 && wr >= 0; ++i) {
      wr = ::send(c.wfd, &rq, sizeof rq, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (wr < 0 && errno == ENOTSOCK) wr = ::write(c.wfd, &rq, sizeof rq);
      if (wr >= 0) ::usleep(10'000);
    }
    CHECK(wr < 0);
  }
}

TEST_CASE("a killed peer closes every connection whichever loop it ran", "[peer]") {
  std::string why;
  for (Transport t : all_transports()) {
    for (PeerLoopChoice loop : {PeerLoopChoice::kUring, PeerLoopChoice::kEpoll}) {
      if (loop == PeerLoopChoice::kUring && !uring_peer_available(&why)) continue;
      DYNAMIC_SECTION(transport_name(t)
                      << (loop == PeerLoopChoice::kUring ? ", io_uring" : ", epoll")) {
        check_death_closes_everything(t, loop);
      }
    }
  }
}

// A client that sends its last requests and then shuts its sending side
// gets every response, then the end of file: the peer neither drops the
// answers nor keeps the connection open forever.
void check_half_close(Transport t, PeerLoopChoice loop) {
  auto w = test::make_workload(t, 2, 4096, "1ms", loop);
  test::WireClient cl(*w);
  const ClientConn& c = w->conns()[0];
  uint64_t ids[3];
  for (uint64_t& id : ids) REQUIRE(cl.send(c, 4096, &id));
  REQUIRE(::shutdown(c.wfd, SHUT_WR) == 0);
  std::string err;
  for (uint64_t id : ids) {
    const bool ok = cl.receive(c, 4096, id, &err);
    INFO("request " << id << ": " << err);
    REQUIRE(ok);
  }
  pollfd p{c.rfd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  CHECK(::read(c.rfd, cl.buf.data(), cl.buf.size()) == 0);
  // The other connection is untouched.
  REQUIRE(cl.send(w->conns()[1], 64, &ids[0]));
  const bool ok = cl.receive(w->conns()[1], 64, ids[0], &err);
  INFO(err);
  CHECK(ok);
}

TEST_CASE("a client that shuts its sending side gets its responses then end of file", "[peer]") {
  std::string why;
  for (Transport t : all_transports()) {
    if (t == Transport::kPipe) continue;  // a pipe has no half-close: its end is its close
    for (PeerLoopChoice loop : {PeerLoopChoice::kUring, PeerLoopChoice::kEpoll}) {
      if (loop == PeerLoopChoice::kUring && !uring_peer_available(&why)) continue;
      DYNAMIC_SECTION(transport_name(t)
                      << (loop == PeerLoopChoice::kUring ? ", io_uring" : ", epoll")) {
        check_half_close(t, loop);
      }
    }
  }
}
