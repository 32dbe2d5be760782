// Description: `coro-uring` (async · non-blocking): the io_uring proactor
// written as C++20 coroutines. Each connection is a coroutine that reads like
// the blocking model (`co_await conn.send(...)`, `co_await conn.recv(...)`);
// an awaitable queues an SQE tagged with the connection's index, and the
// completion loop, the scheduler, resumes the coroutine from its CQE.
//
// What a co_await costs in syscalls: none by itself. A send queues SEND (or
// WRITE on a pipe) flagged IOSQE_CQE_SKIP_SUCCESS and does not suspend: a
// 16-byte request never waits for room, a success posts no CQE, and a
// failure's CQE is handed to the connection's next wait (as `uring` does).
// Without CQE_SKIP the send suspends until its CQE. A recv queues RECV (or
// READ) and suspends. The loop makes one io_uring_enter per sweep, through
// the shared sys::Ring (src/sys/uring.h), that submits every SQE queued
// since the last one and waits for completions (a batch, where the kernel
// can bound the wait: see kUringBatchWaitUs).
#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <vector>

#include "models/common.h"
#include "models/coro.h"
#include "models/uring_tuning.h"

namespace iomodels {
namespace detail {
namespace {

class CoroUring final : public Model {
 public:
  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    // Blocking fds: io_uring waits for them itself; on an O_NONBLOCK pipe a
    // READ would complete with -EAGAIN instead.
    if (Status s = set_nonblocking(ctx, false); !s.ok()) return s;
    ex_ = make_exchanges(ctx);
    slots_.assign(ex_.size(), Slot{});
    tasks_.reserve(ex_.size());
    chunk_ = std::min(ctx.size(), kUringChunkBytes);
    // Each connection its own receive buffer: receives are in flight at once.
    mem_.resize(ex_.size() * size_t{chunk_});
    if (Status s = ring_.init(ring_options_for(ex_.size())); !s.ok()) return s;
    skip_success_ = ring_.can_skip_success();
    if (ctx.workload->options().transport == Transport::kFile && !ex_.empty())
      file_reads_ = file_reads_text(ex_[0].rfd());
    return {};
  }

  // As `uring`'s: the ring's flags, and how it reads a file.
  std::vector<Fact> facts() const override { return uring_facts(ring_, file_reads_); }

  Status run(uint64_t rounds) override {
    if (!broken_.ok()) return broken_;
    if (rounds == 0) return {};
    Status s = run_tasks(rounds);
    // A failed run leaves operations in flight that point at the buffers and
    // slots: no further runs (the ring's teardown cancels them).
    if (!s.ok()) broken_ = s;
    for (Slot& sl : slots_) sl.waiter = {};
    tasks_.clear();  // frames go back to the cache
    return s;
  }

  // --- the awaitables ---

  struct SendAwaiter {
    CoroUring* m;
    uint32_t i;
    const uint8_t* p;
    size_t n;
    long result = 0;

    bool await_ready() {
      Slot& s = m->slots_[i];
      if (s.error != 0) {
        result = s.error;
        return true;
      }
      if (!m->skip_success_) return false;
      // Queued, not yet submitted: the next enter takes it with the receive.
      result = m->queue_send(i, p, n, true);
      if (result == 0) result = static_cast<long>(n);
      return true;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      result = m->queue_send(i, p, n, false);
      if (result < 0) return false;
      m->slots_[i].wait(h, &result);
      return true;
    }
    long await_resume() const { return result; }
  };

  struct RecvAwaiter {
    CoroUring* m;
    uint32_t i;
    uint8_t* p;
    size_t n;
    long result = 0;

    bool await_ready() {
      result = m->slots_[i].error;  // a failed send: report it here
      return result != 0;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      result = m->queue_recv(i, p, n);
      if (result < 0) return false;
      m->slots_[i].wait(h, &result);
      return true;
    }
    long await_resume() const { return result; }
  };

  struct Conn {
    CoroUring* m;
    uint32_t i;
    SendAwaiter send(const uint8_t* p, size_t n) { return {m, i, p, n}; }
    RecvAwaiter recv(uint8_t* p, size_t n) { return {m, i, p, n}; }
  };

 private:
  enum class Op : uint64_t { kSend = 0, kRecv = 1 };
  static uint64_t token(uint32_t i, Op op) {
    return (uint64_t{i} << 1) | static_cast<uint64_t>(op);
  }

  // A connection's suspended coroutine and where its awaiter wants the result.
  struct Slot {
    std::coroutine_handle<> waiter;
    long* result = nullptr;
    long error = 0;  // a failed skip-success send, for the next wait
    void wait(std::coroutine_handle<> h, long* r) {
      waiter = h;
      result = r;
    }
  };

  bool is_socket() const {
    const Transport t = ctx_->workload->options().transport;
    return t == Transport::kSocketpair || t == Transport::kTcp;
  }

