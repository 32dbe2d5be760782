// Description: the standalone peer facing hostile clients: a token owed
// before anything is served, backpressure on a client that never reads,
// idle and connection limits, SIGHUP, and a soak of good clients among
// hostile ones with descriptors and memory flat at the end. Both loops.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "peer_client.h"
#include "util.h"

using namespace iomodels;

namespace {

std::vector<std::string> loops() {
  std::vector<std::string> v = {"epoll"};
  std::string why;
  if (uring_peer_available(&why)) v.insert(v.begin(), "uring");
  return v;
}

// How much a peer's RSS may grow under hostile clients: what each connection
// may cost it, times the connections, and a fixed slack. A connection that
// asks and never reads costs the peer its queue of max_queued responses owed
// (a few dozen bytes each), the send buffer of the response in flight (64
// KiB), and, in the io_uring loop, the bytes received before its receive was
// cancelled (a few receive buffers, and what the kernel had completed before
// the cancel landed: up to one wakeup's batch, 32 buffers of 4 KiB): 256 KiB
// is room for all of it. What it sends beyond that waits in the kernel's
// buffer. The sanitizers' allocators keep freed blocks back (ASan's
// quarantine) and map shadow memory beside what is touched, so a sanitized
// peer's RSS counts much of what was ever allocated, not only what is held.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr long kRssPerConnKiB = 3 * 256;
constexpr long kRssSlackKiB = 40 * 1024;
#else
constexpr long kRssPerConnKiB = 256;
constexpr long kRssSlackKiB = 4 * 1024;
#endif
long rss_limit_kib(long connections) { return connections * kRssPerConnKiB + kRssSlackKiB; }

// VmRSS of a process, in KiB.
long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long v = 0;
  while (f >> key) {
    if (key == "VmRSS:") {
      f >> v;
      return v;
    }
    f.ignore(1 << 20, '\n');
  }
  return -1;
}

// One request for `size` bytes on `fd`, answered and verified within 2 s;
// the time it took in microseconds, or -1.
double exchange_us(int fd, uint32_t conn, uint64_t id, uint32_t size) {
  const auto t0 = std::chrono::steady_clock::now();
  const Request rq{conn, size, id};
  if (::send(fd, &rq, sizeof rq, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof rq)) return -1;
  std::vector<uint8_t> buf(size);
  size_t got = 0;
  while (got < size) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return -1;
    const ssize_t n = ::read(fd, buf.data() + got, size - got);
    if (n <= 0) return -1;
    got += static_cast<size_t>(n);
  }
  if (verify_payload(conn, id, 0, buf.data(), size) != size) return -1;
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("the peer refuses to listen beyond loopback without a token", "[hostile]") {
  const auto r = test::run_iomodels("peer --listen 0.0.0.0:0");
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.out.rfind("iomodels: error: --token: ", 0) == 0);
  const auto long_token = test::run_iomodels("peer --token " + std::string(33, 'x'));
  CHECK(long_token.exit_code == 2);
}

TEST_CASE("with a token nothing is served before a connection presents it", "[hostile]") {
  for (const std::string& loop : loops()) {
    INFO("loop " << loop);
    test::StandalonePeer peer({"--latency", "0", "--loop", loop, "--token", "sesame"});
    REQUIRE(peer.port != 0);
    // A request, or a statistics-and-reset request, before the hello: the
    // connection is closed unanswered.
    for (const Request rq : {Request{0, 64, 1}, Request{kControlConn, 0, 2}}) {
      const int fd = test::connect_to(peer.port);
      REQUIRE(fd >= 0);
      ::send(fd, &rq, sizeof rq, MSG_NOSIGNAL);
      CHECK(test::closed_by_peer(fd, 2000));
      ::close(fd);
    }
    CHECK(test::hello(peer.port, "not sesame") < 0);
    CHECK(test::hello(peer.port, "") < 0);
    const int fd = test::hello(peer.port, "sesame");
    REQUIRE(fd >= 0);
    CHECK(exchange_us(fd, 0, 1, 4096) > 0);  // served once greeted
    ::close(fd);
    // run presents it: with it the run is served, without it refused by name.
    const std::string remote = "--peer 127.0.0.1:" + std::to_string(peer.port);
    const auto good =
        test::run_iomodels("run -t tcp -m epoll -c 4 -r 20 " + remote + " --peer-token sesame");
    INFO(good.out);
    CHECK(good.exit_code == 0);
    const auto bad = test::run_iomodels("run -t tcp -m epoll -c 4 -r 20 " + remote);
    INFO(bad.out);
    CHECK(bad.exit_code == 1);
    CHECK(bad.out.find("refused the connection") != std::string::npos);
    const std::string log = peer.stop();
    INFO(log);
    CHECK(log.find("5 with a missing or wrong token") != std::string::npos);
  }
}

