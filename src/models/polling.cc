// Description: `polling` (sync · non-blocking). One thread, every fd
// O_NONBLOCK. It sends every connection's request, then sweeps over the
// connections calling read() on each: EAGAIN means "not yet", so it moves on
// and asks again on the next sweep, without ever sleeping. Nothing is missed
// and the reply is seen within one sweep, but the thread burns a whole core
// asking, and every EAGAIN is a syscall that did nothing. The same sweep with
// a sleep between sweeps is `polling-sleep` (src/models/polling_sleep.cc).
#include "models/polling.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "models/common.h"
#include "sys/time.h"

namespace iomodels {
namespace detail {
namespace {

class Polling final : public Model {
 public:
  explicit Polling(bool sleep) : sleep_(sleep) {}

  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = set_nonblocking(ctx, true); !s.ok()) return s;
    ex_ = make_exchanges(ctx);
    left_.assign(ex_.size(), 0);
    buf_.resize(std::min<size_t>(ctx.size(), kReadChunk));
    if (is_file(ctx)) {
      // O_NONBLOCK does nothing for a regular file; preadv2(RWF_NOWAIT) is
      // the non-blocking read of a file, where the file system supports it.
      const long r = try_nowait_read(ex_[0].rfd());
      if (r == -EOPNOTSUPP || r == -EINVAL)
        return Status::not_applicable("preadv2(RWF_NOWAIT) on this file: " + errno_text(r) +
                                      " (the file system cannot read without blocking)");
      // An O_DIRECT read always goes to the device, so a read that must not
      // block says EAGAIN every time: polling would spin until the timeout.
      if (ctx.workload->options().direct && r == -EAGAIN)
        return Status::not_applicable(
            "preadv2(RWF_NOWAIT) with O_DIRECT: " + errno_text(r) +
            " (a direct read always waits for the device, so it is never ready)");
    }
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rounds == 0) return {};
    size_t active = ex_.size();
    for (size_t i = 0; i < ex_.size(); ++i) {
      left_[i] = rounds;
      if (Status s = send_request(*ctx_, ex_[i]); !s.ok()) return s;
    }
    uint64_t last_progress = now_ns();
    while (active > 0) {
      bool progressed = false;
      // One sweep: ask every unfinished connection once.
      for (size_t i = 0; i < ex_.size(); ++i) {
        if (left_[i] == 0) continue;
        bool done = false;
        if (Status s = drain(i, &progressed, &done); !s.ok()) return s;
        if (done) --active;
      }
      // The clock is a vDSO read, not a syscall: checking it every sweep
      // costs the spin nothing measurable.
      const uint64_t now = now_ns();
      if (progressed) {
        last_progress = now;
      } else if (now - last_progress > ctx_->options.timeout_ns) {
        return timed_out(*ctx_, "any connection to become readable");
      }
      if (sleep_ && active > 0) {
        // polling-sleep: give the core back until the next sweep.
        const uint64_t wake = now + ctx_->options.poll_interval_ns;
        const timespec deadline = sys::to_timespec(wake);
        if (const long r = sys::sleep_until(deadline); r < 0)
          return Status::from_errno(r, "clock_nanosleep");
      }
    }
    return {};
  }

 private:
  // Reads connection i until it says EAGAIN ("not yet: ask again next
  // sweep") or its response is whole; a whole response is recorded and the
  // next request sent.
  Status drain(size_t i, bool* progressed, bool* done) {
    return read_until_eagain(*ctx_, ex_[i], buf_, &left_[i], done, progressed);
  }

  const bool sleep_;
  RunContext* ctx_ = nullptr;
  std::vector<Exchange> ex_;
  std::vector<uint64_t> left_;  // requests still to complete, per connection
  detail::IoBuffer buf_;
};

}  // namespace

std::unique_ptr<Model> make_polling(bool sleep_between_sweeps) {
  return std::make_unique<Polling>(sleep_between_sweeps);
}

}  // namespace detail

extern const ModelInfo model_polling{
    "polling",
    Quadrant::kSyncNonblocking,
    Mechanism::kNonblockingRead,
    /*coroutine=*/false,
    "one thread, non-blocking fds, sweeps read() over every connection without sleeping (spins)",
    [] { return detail::make_polling(false); }};

}  // namespace iomodels
