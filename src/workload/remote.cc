// Description: a run against remote peers (`iomodels peer`, run --peer
// A,B,...): the connections spread over them, a control connection to each,
// and their statistics merged; the control connection's exchanges
// (control.h).
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "peer/hello.h"
#include "peer/payload.h"
#include "workload/control.h"
#include "workload/parse.h"
#include "workload/workload.h"

namespace iomodels {
namespace detail {

Status control_exchange(int fd, uint64_t cmd, PeerStatsWire* w) {
  const Request rq{kControlConn, 0, cmd};
  if (::send(fd, &rq, sizeof rq, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof rq))
    return Status::from_errno(-errno, "asking the peer for its statistics");
  size_t got = 0;
  auto* dst = reinterpret_cast<uint8_t*>(w);
  while (got < sizeof *w) {
    pollfd p{fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, 5000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0)
      return Status::error(got == 0 ? "the peer did not answer a statistics request within 5 s"
                                    : "the peer's statistics came short: " + std::to_string(got) +
                                          " of " + std::to_string(sizeof *w) +
                                          " bytes (a peer of another iomodels version?)");
    const ssize_t n = ::recv(fd, dst + got, sizeof *w - got, 0);
    if (n == 0) return Status::error("the peer closed its control connection");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::from_errno(-errno, "reading the peer's statistics");
    }
    got += static_cast<size_t>(n);
  }
  if (w->magic != kStatsMagic)
    return Status::error(
        "the peer's statistics are garbled (a peer of another iomodels version? both ends must be "
        "the same build)");
  return {};
}

Status say_hello(int fd, const std::string& token, const std::string& where) {
  uint8_t msg[kRequestBytes + kHelloTokenBytes]{};
  const Request rq{kHelloConn, kHelloVersion, kHelloMagic};
  std::memcpy(msg, &rq, sizeof rq);
  std::memcpy(msg + kRequestBytes, token.data(), std::min(token.size(), kHelloTokenBytes));
  if (::send(fd, msg, sizeof msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof msg))
    return Status::from_errno(-errno, "greeting the peer at " + where);
  uint8_t ack[kHelloAckBytes];
  size_t got = 0;
  while (got < sizeof ack) {
    pollfd p{fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, 5000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return Status::error("the peer at " + where + " did not answer the hello in 5 s");
    const ssize_t n = ::recv(fd, ack + got, sizeof ack - got, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      return Status::error("the peer at " + where +
                           " refused the connection: a wrong or missing token (--peer-token or "
                           "IOMODELS_PEER_TOKEN), or it is at its connection limit");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::from_errno(-errno, "reading the hello's answer from " + where);
    }
    got += static_cast<size_t>(n);
  }
  if (verify_payload(kHelloConn, 0, 0, ack, sizeof ack) != sizeof ack)
    return Status::error("the peer at " + where + " answered the hello with garbage");
  return {};
}

PeerStats merge_remote_stats(const std::vector<PeerStats>& each,
                             const std::vector<std::string>& where) {
  if (each.size() == 1) return each[0];  // one peer: exactly what it said
  PeerStats m = each[0];
  m.threads = 0;
  m.requests = m.wall_ns = m.cpu_ns = m.busiest_cpu_ns = 0;
  m.late_p50_ns = m.late_p99_ns = m.late_max_ns = m.poll_horizon_ns = 0;
  m.protocol_errors = m.refused = m.bad_token = m.idle_closed = m.throttled = m.held_over = 0;
  for (size_t i = 0; i < each.size(); ++i) {
    const PeerStats& p = each[i];
    m.requests += p.requests;
    m.wall_ns = std::max(m.wall_ns, p.wall_ns);
    m.cpu_ns += p.cpu_ns;
    m.threads += p.threads;
    m.busiest_cpu_ns = std::max(m.busiest_cpu_ns, p.busiest_cpu_ns);
    m.late_p50_ns = std::max(m.late_p50_ns, p.late_p50_ns);
    m.late_p99_ns = std::max(m.late_p99_ns, p.late_p99_ns);
    m.late_max_ns = std::max(m.late_max_ns, p.late_max_ns);
    m.poll_horizon_ns = std::max(m.poll_horizon_ns, p.poll_horizon_ns);
    m.protocol_errors += p.protocol_errors;
    m.refused += p.refused;
    m.bad_token += p.bad_token;
    m.idle_closed += p.idle_closed;
    m.throttled += p.throttled;
    m.held_over += p.held_over;
    m.parts.push_back(PeerStats::Part{where[i], p.requests, p.wall_ns, p.cpu_ns, p.late_p99_ns,
                                      p.late_max_ns, p.threads});
  }
  m.remote = true;
  return m;
}

}  // namespace detail

Status Workload::start_remote() {
  std::string why;
  std::vector<PeerAddress> peers;
  if (!parse_peer_list(opts_.remote, opts_.peer_token, &peers, &why))
    return Status::error("--peer " + why);
  for (const PeerAddress& p : peers) {
    Fd control;
    if (Status s = connect_tcp(p.host, p.port, &control); !s.ok()) return s;
    if (Status s = detail::say_hello(control.get(), p.token, p.text); !s.ok()) return s;
    controls_.push_back(std::move(control));
    peer_names_.push_back(p.text);
  }
  // Round-robin: connection i to peer i % P, so each serves an equal share.
  for (uint32_t i = 0; i < opts_.connections; ++i) {
    const PeerAddress& p = peers[i % peers.size()];
    Fd c;
    if (Status s = connect_tcp(p.host, p.port, &c); !s.ok()) return s;
    if (Status s = detail::say_hello(c.get(), p.token, p.text); !s.ok()) return s;
    conns_.push_back(ClientConn{c.get(), c.get(), i});
    owned_.push_back(std::move(c));
  }
  return {};
}

Status Workload::remote_stats(uint64_t cmd, PeerStats* out) {
  std::vector<PeerStats> each;
  for (size_t k = 0; k < controls_.size(); ++k) {
    detail::PeerStatsWire w{};
    if (Status s = detail::control_exchange(controls_[k].get(), cmd, &w); !s.ok())
      return controls_.size() == 1 ? s : Status::error(peer_names_[k] + ": " + s.message());
    each.push_back(detail::stats_from_wire(w));
    each.back().remote = true;
  }
  *out = detail::merge_remote_stats(each, peer_names_);
  return {};
}

}  // namespace iomodels
