// Description: `threads` (sync · blocking). One thread per connection, each
// doing exactly what `blocking` does for its own connection: write the
// request, then sleep in read() until the whole response is in. The waits
// overlap because the kernel parks each thread separately, so N connections
// take about one wait instead of N; the price is a thread (stack, scheduler
// entry, wake-up) per connection.
//
// The threads are created in setup() (untimed) and live until the model is
// destroyed. run(rounds) publishes the round count, bumps a generation word
// and wakes every thread with futex_wake; each thread serves its connection
// for `rounds` requests and decrements a countdown; the last one wakes the
// caller, which sleeps in futex_wait on that countdown. Both futex calls go
// through src/sys, so the wake-ups are counted like any other syscall.
#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "models/common.h"
#include "sys/time.h"

namespace iomodels {
namespace {

// Each thread's stack. Workers need little (a few frames and a Status), and
// 10,000 threads at glibc's default 8 MiB would reserve 80 GB of address space.
constexpr size_t kStackBytes = 64 * 1024;
// Each thread's read buffer (on the heap). Smaller than the single-threaded
// models' 256 KiB because there is one per connection: 10,000 of them.
constexpr size_t kThreadReadChunk = 64 * 1024;

std::string read_proc_line(const char* path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line.empty() ? "?" : line;
}

// Why pthread_create failed, with the limits that usually cause it.
std::string thread_limit_text(int err, size_t created, size_t wanted) {
  std::string s = "creating thread " + std::to_string(created + 1) + " of " +
                  std::to_string(wanted) + " (one per connection) failed: " + errno_text(-err);
  rlimit nproc{}, as{};
  ::getrlimit(RLIMIT_NPROC, &nproc);
  ::getrlimit(RLIMIT_AS, &as);
  const auto lim = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
  };
  s += "; limits: RLIMIT_NPROC=" + lim(nproc.rlim_cur) + ", RLIMIT_AS=" + lim(as.rlim_cur) +
       ", kernel.threads-max=" + read_proc_line("/proc/sys/kernel/threads-max") +
       ", vm.max_map_count=" + read_proc_line("/proc/sys/vm/max_map_count") +
       ", each thread needs a " + std::to_string(kStackBytes / 1024) + " KiB stack and up to " +
       std::to_string(kThreadReadChunk / 1024) +
       " KiB of buffer (EAGAIN = a limit, ENOMEM = memory)";
  return s;
}

class Threads final : public Model {
 public:
  ~Threads() override {
    // Wake every thread with the stop flag set, then wait for each. A thread
    // can only be inside a run if run() gave up, and then the peer is dead,
    // so its read() has already returned.
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    sys::futex_wake(&generation_, INT_MAX);
    for (Worker& w : workers_)
      if (w.started) ::pthread_join(w.tid, nullptr);
  }

  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = detail::set_nonblocking(ctx, false); !s.ok()) return s;
    const std::vector<Exchange> ex = detail::make_exchanges(ctx);
    // Sized once: the threads hold pointers into it.
    workers_ = std::vector<Worker>(ex.size());
    pthread_attr_t attr;
    ::pthread_attr_init(&attr);
    ::pthread_attr_setstacksize(&attr, std::max<size_t>(kStackBytes, PTHREAD_STACK_MIN));
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker& w = workers_[i];
      w.model = this;
      w.ex = ex[i];
      w.buf.resize(std::min<size_t>(ctx.size(), kThreadReadChunk));
      w.born = generation_.load(std::memory_order_relaxed);
      if (const int e = ::pthread_create(&w.tid, &attr, &Threads::entry, &w); e != 0) {
        ::pthread_attr_destroy(&attr);
        return Status::error(thread_limit_text(e, i, workers_.size()));
      }
      w.started = true;
    }
    ::pthread_attr_destroy(&attr);
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rounds == 0 || workers_.empty()) return {};
    failed_.store(false, std::memory_order_relaxed);
    first_error_ = {};
    rounds_ = rounds;
    pending_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
    // Release: a thread that sees the new generation also sees rounds_.
    generation_.fetch_add(1, std::memory_order_release);
    sys::futex_wake(&generation_, INT_MAX);

    // Sleep until the last thread is done. A wait that times out is only an
    // error if no request completed meanwhile: a run may take longer than
    // the timeout, a silence may not.
    const timespec limit = sys::to_timespec(ctx_->options.timeout_ns);
    uint64_t seen = ctx_->workload->progress();
    for (;;) {
      const uint32_t left = pending_.load(std::memory_order_acquire);
      if (left == 0) break;
      const long r = sys::futex_wait(&pending_, left, &limit);
      if (r != -ETIMEDOUT) continue;  // woken, changed (EAGAIN) or EINTR: re-check
      const uint64_t now_count = ctx_->workload->progress();
      if (now_count != seen) {
        seen = now_count;
        continue;
      }
      // The threads are stuck in read(); only the peer's death releases them.
      ctx_->workload->kill_peer();
      wait_idle();
      return detail::timed_out(*ctx_, "any connection to complete a request");
    }
    std::lock_guard lock(mu_);
    return first_error_;
  }

 private:
  struct Worker {
    Threads* model = nullptr;
    Exchange ex;
    detail::IoBuffer buf;
    pthread_t tid{};
    uint32_t born = 0;  // generation_ when the thread was created
    bool started = false;
  };

  static void* entry(void* arg) {
    auto* w = static_cast<Worker*>(arg);
    // Named on the timeline, as every thread the run makes.
    if (Trace* t = Trace::active()) t->name_thread("conn " + std::to_string(w->ex.conn().index));
    w->model->loop(*w);
    return nullptr;
  }

  // A thread's life: sleep until run() starts a new generation, serve it,
  // count down, repeat.
  void loop(Worker& w) {
    // The generation when setup() made this thread, not now: run() may have
    // started before the thread first got the CPU.
    uint32_t seen = w.born;
    for (;;) {
      // Idle between runs: no timeout, since run() is not waiting on this.
      while (generation_.load(std::memory_order_acquire) == seen)
        sys::futex_wait(&generation_, seen, nullptr);
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_relaxed)) return;
      if (Status s = serve(w, rounds_); !s.ok()) fail(std::move(s));
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) sys::futex_wake(&pending_, 1);
    }
  }

  // This thread's connection, `rounds` times: the `blocking` model's loop.
  Status serve(Worker& w, uint64_t rounds) {
    Exchange& ex = w.ex;
    for (uint64_t r = 0; r < rounds; ++r) {
      // Another thread failed: the run is lost, stop early.
      if (failed_.load(std::memory_order_relaxed)) return {};
      if (Status s = detail::send_request(*ctx_, ex); !s.ok()) return s;
      while (!ex.complete()) {
        // The thread sleeps here until the peer answers; the others run on.
        const long n = detail::read_response(ex, w.buf.data(), w.buf.size());
        if (n <= 0) return detail::read_failed(*ctx_, ex, n);
        Status err;
        if (!ex.feed(w.buf.data(), static_cast<size_t>(n), &err)) return err;
      }
      if (Status s = detail::finish_shared(*ctx_, ex); !s.ok()) return s;
    }
    return {};
  }

  void fail(Status s) {
    std::lock_guard lock(mu_);
    if (first_error_.ok()) first_error_ = std::move(s);
    failed_.store(true, std::memory_order_relaxed);
  }

  // After the peer was killed: the threads see EOF and count down.
  // Bounded too: at most one more timeout.
  void wait_idle() {
    const uint64_t deadline = now_ns() + ctx_->options.timeout_ns;
    for (;;) {
      const uint32_t left = pending_.load(std::memory_order_acquire);
      const uint64_t now = now_ns();
      if (left == 0 || now >= deadline) return;
      const timespec rest = sys::to_timespec(deadline - now);
      sys::futex_wait(&pending_, left, &rest);
    }
  }

  RunContext* ctx_ = nullptr;
  std::vector<Worker> workers_;
  uint64_t rounds_ = 0;                  // published by generation_
  std::atomic<uint32_t> generation_{0};  // futex word: bumped to start a run
  std::atomic<uint32_t> pending_{0};     // futex word: threads still serving
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::mutex mu_;  // guards first_error_
  Status first_error_;
};

}  // namespace

extern const ModelInfo model_threads{
    "threads",
    Quadrant::kSyncBlocking,
    Mechanism::kThreads,
    /*coroutine=*/false,
    "one thread per connection, each blocking in read() on its own connection",
    [] { return std::unique_ptr<Model>(new Threads); }};

}  // namespace iomodels
