// Description: the peer's private parts that every loop shares: requests
// reassembled from a byte stream, the hello, due times and the deadline
// heap, the sleep-cost estimate that decides when to poll instead of sleep,
// and the statistics window the control request reads. protocol.h builds the
// serving loops' protocol from them; the loops differ only in how bytes move:
// io_uring (uring_peer.cc, the default) or epoll with read()/write()
// (epoll_peer.cc, the fallback where io_uring is refused).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "measure/histogram.h"
#include "measure/recorder.h"
#include "peer/payload.h"
#include "peer/peer.h"
#include "peer/shards.h"
#include "peer/wire.h"
#include "sys/sys.h"

namespace iomodels::detail {

// The sleep-cost estimate: the median overshoot of the peer's last timed
// sleeps, seeded by a few sleeps at start-up, and capped so that a burst of
// machine noise cannot turn the peer into a spinner.
inline constexpr int kOvershootSamples = 32;
inline constexpr int kStartupSleeps = 8;
inline constexpr uint64_t kStartupSleepNs = 20'000;
inline constexpr uint64_t kMaxSleepCostNs = 200'000;

// How late a timed sleep wakes here (timer, scheduler, VM exit): the median
// of the last kOvershootSamples overshoots.
class SleepCost {
 public:
  void add(uint64_t overshoot_ns) {
    ring_[next_++ % kOvershootSamples] = std::min(overshoot_ns, kMaxSleepCostNs);
    const size_t n = std::min<size_t>(next_, kOvershootSamples);
    std::array<uint64_t, kOvershootSamples> v;
    std::copy_n(ring_.begin(), n, v.begin());
    std::nth_element(v.begin(), v.begin() + n / 2, v.begin() + n);
    estimate_ = v[n / 2];
  }
  uint64_t estimate() const { return estimate_; }

 private:
  std::array<uint64_t, kOvershootSamples> ring_{};
  size_t next_ = 0;
  uint64_t estimate_ = 0;
};

// One response waiting for its due time.
struct Due {
  uint64_t due_ns;
  uint32_t slot;
  uint32_t gen;
  uint32_t conn_index;
  uint32_t size;
  uint64_t id;
  uint64_t seq;  // arrival order: equal deadlines fire in the order requested
  bool operator>(const Due& o) const {
    return due_ns != o.due_ns ? due_ns > o.due_ns : seq > o.seq;
  }
};
using DueHeap = std::priority_queue<Due, std::vector<Due>, std::greater<>>;

// One response fallen due, being sent.
struct Out {
  uint64_t due_ns;
  uint64_t id;
  uint32_t conn_index;
  uint32_t size;
  uint32_t offset;
  bool started;  // its first bytes are out and its lateness recorded
};

// A connection's slot: the most recently freed one, or a new one at the end.
// Indices stay small and stable, so they can be tokens and heap keys.
template <typename Slot>
uint32_t take_slot(std::vector<Slot>* slots, std::vector<uint32_t>* free) {
  if (!free->empty()) {
    const uint32_t s = free->back();
    free->pop_back();
    return s;
  }
  slots->emplace_back();
  return static_cast<uint32_t>(slots->size() - 1);
}

// Whole requests out of one connection's byte stream.
class RequestAssembler {
 public:
  // Calls on_request(rq) for every request completed by these n bytes; stops
  // early (returning false) when on_request returns false.
  template <typename F>
  bool feed(const uint8_t* p, size_t n, F&& on_request) {
    while (n > 0) {
      const size_t take = std::min(n, kRequestBytes - len_);
      std::copy_n(p, take, in_.data() + len_);
      len_ += take;
      p += take;
      n -= take;
      if (len_ < kRequestBytes) break;
      len_ = 0;
      Request rq;
      std::copy_n(in_.data(), kRequestBytes, reinterpret_cast<uint8_t*>(&rq));
      if (!on_request(rq)) return false;
    }
    return true;
  }
  // As feed, and returns how many of the n bytes it took: all of them, or
  // those up to the end of the request for which on_request returned false.
  template <typename F>
  size_t feed_until(const uint8_t* p, size_t n, F&& on_request) {
    size_t used = 0;
    while (used < n) {
      const size_t take = std::min(n - used, kRequestBytes - len_);
      std::copy_n(p + used, take, in_.data() + len_);
      len_ += take;
      used += take;
      if (len_ < kRequestBytes) break;
      len_ = 0;
      Request rq;
      std::copy_n(in_.data(), kRequestBytes, reinterpret_cast<uint8_t*>(&rq));
      if (!on_request(rq)) break;
    }
    return used;
  }
  void clear() { len_ = 0; }
  bool partial() const { return len_ != 0; }