  // 0 or -errno. Ring::sqe submits first when the SQ is full.
  long queue_send(uint32_t i, const uint8_t* p, size_t n, bool skip) {
    io_uring_sqe* sqe = ring_.sqe(&sqe_error_);
    if (sqe == nullptr) return -EBUSY;
    const int fd = ex_[i].wfd();
    if (is_socket())
      // MSG_WAITALL: the kernel finishes a short send itself, so a skipped
      // success really means every byte went. MSG_NOSIGNAL: a dead peer is
      // -EPIPE, not SIGPIPE.
      io_uring_prep_send(sqe, fd, p, static_cast<unsigned>(n), MSG_WAITALL | MSG_NOSIGNAL);
    else
      io_uring_prep_write(sqe, fd, p, static_cast<unsigned>(n), 0);  // a pipe ignores the offset
    io_uring_sqe_set_data64(sqe, token(i, Op::kSend));
    if (skip) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;  // a failed send still posts one
    return 0;
  }

  long queue_recv(uint32_t i, uint8_t* p, size_t n) {
    io_uring_sqe* sqe = ring_.sqe(&sqe_error_);
    if (sqe == nullptr) return -EBUSY;
    const int fd = ex_[i].rfd();
    if (is_socket())
      io_uring_prep_recv(sqe, fd, p, n, 0);
    else  // a pipe ignores the offset; a file reads at the response's next byte
      io_uring_prep_read(sqe, fd, p, static_cast<unsigned>(n),
                         ex_[i].file() ? ex_[i].next_offset() : 0);
    io_uring_sqe_set_data64(sqe, token(i, Op::kRecv));
    return 0;
  }

  Status run_tasks(uint64_t rounds) {
    TaskGroup group;
    for (uint32_t i = 0; i < ex_.size(); ++i) {
      slots_[i] = Slot{};
      const std::span<uint8_t> buf(mem_.data() + size_t{i} * chunk_, chunk_);
      tasks_.push_back(client_loop(*ctx_, ex_[i], Conn{this, i}, buf, rounds));
    }
    // Each coroutine queues its first send and receive and suspends.
    for (Task& t : tasks_) {
      t.start(&group);
      if (!group.error.ok()) return with_sqe_error(group.error);
    }
    const uint64_t timeout = ctx_->options.timeout_ns;
    uint64_t last_progress = now_ns();
    while (group.running > 0) {
      const uint64_t waited = now_ns() - last_progress;
      if (waited >= timeout) return timed_out(*ctx_, "io_uring completions");
      // The sweep's one syscall: submit what the coroutines queued and sleep
      // until a completion is there, or the rest of the timeout is gone. As in
      // `uring`, no batch wait: its timer wakes the thread once more per enter.
      const long r = ring_.enter(1, timeout - waited);
      // ETIME, EINTR: loop and check the clock. EBUSY/EAGAIN: the kernel
      // wants the CQ reaped before it takes more.
      if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
        return Status::from_errno(r, "io_uring_enter");
      unsigned reaped = 0;
      Status s = ring_.reap([this](const io_uring_cqe& c) { return on_completion(c); }, &reaped);
      if (!s.ok()) return s;
      if (!group.error.ok()) return with_sqe_error(group.error);
      if (reaped > 0) last_progress = now_ns();
    }
    // The server role's last responses may be queued still (a send whose
    // success posts no CQE is not waited for): submit them.
    if (group.error.ok()) {
      const long r = ring_.enter(0, 0);
      if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN)
        return Status::from_errno(r, "io_uring_enter");
    }
    return group.error;
  }

  // The scheduler: hands a completion's result to the waiting coroutine and
  // resumes it, which runs until its next co_await has queued an SQE.
  Status on_completion(const io_uring_cqe& cqe) {
    const auto i = static_cast<uint32_t>(cqe.user_data >> 1);
    if (i >= slots_.size())
      return Status::error("io_uring: a completion with an unknown token " +
                           std::to_string(cqe.user_data));
    Slot& s = slots_[i];
    long res = cqe.res;
    if ((cqe.user_data & 1) == static_cast<uint64_t>(Op::kSend) && skip_success_) {
      // Only a failed send posts a CQE. EPIPE or ECONNRESET: the peer is gone.
      s.error = res < 0 ? res : -EIO;
      res = s.error;
    }
    if (s.waiter) {
      *s.result = res;
      // Cleared before resuming: the coroutine may wait again at once.
      std::exchange(s.waiter, {}).resume();
    }
    return {};
  }

  Status with_sqe_error(const Status& s) const { return sqe_error_.ok() ? s : sqe_error_; }

  RunContext* ctx_ = nullptr;
  // Declared before ring_, so the ring (cancelling what is in flight) goes
  // first: in-flight receives point into mem_, sends into ex_.
  IoBuffer mem_;
  std::vector<Exchange> ex_;
  std::vector<Slot> slots_;
  sys::Ring ring_;
  std::vector<Task> tasks_;  // one coroutine per connection, for one run()
  uint32_t chunk_ = 0;
  bool skip_success_ = false;
  std::string file_reads_;  // the file transport: file_reads_text of its file
  Status sqe_error_;        // why the SQ refused an entry, if it did
  Status broken_;
};

}  // namespace
}  // namespace detail

extern const ModelInfo model_coro_uring{
    "coro-uring",
    Quadrant::kAsyncNonblocking,
    Mechanism::kIoUring,
    /*coroutine=*/true,
    "the io_uring proactor written as C++20 coroutines: co_await send/recv queue SQEs, "
    "a CQE resumes the connection",
    [] { return std::unique_ptr<Model>(new detail::CoroUring()); },
    detail::uring_unavailable};

}  // namespace iomodels
