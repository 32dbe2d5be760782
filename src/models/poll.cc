// Description: `poll` (multiplexing). One thread, non-blocking fds. It sends
// every connection's request, then blocks in poll(2) over all of them at
// once; the kernel wakes it when at least one is readable, and it reads the
// ready ones. A connection whose response is whole gets its next request.
// One wait covers N connections (unlike `blocking`), but every call hands
// the kernel the whole array and the kernel walks all of it: O(N) per wait.
#include <poll.h>

#include <algorithm>
#include <vector>

#include "models/common.h"

namespace iomodels {
namespace {

class Poll final : public Model {
 public:
  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = detail::set_nonblocking(ctx, true); !s.ok()) return s;
    ex_ = detail::make_exchanges(ctx);
    left_.assign(ex_.size(), 0);
    fds_.assign(ex_.size(), pollfd{-1, POLLIN, 0});
    buf_.resize(std::min<size_t>(ctx.size(), detail::kReadChunk));
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rounds == 0) return {};
    size_t active = ex_.size();
    for (size_t i = 0; i < ex_.size(); ++i) {
      left_[i] = rounds;
      fds_[i] = pollfd{ex_[i].rfd(), POLLIN, 0};
      if (Status s = detail::send_request(*ctx_, ex_[i]); !s.ok()) return s;
    }
    const int timeout_ms = static_cast<int>(ctx_->options.timeout_ns / 1'000'000);
    while (active > 0) {
      // The thread sleeps here until at least one connection is readable.
      const long n = sys::poll(fds_.data(), fds_.size(), timeout_ms);
      if (n < 0) return Status::from_errno(n, "poll");
      if (n == 0) return detail::timed_out(*ctx_, "any connection to become readable");
      // poll says how many are ready, not which: walk the array.
      long seen = 0;
      for (size_t i = 0; i < fds_.size() && seen < n; ++i) {
        if (fds_[i].revents == 0) continue;
        ++seen;
        // POLLHUP/POLLERR fall through to read(), which says what happened.
        if (fds_[i].revents & POLLNVAL) return Status::error(ex_[i].where() + ": poll: POLLNVAL");
        bool done = false;
        if (Status s = on_ready(i, &done); !s.ok()) return s;
        if (done) {
          --active;
          fds_[i].fd = -1;  // poll ignores negative fds: stop watching it
        }
      }
    }
    return {};
  }

 private:
  // Connection i is readable: read until EAGAIN or the response is whole.
  // Draining (rather than one read per wake-up) spares another O(N) poll
  // call for the rest of a large response.
  Status on_ready(size_t i, bool* done) {
    return detail::read_until_eagain(*ctx_, ex_[i], buf_, &left_[i], done);
  }

  RunContext* ctx_ = nullptr;
  std::vector<Exchange> ex_;
  std::vector<uint64_t> left_;  // requests still to complete, per connection
  std::vector<pollfd> fds_;
  std::vector<uint8_t> buf_;
};

}  // namespace

extern const ModelInfo model_poll{
    "poll",
    Quadrant::kMultiplexing,
    Mechanism::kPoll,
    /*coroutine=*/false,
    "one thread, non-blocking fds, poll(2) over every connection, then read the ready ones",
    [] { return std::unique_ptr<Model>(new Poll); },
    nullptr,
    detail::poll_not_applicable};

}  // namespace iomodels