 private:
  std::array<uint8_t, kRequestBytes> in_{};
  size_t len_ = 0;
};

// The hello a connection owes a peer with a token (hello.h), one request at a
// time. A peer without a token serves a connection at once, and still
// answers a hello (a client with a token may talk to it).
class Hello {
 public:
  enum class Verdict {
    kServe,     // an ordinary request (or control request): serve it
    kConsumed,  // part of the hello: nothing to answer yet
    kAck,       // the hello is complete and right: answer kHelloAckBytes of (kHelloConn, 0)
    kRefuse,    // no hello where one is owed, or a wrong token: close the connection
  };
  Verdict take(const Request& rq, const std::string& token) {
    if (state_ == State::kToken) {
      std::copy_n(reinterpret_cast<const uint8_t*>(&rq), kRequestBytes, got_.data() + got_len_);
      got_len_ += kRequestBytes;
      if (got_len_ < kHelloTokenBytes) return Verdict::kConsumed;
      state_ = State::kDone;
      if (token.empty()) return Verdict::kAck;
      // Compared in full whatever differs first: no timing hint of a prefix.
      std::array<uint8_t, kHelloTokenBytes> want{};
      std::copy_n(token.data(), std::min(token.size(), kHelloTokenBytes), want.data());
      uint8_t diff = 0;
      for (size_t i = 0; i < kHelloTokenBytes; ++i) diff |= static_cast<uint8_t>(want[i] ^ got_[i]);
      return diff == 0 ? Verdict::kAck : Verdict::kRefuse;
    }
    const bool hello = rq.conn == kHelloConn && rq.size == kHelloVersion && rq.id == kHelloMagic;
    if (state_ == State::kFresh && hello) {
      state_ = State::kToken;
      got_len_ = 0;
      return Verdict::kConsumed;
    }
    if (state_ == State::kFresh && !token.empty()) return Verdict::kRefuse;
    state_ = State::kDone;
    return hello || rq.conn == kHelloConn ? Verdict::kRefuse : Verdict::kServe;
  }
  void reset() { state_ = State::kFresh; }

 private:
  enum class State { kFresh, kToken, kDone };
  State state_ = State::kFresh;
  std::array<uint8_t, kHelloTokenBytes> got_{};
  size_t got_len_ = 0;
};

// What the peer checks of one connection of a program run under
// `run --exec` (docs/protocol.md section 2), and when it last finished a
// response there.
struct ExecCheck {
  int64_t index = -1;         // the connection index its first request named
  uint64_t next_id = 0;       // the id its next request must carry
  uint64_t last_done_ns = 0;  // its latest response's last byte written; 0: none yet
  bool in_flight = false;     // a request is being served
};

// The peer's side of the protocol, whichever loop moves the bytes: due times,
// and the window of statistics since the last reset.
class PeerCore {
 public:
  // `loop` says how this peer moves bytes, for the statistics.
  PeerCore(const PeerOptions& o, PeerLoop loop) : opts_(o), loop_(loop), rng_(o.seed) {}

  const PeerOptions& options() const { return opts_; }
  void set_loop(PeerLoop loop) { loop_ = loop; }

  // The due time of a request arriving at `now` on a connection whose latest
  // response is due at *last_due: a connection is a stream, so a response is
  // never due before the one requested before it.
  uint64_t due(uint64_t now, uint64_t* last_due) {
    const uint64_t d = std::max(now + opts_.latency.sample(uniform_(rng_)), *last_due);
    *last_due = d;
    return d;
  }
  // A well-formed request for a response of `size` bytes.
  static bool valid_size(uint32_t size) { return size != 0 && size <= kMaxResponseBytes; }

