// Description: `coro-epoll` (async · non-blocking): the epoll reactor again,
// but each connection is a coroutine that reads like the blocking model:
// `co_await conn.send(...)`, `co_await conn.recv(...)`. One thread,
// non-blocking fds, level-triggered epoll; the event loop is the scheduler.
//
// What a co_await costs in syscalls:
// - send: write() at once (a 16-byte request nearly always fits); only on
//   EAGAIN the coroutine suspends, EPOLLOUT is armed (epoll_ctl) and the
//   loop retries the write when epoll_wait says the fd is writable.
// - recv: the coroutine suspends without a syscall unless the last read
//   filled its whole buffer (then more bytes may be queued and it reads at
//   once; EAGAIN suspends it). A read that would surely return EAGAIN, right
//   after sending a request, is not made. EPOLLIN interest is registered once
//   in setup; when epoll_wait reports the fd, the loop makes the read for the
//   waiting coroutine and resumes it with the result.
// So a request costs a write, a read and a share of one epoll_wait, as in `epoll`.
#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <vector>

#include "models/common.h"
#include "models/coro.h"
#include "sys/epoll_owner.h"

namespace iomodels {
namespace detail {
namespace {

class CoroEpoll final : public Model {
 public:
  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = set_nonblocking(ctx, true); !s.ok()) return s;
    ex_ = make_exchanges(ctx);
    slots_.assign(ex_.size(), Slot{});
    tasks_.reserve(ex_.size());
    // One buffer for every connection: a coroutine consumes what a read put
    // there before anything else runs on this thread. One byte more than a
    // response, so a read that gets a whole response is short and tells the
    // awaitable the fd is drained (no EAGAIN read before the next wait).
    buf_.resize(std::min<size_t>(size_t{ctx.size()} + 1, kReadChunk));
    events_.resize(kMaxEvents);
    if (Status s = ep_.open(); !s.ok()) return s;
    for (uint32_t i = 0; i < ex_.size(); ++i)
      if (Status s = ep_.watch(ex_[i].rfd(), EPOLLIN, token(i, false)); !s.ok()) return s;
    return {};
  }

  Status run(uint64_t rounds) override {
    if (!broken_.ok()) return broken_;
    if (rounds == 0) return {};
    Status s = run_tasks(rounds);
    // Frames go back to the cache; no slot may keep a handle into them.
    tasks_.clear();
    if (!s.ok()) broken_ = s;  // EPOLLOUT may still be armed: no further runs
    return s;
  }

  // --- the awaitables ---

  struct SendAwaiter {
    CoroEpoll* m;
    uint32_t i;
    const uint8_t* p;
    size_t n;
    long result = 0;

    bool await_ready() {
      result = sys::write(m->ex_[i].wfd(), p, n);
      return result != -EAGAIN;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      if (const long r = m->arm_writable(i, true); r < 0) {
        result = r;
        return false;  // could not wait: resume at once with the error
      }
      Slot& s = m->slots_[i];
      s.writer = h;
      s.wp = p;
      s.wn = n;
      s.wresult = &result;
      return true;
    }
    long await_resume() const { return result; }
  };

  struct RecvAwaiter {
    CoroEpoll* m;
    uint32_t i;
    uint8_t* p;
    size_t n;
    long result = 0;

    bool await_ready() {
      Slot& s = m->slots_[i];
      if (!s.maybe_readable) return false;
      result = sys::read(m->ex_[i].rfd(), p, n);
      if (result == -EAGAIN) {
        s.maybe_readable = false;
        return false;
      }
      s.maybe_readable = result == static_cast<long>(n);
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
      Slot& s = m->slots_[i];
      s.reader = h;
      s.rp = p;
      s.rn = n;
      s.rresult = &result;
    }
    long await_resume() const { return result; }
  };

  // What the coroutine holds: which model and which connection.
  struct Conn {
    CoroEpoll* m;
    uint32_t i;
    SendAwaiter send(const uint8_t* p, size_t n) { return {m, i, p, n}; }
    RecvAwaiter recv(uint8_t* p, size_t n) { return {m, i, p, n}; }
  };

 private:
  // A suspended coroutine's pending operation. The awaiter (in its frame)
  // receives the result through rresult/wresult.
  struct Slot {
    std::coroutine_handle<> reader, writer;
    uint8_t* rp = nullptr;
    size_t rn = 0;
    long* rresult = nullptr;
    const uint8_t* wp = nullptr;
    size_t wn = 0;
    long* wresult = nullptr;
    bool maybe_readable = false;  // the last read filled its buffer: more may be there
    bool out_armed = false;       // EPOLLOUT is registered
    bool parked = false;          // EPOLLIN is not registered until the next run
  };

  // epoll's token: the connection and whether the event is for its write fd
  // (pipes only; a socket's one fd carries both directions).
  static uint64_t token(uint32_t i, bool wfd) { return (uint64_t{i} << 1) | (wfd ? 1 : 0); }

