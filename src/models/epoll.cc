// Description: `epoll` (async · non-blocking, a reactor). One thread asks the
// kernel to watch every connection, sends every request, then sleeps in
// epoll_wait until some are readable, and runs each ready connection's
// callback: read what is there, and when a response is whole, send the next
// request. Level-triggered: one read per readiness event; if bytes remain,
// the next epoll_wait reports the fd again. The `edge` flag gives epoll-et.
#include "models/epoll.h"

#include <algorithm>
#include <vector>

#include "models/common.h"
#include "sys/epoll_owner.h"

namespace iomodels {
namespace detail {
namespace {

class EpollReactor final : public Model {
 public:
  explicit EpollReactor(bool edge) : edge_(edge) {}

  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = set_nonblocking(ctx, true); !s.ok()) return s;
    ex_ = make_exchanges(ctx);
    left_.assign(ex_.size(), 0);
    parked_.assign(ex_.size(), false);
    buf_.resize(std::min<size_t>(ctx.size(), kReadChunk));
    events_.resize(kMaxEvents);
    if (Status s = ep_.open(); !s.ok()) return s;
    for (uint32_t i = 0; i < ex_.size(); ++i) {
      // The token is the connection's index.
      if (Status s = ep_.watch(ex_[i].rfd(), EPOLLIN | (edge_ ? EPOLLET : 0u), i); !s.ok())
        return s;
    }
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rearm_) {
      // The last run ended early, perhaps with edges reported and never
      // handled; edge-triggered epoll would not report them again. Re-arming
      // makes the kernel look afresh at what is already pending.
      for (uint32_t i = 0; i < ex_.size(); ++i)
        if (const long r = ep_.modify(ex_[i].rfd(), EPOLLIN | EPOLLET, i); r < 0)
          return Status::from_errno(r, "epoll_ctl");
      rearm_ = false;
      parked_.assign(ex_.size(), false);
    }
    // The server role: connections parked in the last run are watched again.
    for (uint32_t i = 0; i < parked_.size(); ++i) {
      if (!parked_[i]) continue;
      if (const long r = ep_.modify(ex_[i].rfd(), EPOLLIN | (edge_ ? EPOLLET : 0u), i); r < 0)
        return Status::from_errno(r, "epoll_ctl");
      parked_[i] = false;
    }
    Status s = run_rounds(rounds);
    if (!s.ok() && edge_) rearm_ = true;
    return s;
  }

 private:
  Status run_rounds(uint64_t rounds) {
    if (rounds == 0) return {};
    size_t active = ex_.size();
    for (size_t i = 0; i < ex_.size(); ++i) {
      left_[i] = rounds;
      if (Status s = send_request(*ctx_, ex_[i]); !s.ok()) return s;
    }
    const int timeout_ms = static_cast<int>(ctx_->options.timeout_ns / 1'000'000);
    while (active > 0) {
      // The thread sleeps here until at least one connection is readable.
      const long n = ep_.wait(events_.data(), kMaxEvents, timeout_ms);
      if (n < 0) return Status::from_errno(n, "epoll_wait");
      if (n == 0) return timed_out(*ctx_, "any connection to become readable");
      for (long e = 0; e < n; ++e) {
        const auto i = static_cast<uint32_t>(events_[e].data.u64);
        if (left_[i] == 0) {
          // The server role: the peer's next request came to a connection
          // done with this run. It waits in the socket for the next run;
          // unwatched until then, or level-triggered epoll would report it
          // at every wait.
          if (const long r = ep_.modify(ex_[i].rfd(), 0, i); r < 0)
            return Status::from_errno(r, "epoll_ctl");
          parked_[i] = true;
          continue;
        }
        bool done = false;
        if (Status s = on_readable(i, &done); !s.ok()) return s;
        if (done) --active;
      }
    }
    return {};
  }

  // The callback: connection i is readable.
  Status on_readable(uint32_t i, bool* done) {
    // A slice on the timeline, when tracing.
    TraceScope callback("callback", "callback", ctx_->options.trace_hooks);
    Exchange& ex = ex_[i];
    for (;;) {
      const long n =
          sys::read(ex.rfd(), buf_.data(), std::min<size_t>(ex.remaining(), buf_.size()));
      if (n == -EAGAIN) return {};  // edge-triggered: drained; wait for the next edge
      if (n <= 0) return read_failed(*ctx_, ex, n);
      Status err;
      if (!ex.feed(buf_.data(), static_cast<size_t>(n), &err)) return err;
      if (ex.complete()) {
        if (Status s = finish(*ctx_, ex); !s.ok()) return s;
        if (--left_[i] == 0) {
          *done = true;
          return {};
        }
        if (Status s = send_request(*ctx_, ex); !s.ok()) return s;
      }
      // Level-triggered: one read per event; epoll reports the rest again.
      // Edge-triggered: no new event comes for bytes already queued, so read
      // on until the kernel says EAGAIN.
      if (!edge_) return {};
    }
  }

  const bool edge_;
  bool rearm_ = false;  // edge-triggered, after a run that failed
  RunContext* ctx_ = nullptr;
  sys::Epoll ep_;
  std::vector<Exchange> ex_;
  std::vector<uint64_t> left_;
  std::vector<bool> parked_;  // unwatched until the next run (see run_rounds)
  std::vector<uint8_t> buf_;
  std::vector<epoll_event> events_;
};

}  // namespace

std::unique_ptr<Model> make_epoll_reactor(bool edge_triggered) {
  return std::make_unique<EpollReactor>(edge_triggered);
}

}  // namespace detail

extern const ModelInfo model_epoll{
    "epoll",
    Quadrant::kAsyncNonblocking,
    Mechanism::kEpoll,
    /*coroutine=*/false,
    "one thread, non-blocking fds, level-triggered epoll; a callback per ready connection",
    [] { return detail::make_epoll_reactor(false); },
    nullptr,
    detail::epoll_not_applicable};

}  // namespace iomodels
