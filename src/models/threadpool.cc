// Description: `threadpool` (async · blocking). A fixed pool of T worker
// threads (--pool-threads, default: one per core) is made in setup(). run()
// hands every connection's work to the pool as one task ("complete this
// connection's requests for this run", written with plain blocking
// write/read), gets a std::future per task, and then blocks in future.get()
// on each in turn. The caller is asynchronous (it asked and could go on) but
// then blocks anyway; the workers block in read() too. With T workers only T
// connections wait at once, so N connections take about N/T waits.
//
// The task queue's wake-ups use sys::futex_wait/futex_wake and are counted.
// The futures' own waiting happens inside libstdc++ (an uncounted futex), so
// this model's syscall count misses about one futex call per task.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "models/common.h"

namespace iomodels {
namespace {

// Per read(): one buffer per worker, so the same size as the single-threaded
// models' is affordable.
constexpr size_t kReadChunk = 256 * 1024;

using Buffer = detail::IoBuffer;
// One connection's work for one run; runs on a worker with that worker's buffer.
using Task = std::packaged_task<Status(Buffer&)>;

class ThreadPool final : public Model {
 public:
  ~ThreadPool() override {
    stop_.store(true);
    queued_.fetch_add(1);
    sys::futex_wake(&queued_, INT_MAX);
    for (std::thread& t : workers_) t.join();
  }

  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = detail::set_nonblocking(ctx, false); !s.ok()) return s;
    ex_ = detail::make_exchanges(ctx);
    unsigned n = ctx.options.pool_threads;
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    // One read buffer per worker, made here so run() allocates none.
    bufs_ = std::vector<Buffer>(n);
    for (Buffer& b : bufs_) b.resize(std::min<size_t>(ctx.size(), kReadChunk));
    try {
      for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this, i] { work(bufs_[i]); });
    } catch (const std::system_error& e) {
      return Status::error("creating pool thread " + std::to_string(workers_.size() + 1) + " of " +
                           std::to_string(n) + ": " + e.what());
    }
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rounds == 0) return {};
    failed_.store(false, std::memory_order_relaxed);
    // Submit every connection's task, then wait for each answer.
    std::vector<std::future<Status>> answers;
    answers.reserve(ex_.size());
    for (Exchange& ex : ex_) {
      Task task([this, &ex, rounds](Buffer& buf) { return serve(ex, rounds, buf); });
      answers.push_back(task.get_future());
      submit(std::move(task));
    }
    Status first;
    for (std::future<Status>& f : answers) {
      if (Status s = wait(f); !s.ok() && first.ok()) first = std::move(s);
    }
    return first;
  }

 private:
  // One connection's requests for this run, with blocking calls.
  Status serve(Exchange& ex, uint64_t rounds, Buffer& buf) {
    for (uint64_t r = 0; r < rounds; ++r) {
      // Another task failed: the run is lost, so drain the queue quickly.
      if (failed_.load(std::memory_order_relaxed)) return {};
      Status s = detail::send_request(*ctx_, ex);
      while (s.ok() && !ex.complete()) {
        // This worker sleeps here until the peer answers.
        const long n = detail::read_response(ex, buf.data(), buf.size());
        if (n <= 0) {
          s = detail::read_failed(*ctx_, ex, n);
        } else if (Status err; !ex.feed(buf.data(), static_cast<size_t>(n), &err)) {
          s = std::move(err);
        }
      }
      if (!s.ok()) {
        failed_.store(true, std::memory_order_relaxed);
        return s;
      }
      detail::finish_shared(*ctx_, ex, now_ns());
    }
    return {};
  }

  // future.get(), bounded: a wait longer than the timeout is only an error if
  // no request completed meanwhile (a task may legitimately take longer).
  Status wait(std::future<Status>& f) {
    const auto limit = std::chrono::nanoseconds(ctx_->options.timeout_ns);
    uint64_t seen = ctx_->latency->count();
    while (f.wait_for(limit) == std::future_status::timeout) {
      const uint64_t now_count = ctx_->latency->count();
      if (now_count != seen) {
        seen = now_count;
        continue;
      }
      // The workers are stuck in read(); only the peer's death frees them,
      // and the tasks must end before run() returns: they use this model.
      ctx_->workload->kill_peer();
      f.wait();
      return detail::timed_out(*ctx_, "any connection to complete a request");
    }
    return f.get();
  }

  void submit(Task task) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(task));
    }
    // seq_cst pairs with the worker's sleepers_ increment: either it sees
    // the new count and does not sleep, or we see it sleeping and wake it.
    queued_.fetch_add(1);
    if (sleepers_.load() > 0) sys::futex_wake(&queued_, 1);
  }

  // A worker: take a task, run it, repeat; sleep on the futex when idle.
  void work(Buffer& buf) {
    for (;;) {
      const uint32_t seen = queued_.load();
      Task task;
      {
        std::lock_guard lock(mu_);
        if (!queue_.empty()) {
          task = std::move(queue_.front());
          queue_.pop_front();
        }
      }
      if (task.valid()) {
        task(buf);
        continue;
      }
      if (stop_.load()) return;
      // Idle between runs: no timeout, since no run is waiting on an empty queue.
      sleepers_.fetch_add(1);
      sys::futex_wait(&queued_, seen, nullptr);
      sleepers_.fetch_sub(1);
    }
  }

  RunContext* ctx_ = nullptr;
  std::vector<Exchange> ex_;
  std::vector<Buffer> bufs_;  // one per worker
  std::vector<std::thread> workers_;
  std::mutex mu_;  // guards queue_
  std::deque<Task> queue_;
  std::atomic<uint32_t> queued_{0};    // futex word: bumped per submitted task
  std::atomic<uint32_t> sleepers_{0};  // workers asleep on queued_
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
};

}  // namespace

extern const ModelInfo model_threadpool{
    "threadpool", Quadrant::kAsyncBlocking,
    "a fixed pool of workers doing blocking I/O; the caller submits tasks and waits on futures",
    [] { return std::unique_ptr<Model>(new ThreadPool); }};

}  // namespace iomodels
