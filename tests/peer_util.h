// Description: a client of the peer that knows only the wire protocol, every
// byte verified, and the Workload a peer test starts from.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "measure/recorder.h"
#include "peer/payload.h"
#include "workload/workload.h"

namespace iomodels::test {

inline constexpr int kStepWaitMs = 5000;  // no single step of a test waits longer

// Waits for `events` on fd, at most kStepWaitMs.
inline bool wait_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, kStepWaitMs);
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

inline bool send_all(int fd, const void* data, size_t n) {
  auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    if (!wait_ready(fd, POLLOUT)) return false;
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// A client that knows only the wire protocol: no Model, no Exchange.
struct WireClient {
  std::vector<uint8_t> buf = std::vector<uint8_t>(256 * 1024);
  std::vector<uint64_t> next_id;

  explicit WireClient(const Workload& w) : next_id(w.conns().size(), 0) {}

  bool send(const ClientConn& c, uint32_t size, uint64_t* id) {
    *id = ++next_id[c.index];
    const Request rq{c.index, size, *id};
    return send_all(c.wfd, &rq, sizeof rq);
  }

  // Reads exactly `size` bytes of response `id` and verifies every one.
  bool receive(const ClientConn& c, uint32_t size, uint64_t id, std::string* err) {
    uint64_t got = 0;
    while (got < size) {
      if (!wait_ready(c.rfd, POLLIN)) {
        *err = "no response within 5 s on connection " + std::to_string(c.index);
        return false;
      }
      const ssize_t n = ::read(c.rfd, buf.data(), std::min<size_t>(buf.size(), size - got));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        *err = n == 0 ? "EOF" : std::strerror(errno);
        return false;
      }
      const size_t bad = verify_payload(c.index, id, got, buf.data(), static_cast<size_t>(n));
      if (bad != static_cast<size_t>(n)) {
        *err = "wrong byte at offset " + std::to_string(got + bad) + " of connection " +
               std::to_string(c.index) + ", request " + std::to_string(id);
        return false;
      }
      got += static_cast<uint64_t>(n);
    }
    return true;
  }

  // One request on each connection at once, then the responses as they
  // come (poll over all): each latency is from its send to its last byte.
  bool round(const Workload& w, uint32_t size, std::vector<uint64_t>* latencies, std::string* err) {
    const size_t n = w.conns().size();
    std::vector<uint64_t> ids(n), sent(n), got(n, 0);
    for (const ClientConn& c : w.conns()) {
      sent[c.index] = now_ns();
      if (!send(c, size, &ids[c.index])) {
        *err = "send failed on connection " + std::to_string(c.index);
        return false;
      }
    }
    std::vector<pollfd> pfds;
    std::vector<const ClientConn*> which;
    for (;;) {
      pfds.clear();
      which.clear();
      for (const ClientConn& c : w.conns()) {
        if (got[c.index] == size) continue;
        pfds.push_back(pollfd{c.rfd, POLLIN, 0});
        which.push_back(&c);
      }
      if (pfds.empty()) return true;
      const int r = ::poll(pfds.data(), pfds.size(), kStepWaitMs);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        *err = "no response within 5 s";
        return false;
      }
      for (size_t k = 0; k < pfds.size(); ++k) {
        if (pfds[k].revents == 0) continue;
        const ClientConn& c = *which[k];
        const uint64_t want = std::min<uint64_t>(buf.size(), size - got[c.index]);
        const ssize_t m = ::read(c.rfd, buf.data(), want);
        if (m < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (m <= 0) {
          *err = m == 0 ? "EOF" : std::strerror(errno);
          return false;
        }
        const size_t bad =
            verify_payload(c.index, ids[c.index], got[c.index], buf.data(), static_cast<size_t>(m));
        if (bad != static_cast<size_t>(m)) {
          *err = "wrong byte on connection " + std::to_string(c.index);
          return false;
        }
        got[c.index] += static_cast<uint64_t>(m);
        if (got[c.index] == size && latencies) latencies->push_back(now_ns() - sent[c.index]);
      }
    }
  }
};

// A Workload of `conns` connections answering `size` bytes after `latency`
// (a --latency spec); the test stops with the reason if it cannot be made.
inline std::unique_ptr<Workload> make_workload(Transport t, uint32_t conns, uint32_t size,
                                               const char* latency,
                                               PeerLoopChoice loop = PeerLoopChoice::kAuto) {
  WorkloadOptions o;
  o.peer_loop = loop;
  o.transport = t;
  o.connections = conns;
  o.size = size;
  std::string why;
  REQUIRE(parse_latency(latency, &o.latency, &why));
  std::unique_ptr<Workload> w;
  const Status s = Workload::create(o, &w);
  INFO(s.message());
  REQUIRE(s.ok());
  return w;
}

}  // namespace iomodels::test