  // A response's first bytes left at `start`; it was due at `due`. The
  // hello's answer is not a response: it counts in neither figure.
  void started(uint32_t conn, uint64_t start, uint64_t due) {
    if (conn != kHelloConn) lateness_.record(start > due ? start - due : 0);
  }
  void served(uint32_t conn) {
    if (conn != kHelloConn) ++requests_;
  }
  void protocol_error() { ++protocol_errors_; }

  // --- a program run under `run --exec` (opts.exec_requests != 0) ---
  bool exec_on() const { return opts_.exec_requests != 0; }
  // A request arrived at `now` on the connection `c` tracks: checked against
  // docs/protocol.md section 2, and its turnaround recorded. False when it
  // breaks a rule (each broken rule counted): the caller then refuses it.
  bool exec_request(ExecCheck* c, const Request& rq, uint64_t now) {
    if (first_request_ns_ == 0) first_request_ns_ = now;
    const uint64_t broken_before = broken();
    if (c->in_flight) ++exec_.early;
    if (c->last_done_ns != 0) turnaround_.record(now - c->last_done_ns);
    c->in_flight = true;
    if (c->index < 0) {
      if (!claim(rq.conn)) {
        ++exec_.wrong_conn;
      } else {
        c->index = rq.conn;
      }
    } else if (rq.conn != static_cast<uint64_t>(c->index)) {
      ++exec_.wrong_conn;
    }
    if (rq.size != opts_.size) ++exec_.wrong_size;
    if (c->next_id >= opts_.exec_requests) {
      ++exec_.extra;
    } else if (rq.id != c->next_id) {
      ++exec_.wrong_id;
    }
    c->next_id = c->next_id + 1;
    return broken() == broken_before;
  }
  // A connection closed unanswered because a request broke a rule.
  void exec_refused() { ++exec_.refused_conns; }
  // The response to the connection's latest request is out, all of it.
  void exec_done(ExecCheck* c) {
    const uint64_t now = now_ns();
    c->last_done_ns = now;
    c->in_flight = false;
    last_response_ns_ = now;
    if (c->next_id == opts_.exec_requests) ++exec_.complete_conns;
  }
  // Answers a control request on `fd` with the figures of every thread
  // (ShardFigures, summed): PeerStatsWire, then, when the peer checks a
  // program run under --exec, ExecStatsWire. Both are tiny next to a
  // socket's buffer and the client waits for them: a failed write just
  // drops them.
  void answer_control(int fd, const ShardFigures& f) const {
    const PeerStatsWire w = stats_wire(f, opts_.peer_spin_ns);
    sys::write(fd, &w, sizeof w);
    if (!exec_on()) return;
    auto x = std::make_unique<ExecStatsWire>();
    x->magic = kExecMagic;
    x->first_request_ns = f.first_request_ns;
    x->last_response_ns = f.last_response_ns;
    x->complete_conns = f.complete_conns;
    x->early = f.early;
    x->wrong_conn = f.wrong_conn;
    x->wrong_size = f.wrong_size;
    x->wrong_id = f.wrong_id;
    x->extra = f.extra;
    x->refused_conns = f.refused_conns;
    f.turnaround.save(&x->turnaround);
    sys::write(fd, x.get(), sizeof *x);
  }

  // What the limits turned away, for the statistics and the log; and the
  // bytes a stopped connection had already received past what it may hold
  // (PeerStats::held_over).
  uint64_t refused = 0, bad_token = 0, idle_closed = 0, throttled = 0, held_over = 0;
  // Whether a connection with `queued` responses owed may be read further.
  bool may_read(uint32_t queued) const {
    return opts_.max_queued == 0 || queued < opts_.max_queued;
  }
  // Whether a stopped connection may be read again: once half its backlog is out.
  bool may_resume(uint32_t queued) const {
    return opts_.max_queued == 0 || queued <= opts_.max_queued / 2;
  }
  SleepCost& sleep_cost() { return sleep_cost_; }

