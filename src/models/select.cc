// Description: `select` (multiplexing). Like `poll`: one thread, non-blocking
// fds, every request sent, then one blocking select(2) over all connections
// and a read of the ready ones. select describes the fds as a bitmap of
// FD_SETSIZE (1024) bits that the call overwrites, so the set is rebuilt
// before every call and the result scanned bit by bit; and an fd numbered
// 1024 or more cannot be watched at all, which makes the model not
// applicable (checked in setup) rather than silently wrong.
#include <sys/select.h>

#include <algorithm>
#include <string>
#include <vector>

#include "models/common.h"
#include "sys/time.h"

namespace iomodels {
namespace {

class Select final : public Model {
 public:
  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    for (const ClientConn& c : ctx.conns()) {
      if (c.rfd >= FD_SETSIZE)
        return Status::not_applicable("fd " + std::to_string(c.rfd) + " >= FD_SETSIZE (" +
                                      std::to_string(FD_SETSIZE) + "): select cannot watch it");
    }
    if (Status s = detail::set_nonblocking(ctx, true); !s.ok()) return s;
    ex_ = detail::make_exchanges(ctx);
    left_.assign(ex_.size(), 0);
    buf_.resize(std::min<size_t>(ctx.size(), detail::kReadChunk));
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rounds == 0) return {};
    size_t active = ex_.size();
    for (size_t i = 0; i < ex_.size(); ++i) {
      left_[i] = rounds;
      if (Status s = detail::send_request(*ctx_, ex_[i]); !s.ok()) return s;
    }
    while (active > 0) {
      // select overwrites both the set and the timeout: rebuild them each call.
      fd_set readable;
      FD_ZERO(&readable);
      int max_fd = -1;
      for (size_t i = 0; i < ex_.size(); ++i) {
        if (left_[i] == 0) continue;
        FD_SET(ex_[i].rfd(), &readable);
        max_fd = std::max(max_fd, ex_[i].rfd());
      }
      timeval tv = sys::to_timeval(ctx_->options.timeout_ns);
      // The thread sleeps here until at least one connection is readable.
      const long n = sys::select(max_fd + 1, &readable, nullptr, nullptr, &tv);
      // A signal leaves the set undefined: rebuild it and ask again (the
      // wrapper cannot retry select itself, since the call clobbered its
      // arguments).
      if (n == -EINTR) continue;
      if (n < 0) return Status::from_errno(n, "select");
      if (n == 0) return detail::timed_out(*ctx_, "any connection to become readable");
      for (size_t i = 0; i < ex_.size(); ++i) {
        if (left_[i] == 0 || !FD_ISSET(ex_[i].rfd(), &readable)) continue;
        bool done = false;
        if (Status s = on_ready(i, &done); !s.ok()) return s;
        if (done) --active;
      }
    }
    return {};
  }

 private:
  // Connection i is readable: read until EAGAIN or the response is whole.
  Status on_ready(size_t i, bool* done) {
    return detail::read_until_eagain(*ctx_, ex_[i], buf_, &left_[i], done);
  }

  RunContext* ctx_ = nullptr;
  std::vector<Exchange> ex_;
  std::vector<uint64_t> left_;  // requests still to complete, per connection
  std::vector<uint8_t> buf_;
};

}  // namespace

extern const ModelInfo model_select{
    "select",
    Quadrant::kMultiplexing,
    Mechanism::kSelect,
    /*coroutine=*/false,
    "one thread, non-blocking fds, select(2) over every connection (fds < FD_SETSIZE only)",
    [] { return std::unique_ptr<Model>(new Select); },
    nullptr,
    detail::poll_not_applicable};

}  // namespace iomodels