  Status run_tasks(uint64_t rounds) {
    TaskGroup group;
    for (uint32_t i = 0; i < ex_.size(); ++i) {
      const bool armed = slots_[i].out_armed;  // kept: it mirrors the kernel's state
      if (slots_[i].parked) {
        if (const long r = watch_readable(i, true); r < 0)
          return Status::from_errno(r, "epoll_ctl");
      }
      slots_[i] = Slot{};
      slots_[i].out_armed = armed;
      tasks_.push_back(client_loop(*ctx_, ex_[i], Conn{this, i}, buf_, rounds));
    }
    for (Task& t : tasks_) {
      t.start(&group);
      if (!group.error.ok()) return group.error;
    }
    const uint64_t timeout = ctx_->options.timeout_ns;
    uint64_t last_progress = now_ns();
    while (group.running > 0) {
      const uint64_t waited = now_ns() - last_progress;
      if (waited >= timeout) return timed_out(*ctx_, "any connection to become ready");
      // epoll_wait counts whole milliseconds: round up so it never spins.
      const int wait_ms = static_cast<int>((timeout - waited + 999'999) / 1'000'000);
      const long n = ep_.wait(events_.data(), kMaxEvents, wait_ms);
      if (n < 0) return Status::from_errno(n, "epoll_wait");
      bool progress = false;
      for (long e = 0; e < n; ++e) {
        progress |= dispatch(events_[e]);
        if (!group.error.ok()) return group.error;
      }
      if (progress) last_progress = now_ns();
    }
    return group.error;
  }

  // The scheduler: completes the waiting operations an event makes possible
  // and resumes their coroutines. Returns whether it resumed any.
  bool dispatch(const epoll_event& ev) {
    const auto i = static_cast<uint32_t>(ev.data.u64 >> 1);
    Slot& s = slots_[i];
    bool resumed = false;
    if ((ev.events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && s.writer) {
      const long r = sys::write(ex_[i].wfd(), s.wp, s.wn);
      if (r != -EAGAIN) {
        const long d = arm_writable(i, false);
        *s.wresult = d < 0 ? d : r;
        std::exchange(s.writer, {}).resume();
        resumed = true;
      }
    }
    // The writer may have just been resumed into a wait for its response.
    if ((ev.data.u64 & 1) == 0 && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && s.reader) {
      const long r = sys::read(ex_[i].rfd(), s.rp, s.rn);
      if (r != -EAGAIN) {  // EAGAIN: a spurious wake-up; level-triggered, so it comes again
        s.maybe_readable = r == static_cast<long>(s.rn);
        *s.rresult = r;
        std::exchange(s.reader, {}).resume();
        resumed = true;
      }
    }
    // The server role: the peer's next request came to a connection whose
    // coroutine is done with this run (it waits on nothing). It waits in the
    // socket for the next run; unwatched until then, or level-triggered
    // epoll would report it at every wait.
    if ((ev.data.u64 & 1) == 0 && (ev.events & EPOLLIN) != 0 && !s.reader && !s.writer &&
        ex_[i].server() && !s.parked) {
      watch_readable(i, false);
      s.parked = true;
    }
    return resumed;
  }

  // Adds or removes interest in connection i's read fd becoming readable.
  long watch_readable(uint32_t i, bool on) {
    const ClientConn& c = ex_[i].conn();
    const uint32_t out = c.rfd == c.wfd && slots_[i].out_armed ? EPOLLOUT : 0u;
    return ep_.modify(c.rfd, (on ? EPOLLIN : 0u) | out, token(i, false));
  }

  // Adds or removes interest in connection i's write fd becoming writable.
  // Rare: a 16-byte request waits only when the peer stops reading.
  long arm_writable(uint32_t i, bool on) {
    Slot& s = slots_[i];
    if (s.out_armed == on) return 0;
    const ClientConn& c = ex_[i].conn();
    long r;
    if (c.rfd == c.wfd)
      r = ep_.modify(c.rfd, EPOLLIN | (on ? EPOLLOUT : 0u), token(i, false));
    else
      r = on ? ep_.add(c.wfd, EPOLLOUT, token(i, true)) : ep_.remove(c.wfd);
    if (r == 0) s.out_armed = on;
    return r;
  }

  RunContext* ctx_ = nullptr;
  sys::Epoll ep_;
  std::vector<Exchange> ex_;
  std::vector<Slot> slots_;
  std::vector<Task> tasks_;  // one coroutine per connection, for one run()
  std::vector<uint8_t> buf_;
  std::vector<epoll_event> events_;
  Status broken_;
};

}  // namespace
}  // namespace detail

extern const ModelInfo model_coro_epoll{
    "coro-epoll",
    Quadrant::kAsyncNonblocking,
    Mechanism::kEpoll,
    /*coroutine=*/true,
    "the epoll reactor written as C++20 coroutines: co_await send/recv per connection, "
    "resumed from epoll_wait",
    [] { return std::unique_ptr<Model>(new detail::CoroEpoll()); },
    nullptr,
    detail::epoll_not_applicable};

}  // namespace iomodels