  // This thread's figures since the last reset, added to *f;
  // kStatsAndReset also starts a new window.
  void take(uint64_t cmd, ShardFigures* f) {
    f->threads += 1;
    f->wall_ns = std::max(f->wall_ns, now_ns() - window_wall_);
    f->process_cpu_ns = std::max(f->process_cpu_ns, process_cpu_ns() - window_cpu_);
    f->busiest_cpu_ns = std::max(f->busiest_cpu_ns, thread_cpu_ns() - window_thread_cpu_);
    f->requests += requests_;
    f->protocol_errors += protocol_errors_;
    f->refused += refused;
    f->bad_token += bad_token;
    f->idle_closed += idle_closed;
    f->throttled += throttled;
    f->held_over += held_over;
    f->poll_horizon_ns = std::max(f->poll_horizon_ns, sleep_cost_.estimate());
    f->loop = static_cast<uint64_t>(loop_);
    f->lateness.merge(lateness_);
    if (exec_on()) {
      if (first_request_ns_ != 0 &&
          (f->first_request_ns == 0 || first_request_ns_ < f->first_request_ns))
        f->first_request_ns = first_request_ns_;
      f->last_response_ns = std::max(f->last_response_ns, last_response_ns_);
      f->complete_conns += exec_.complete_conns;
      f->early += exec_.early;
      f->wrong_conn += exec_.wrong_conn;
      f->wrong_size += exec_.wrong_size;
      f->wrong_id += exec_.wrong_id;
      f->extra += exec_.extra;
      f->refused_conns += exec_.refused_conns;
      f->turnaround.merge(turnaround_);
    }
    if (cmd == static_cast<uint64_t>(ControlCommand::kStatsAndReset)) reset_window();
  }
  // This thread's figures alone, as the control connection carries them.
  PeerStatsWire control(uint64_t cmd) {
    auto f = std::make_unique<ShardFigures>();
    take(cmd, f.get());
    return stats_wire(*f, opts_.peer_spin_ns);
  }

  void reset_window() {
    window_wall_ = now_ns();
    window_cpu_ = process_cpu_ns();
    window_thread_cpu_ = thread_cpu_ns();
    lateness_.reset();
    requests_ = 0;
    turnaround_.reset();
  }

 private:
  PeerOptions opts_;
  PeerLoop loop_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  SleepCost sleep_cost_;
  Histogram lateness_;
  uint64_t requests_ = 0;
  uint64_t protocol_errors_ = 0;
  uint64_t window_wall_ = 0, window_cpu_ = 0, window_thread_cpu_ = 0;
  // --- exec_on() ---
  Histogram turnaround_;
  struct {
    uint64_t complete_conns = 0, early = 0, wrong_conn = 0, wrong_size = 0, wrong_id = 0, extra = 0;
    uint64_t refused_conns = 0;
  } exec_;
  uint64_t broken() const {
    return exec_.early + exec_.wrong_conn + exec_.wrong_size + exec_.wrong_id + exec_.extra;
  }
  std::vector<bool> claimed_ = std::vector<bool>(exec_on() ? opts_.connections : 0);
  // Connection index `conn` for the connection asking: in range and not
  // claimed before, on any thread.
  bool claim(uint64_t conn) {
    if (opts_.shards != nullptr) return opts_.shards->claim(conn);
    if (conn >= opts_.connections || claimed_[conn]) return false;
    claimed_[conn] = true;
    return true;
  }
  uint64_t first_request_ns_ = 0, last_response_ns_ = 0;
};

// The io_uring loop (uring_peer.cc). Returns -1, with the reason in *why and
// every descriptor untouched, when io_uring cannot serve here, so the caller
// can fall back to epoll; otherwise a process exit code.
int run_uring_peer(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns,
                   std::string* why);
// The epoll loop (epoll_peer.cc), which serves wherever epoll does: a
// process exit code.
int run_epoll_peer(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns,
                   std::string* why);

// The server role's arrivals: the wait from one request of a connection to
// its next (uniform: exactly mean_ns; poisson: exponential with that mean),
// and the wait before its first.
uint64_t arrival_interval(Arrivals a, double mean_ns, std::mt19937_64& rng);
uint64_t arrival_phase(Arrivals a, double mean_ns, std::mt19937_64& rng);

// The load generator of the server role (generator.cc): a process exit code.
int run_generator(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns,
                  std::string* why);

}  // namespace iomodels::detail