TEST_CASE("a client that never reads is no longer read: the peer's memory stays bounded",
          "[hostile]") {
  // Several at once: the io_uring loop shares its receive buffers among
  // connections, and one that runs them out must not be read on regardless.
  constexpr int kNeverReaders = 8;
  for (const std::string& loop : loops()) {
    INFO("loop " << loop);
    test::StandalonePeer peer({"--latency", "0", "--loop", loop, "--max-queued", "1024"});
    REQUIRE(peer.port != 0);
    const long rss0 = rss_kib(peer.pid);
    std::vector<int> fds;
    for (int i = 0; i < kNeverReaders; ++i) {
      fds.push_back(test::connect_to(peer.port));
      REQUIRE(fds.back() >= 0);
      ::fcntl(fds.back(), F_SETFL, ::fcntl(fds.back(), F_GETFL) | O_NONBLOCK);
    }
    // 1 MiB asked for per 16-byte request, as fast as the peer takes them,
    // never a byte read back: 400,000 requests a connection without the limit.
    std::vector<Request> burst(4096);
    for (size_t i = 0; i < burst.size(); ++i) burst[i] = Request{0, 1u << 20, i};
    // Each stream stays whole: a short send goes on from where it stopped.
    const auto* bytes = reinterpret_cast<const uint8_t*>(burst.data());
    const size_t burst_bytes = burst.size() * sizeof(Request);
    std::vector<size_t> sent(kNeverReaders, 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < until) {
      bool any = false;
      for (int i = 0; i < kNeverReaders; ++i) {
        if (sent[i] >= 400'000 * sizeof(Request)) continue;
        const size_t at = sent[i] % burst_bytes;
        const ssize_t n = ::send(fds[i], bytes + at, burst_bytes - at, MSG_NOSIGNAL);
        if (n > 0) sent[i] += static_cast<size_t>(n);
        any = any || n > 0;
      }
      if (!any) ::usleep(1000);
    }
    // Meanwhile another client is served.
    const int other = test::connect_to(peer.port);
    REQUIRE(other >= 0);
    CHECK(exchange_us(other, 0, 7, 4096) > 0);
    ::close(other);
    const long rss1 = rss_kib(peer.pid);
    size_t least = sent[0], total = 0;
    for (size_t n : sent) {
      least = std::min(least, n);
      total += n;
    }
    INFO("sent " << total / sizeof(Request) << " requests on " << kNeverReaders
                 << " connections; peer RSS " << rss0 << " -> " << rss1 << " KiB (+" << rss1 - rss0
                 << ", limit " << rss_limit_kib(kNeverReaders) << ")");
    CHECK(least / sizeof(Request) > 2048);  // more than the limit was offered on each
    CHECK(rss1 - rss0 < rss_limit_kib(kNeverReaders));
    for (int fd : fds) ::close(fd);
    const std::string log = peer.stop();
    INFO(log);
    CHECK(log.find("stopped reading a connection 0 times") == std::string::npos);
    CHECK(log.find("; 0 malformed requests") != std::string::npos);  // the streams stayed whole
  }
}

TEST_CASE("a silent connection is closed after --idle-timeout", "[hostile]") {
  for (const std::string& loop : loops()) {
    INFO("loop " << loop);
    test::StandalonePeer peer({"--latency", "0", "--loop", loop, "--idle-timeout", "300ms"});
    REQUIRE(peer.port != 0);
    const int fd = test::connect_to(peer.port);
    REQUIRE(fd >= 0);
    CHECK(exchange_us(fd, 0, 1, 64) > 0);
    CHECK(test::closed_by_peer(fd, 3000));
    ::close(fd);
    const std::string log = peer.stop();
    CHECK(log.find("1 closed idle") != std::string::npos);
  }
}

TEST_CASE("connections beyond --max-connections are closed at once", "[hostile]") {
  for (const std::string& loop : loops()) {
    INFO("loop " << loop);
    test::StandalonePeer peer({"--latency", "0", "--loop", loop, "--max-connections", "3"});
    REQUIRE(peer.port != 0);
    std::vector<int> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(test::connect_to(peer.port));
      CHECK(exchange_us(held.back(), 0, 1, 64) > 0);
    }
    const int extra = test::connect_to(peer.port);
    REQUIRE(extra >= 0);
    CHECK(test::closed_by_peer(extra, 2000));
    ::close(extra);
    ::close(held.back());
    held.pop_back();
    bool again = false;  // a place is free again
    for (int i = 0; i < 20 && !again; ++i) {
      const int fd = test::connect_to(peer.port);
      again = exchange_us(fd, 0, 2, 64) > 0;
      ::close(fd);
      if (!again) ::usleep(50'000);
    }
    CHECK(again);
    for (int fd : held) ::close(fd);
    const std::string log = peer.stop();
    CHECK(log.find("0 connections over the limit") == std::string::npos);
  }
}

TEST_CASE("SIGHUP is logged and the peer goes on serving", "[hostile]") {
  test::StandalonePeer peer({"--latency", "0"});
  REQUIRE(peer.port != 0);
  REQUIRE(::kill(peer.pid, SIGHUP) == 0);
  ::usleep(100'000);
  CHECK(test::served(peer.port));
  const std::string log = peer.stop();
  CHECK(log.find("SIGHUP") != std::string::npos);
  CHECK(log.find("stopped (SIGINT or SIGTERM)") != std::string::npos);
}

TEST_CASE("a soak of hostile clients leaves the good ones served and the peer flat",
          "[hostile][heavy]") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kSoakS = 8;
#else
  constexpr int kSoakS = 60;
#endif
  for (const std::string& loop : loops()) {
    INFO("loop " << loop);
    test::StandalonePeer peer({"--latency", "1ms", "--loop", loop, "--max-connections", "200",
                               "--max-queued", "256", "--idle-timeout", "2s"});
    REQUIRE(peer.port != 0);
    // The good clients' median turnaround, unloaded.
    constexpr int kGood = 4;
    std::vector<int> good;
    for (int i = 0; i < kGood; ++i) good.push_back(test::connect_to(peer.port));
    auto median_us = [&](int seconds, bool* all_ok) {
      std::vector<double> t;
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
      uint64_t id = 0;
      while (std::chrono::steady_clock::now() < until)
        for (int i = 0; i < kGood; ++i) {
          const double us = exchange_us(good[i], 0, ++id, 4096);
          if (us < 0) *all_ok = false;
          t.push_back(us);
        }
      std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
      return t[t.size() / 2];
    };
    bool ok = true;
    const double unloaded = median_us(2, &ok);
    REQUIRE(ok);
    const int fds0 = test::count_fds(peer.pid);
    const long rss0 = rss_kib(peer.pid);

    std::atomic<bool> stop{false};
    std::vector<std::thread> hostile;
    // Random bytes, then close.
    hostile.emplace_back([&] {
      std::mt19937_64 rng(1);
      while (!stop) {
        const int fd = test::connect_to(peer.port);
        uint64_t junk[8];
        for (auto& w : junk) w = rng();
        ::send(fd, junk, sizeof junk, MSG_NOSIGNAL);
        ::close(fd);
        ::usleep(5'000);
      }
    });
    // Never-readers: ask for 1 MiB responses and never read them.
    hostile.emplace_back([&] {
      std::vector<int> fds;
      uint64_t id = 0;
      while (!stop) {
        if (fds.size() < 8) fds.push_back(test::connect_to(peer.port));
        for (int fd : fds) {
          const Request rq{0, 1u << 20, ++id};
          ::send(fd, &rq, sizeof rq, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        ::usleep(2'000);
      }
      for (int fd : fds) ::close(fd);
    });
    // Half-closers: a request, then shutdown(SHUT_WR); they read the answer.
    hostile.emplace_back([&] {
      uint64_t id = 0;
      while (!stop) {
        const int fd = test::connect_to(peer.port);
        const Request rq{0, 4096, ++id};
        ::send(fd, &rq, sizeof rq, MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        test::closed_by_peer(fd, 2000);
        ::close(fd);
        ::usleep(5'000);
      }
    });
    // A connect flood up to (and past) the limit, held, then dropped.
    hostile.emplace_back([&] {
      while (!stop) {
        std::vector<int> fds;
        for (int i = 0; i < 220 && !stop; ++i) fds.push_back(test::connect_to(peer.port));
        for (int i = 0; i < 50 && !stop; ++i) ::usleep(10'000);
        for (int fd : fds)
          if (fd >= 0) ::close(fd);
        ::usleep(100'000);
      }
    });
    bool loaded_ok = true;
    const double loaded = median_us(kSoakS, &loaded_ok);
    stop = true;
    for (std::thread& t : hostile) t.join();
    INFO("good clients' median turnaround: " << unloaded << " us unloaded, " << loaded
                                             << " us among hostile clients");
    CHECK(loaded_ok);
    CHECK(loaded <= 2 * unloaded);
    // Everything the hostile clients held is let go within the idle timeout.
    int fds1 = 0;
    for (int i = 0; i < 50 && (fds1 = test::count_fds(peer.pid)) > fds0; ++i) ::usleep(100'000);
    const long rss1 = rss_kib(peer.pid);
    INFO("peer descriptors " << fds0 << " -> " << fds1 << ", RSS " << rss0 << " -> " << rss1
                             << " KiB");
    CHECK(fds1 <= fds0);
    // The never-readers (8 at a time) and the good clients are what holds
    // memory; the rest hold no bytes, and are gone by now.
    CHECK(rss1 - rss0 < rss_limit_kib(8 + kGood));
    for (int fd : good) ::close(fd);
    // The hostile clients reached the limits they were meant to.
    const std::string log = peer.stop();
    INFO(log);
    CHECK(log.find(" 0 connections over the limit") == std::string::npos);
    CHECK(log.find("stopped reading a connection 0 times") == std::string::npos);
    CHECK(log.find("; 0 malformed requests") == std::string::npos);
  }
}

TEST_CASE("a run whose remote peer was reset by another client says so", "[hostile]") {
  test::StandalonePeer peer({"--latency", "100us"});
  REQUIRE(peer.port != 0);
  std::atomic<bool> stop{false};
  std::thread resetter([&] {
    const int fd = test::connect_to(peer.port);
    const Request rq{kControlConn, 0, static_cast<uint64_t>(ControlCommand::kStatsAndReset)};
    uint8_t buf[256];
    while (!stop) {
      ::send(fd, &rq, sizeof rq, MSG_NOSIGNAL);
      ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      ::usleep(20'000);
    }
    ::close(fd);
  });
  const auto r = test::run_iomodels("run -t tcp -m epoll -c 4 -r 500 -l 100us --peer 127.0.0.1:" +
                                    std::to_string(peer.port));
  stop = true;
  resetter.join();
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("another client reset its statistics") != std::string::npos);
}

TEST_CASE("a connection stopped and read again loses and repeats no request", "[hostile]") {
  for (const std::string& loop : loops()) {
    INFO("loop " << loop);
    test::StandalonePeer peer({"--latency", "0", "--loop", loop, "--max-queued", "16"});
    REQUIRE(peer.port != 0);
    const int fd = test::connect_to(peer.port);
    REQUIRE(fd >= 0);
    // 20,000 requests at once, far past the limit: the peer stops and
    // resumes reading many times, and every response comes, in order.
    constexpr uint64_t kN = 20'000;
    constexpr uint32_t kSize = 256;
    std::thread writer([&] {
      std::vector<Request> all(kN);
      for (uint64_t i = 0; i < kN; ++i) all[i] = Request{3, kSize, i};
      const auto* p = reinterpret_cast<const uint8_t*>(all.data());
      size_t done = 0;
      while (done < all.size() * sizeof(Request)) {
        const ssize_t n = ::send(fd, p + done, all.size() * sizeof(Request) - done, MSG_NOSIGNAL);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
    });
    // Read nothing at first: the peer's sends fill the socket, its queue
    // reaches the limit, and it stops reading.
    ::usleep(300'000);
    std::vector<uint8_t> buf(kSize);
    uint64_t ok = 0;
    for (uint64_t i = 0; i < kN; ++i) {
      size_t got = 0;
      while (got < kSize) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) break;
        const ssize_t n = ::read(fd, buf.data() + got, kSize - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      if (got != kSize || verify_payload(3, i, 0, buf.data(), kSize) != kSize) break;
      ++ok;
    }
    writer.join();
    CHECK(ok == kN);
    ::close(fd);
    const std::string log = peer.stop();
    INFO(log);
    CHECK(log.find("stopped reading a connection 0 times") == std::string::npos);
    CHECK(log.find("; 0 malformed requests") != std::string::npos);
  }
}
