// Description: `threadpool` (async · blocking). A fixed pool of T worker
// threads (--pool-threads, default: one per core) is made in setup(). run()
// hands every connection's work to the pool as one task ("complete this
// connection's requests for this run", written with plain blocking
// write/read), gets a future per task, and then blocks in future.get() on
// each in turn (the last queued first: when it is ready the others nearly
// always are, so the caller sleeps about once per run). The caller is
// asynchronous (it asked and could go on) but then blocks anyway; the workers
// block in read() too. With T workers only T connections wait at once, so N
// connections take about N/T waits.
//
// The future is not std::future but a small hand-written one, and the tasks
// are not std::packaged_task: each connection has one task slot with its
// future, made in setup() and reused by every run, so a request allocates
// nothing. A future is an atomic state word: the worker that finishes the
// task stores the answer and marks it ready, and calls futex_wake only if the
// caller is asleep on it; get() returns at once if the answer is there and
// otherwise sleeps in futex_wait. The queue is a ring of task pointers that
// only run() fills; workers claim tasks with a compare-and-swap and take the
// next one without sleeping, and sleep (futex_wait on a "bell" word) only
// when it is empty. run() rings the bell once after queueing all its tasks
// and makes the futex_wake call only if a worker sleeps. Every futex call
// goes through src/sys, so all of this model's waiting is counted.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <climits>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "models/common.h"
#include "sys/time.h"

namespace iomodels {
namespace {

using Buffer = detail::IoBuffer;

// A task's answer, promised by the worker that runs it and waited for by
// run(): the "future" of submit-a-task, get-a-future.
class Future {
 public:
  // Before the task is queued again (no thread is using it then).
  void reset() { state_.store(kPending, std::memory_order_relaxed); }

  // The worker's side (the promise): store the answer, then wake the
  // caller if it went to sleep waiting for it.
  void set(Status s) {
    answer_ = std::move(s);
    if (state_.exchange(kReady, std::memory_order_acq_rel) == kWaiting) sys::futex_wake(&state_, 1);
  }

  bool ready() const { return state_.load(std::memory_order_acquire) == kReady; }

  // Waits at most `limit` (nullptr: no limit) for the answer; true if it is
  // there. Sleeps only if it is not there yet.
  bool wait_for(const timespec* limit) {
    uint32_t s = state_.load(std::memory_order_acquire);
    while (s != kReady) {
      // Tell set() that someone sleeps here, unless it just became ready.
      if (s == kPending && !state_.compare_exchange_weak(s, kWaiting, std::memory_order_acquire)) {
        continue;  // s is the new state
      }
      const long r = sys::futex_wait(&state_, kWaiting, limit);
      s = state_.load(std::memory_order_acquire);
      if (r == -ETIMEDOUT && s != kReady) return false;
    }
    return true;
  }

  // The answer, once ready() (or wait_for() said so).
  Status get() { return std::move(answer_); }

 private:
  static constexpr uint32_t kPending = 0;  // the task has not finished
  static constexpr uint32_t kWaiting = 1;  // ... and the caller sleeps on it
  static constexpr uint32_t kReady = 2;    // answer_ is set
  std::atomic<uint32_t> state_{kReady};    // futex word
  Status answer_;
};

// One connection's work for one run ("serve ex for `rounds` requests") and
// its future; one per connection, made in setup() and reused by every run.
struct Task {
  Exchange* ex = nullptr;
  uint64_t rounds = 0;
  Future future;
};

class ThreadPool final : public Model {
 public:
  ~ThreadPool() override {
    // A worker can only be inside a task if run() gave up, and then the
    // peer is dead, so its read() has already returned.
    stop_.store(true);
    bell_.fetch_add(1);
    sys::futex_wake(&bell_, INT_MAX);
    for (std::thread& t : workers_) t.join();
  }

  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = detail::set_nonblocking(ctx, false); !s.ok()) return s;
    ex_ = detail::make_exchanges(ctx);
    // The task slots and the queue, made here so run() allocates nothing.
    tasks_ = std::make_unique<Task[]>(ex_.size());
    for (size_t i = 0; i < ex_.size(); ++i) tasks_[i].ex = &ex_[i];
    // Never more than one task per connection is queued, so the ring never
    // fills; a power of two keeps the indexes right when they wrap.
    ring_size_ = std::bit_ceil(std::max<size_t>(ex_.size(), 1));
    ring_ = std::make_unique<Task*[]>(ring_size_);
    unsigned n = ctx.options.pool_threads;
    // One worker per core of the machine, whatever --cpus allows the model:
    // the workers sleep in read() most of the time, so a pool sized to the
    // model's CPUs (one, when placed on two cores) would serialise the waits.
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    // One read buffer per worker.
    bufs_ = std::vector<Buffer>(n);
    for (Buffer& b : bufs_) b.resize(std::min<size_t>(ctx.size(), detail::kReadChunk));
    try {
      for (unsigned i = 0; i < n; ++i)
        workers_.emplace_back([this, i] {
          // Named on the timeline, as every thread the run makes.
          if (Trace* t = Trace::active()) t->name_thread("pool worker " + std::to_string(i));
          work(bufs_[i]);
        });
    } catch (const std::system_error& e) {
      return Status::error("creating pool thread " + std::to_string(workers_.size() + 1) + " of " +
                           std::to_string(n) + ": " + e.what());
    }
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rounds == 0 || ex_.empty()) return {};
    failed_.store(false, std::memory_order_relaxed);
    // Submit every connection's task, then wait for each answer.
    for (size_t i = 0; i < ex_.size(); ++i) {
      Task& task = tasks_[i];
      task.rounds = rounds;
      submit(task);
    }
    wake_workers(ex_.size());
    // The last task queued is about the last to finish, and by then the
    // others nearly always are: getting the futures from the last one back
    // lets the caller sleep about once per run, not once per task.
    Status first;
    for (size_t i = ex_.size(); i-- > 0;) {
      if (Status s = get(tasks_[i].future); !s.ok() && first.ok()) first = std::move(s);
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
      if (s.ok()) s = detail::finish_shared(*ctx_, ex);
      if (!s.ok()) {
        failed_.store(true, std::memory_order_relaxed);
        return s;
      }
    }
    return {};
  }

  // future.get(), bounded: a wait longer than the timeout is only an error if
  // no request completed meanwhile (a task may legitimately take longer).
  Status get(Future& f) {
    const timespec limit = sys::to_timespec(ctx_->options.timeout_ns);
    uint64_t seen = ctx_->workload->progress();
    while (!f.wait_for(&limit)) {
      const uint64_t now_count = ctx_->workload->progress();
      if (now_count != seen) {
        seen = now_count;
        continue;
      }
      // The workers are stuck in read(); only the peer's death frees them,
      // and the tasks must end before run() returns: they use this model.
      ctx_->workload->kill_peer();
      f.wait_for(nullptr);
      f.get();
      return detail::timed_out(*ctx_, "any connection to complete a request");
    }
    return f.get();
  }

  // Queues a task; its future is task.future. Only run()'s thread submits.
  // The workers see it once wake_workers() rings the bell (a worker that is
  // awake may take it sooner).
  void submit(Task& task) {
    task.future.reset();
    const uint32_t t = tail_.load(std::memory_order_relaxed);
    ring_[t & (ring_size_ - 1)] = &task;
    tail_.store(t + 1, std::memory_order_release);
  }

  // Rings the bell, and wakes up to `n` workers if any sleep.
  void wake_workers(size_t n) {
    // seq_cst pairs with the worker's sleepers_ increment: either it sees
    // the new bell and does not sleep, or we see it sleeping and wake it.
    bell_.fetch_add(1);
    const uint32_t asleep = sleepers_.load();
    if (asleep > 0) sys::futex_wake(&bell_, static_cast<int>(std::min<size_t>(asleep, n)));
  }

  // The next queued task, or nullptr if the queue is empty.
  Task* take() {
    uint32_t h = head_.load(std::memory_order_relaxed);
    for (;;) {
      // Acquire: the slot written before the tail moved is visible.
      if (h == tail_.load(std::memory_order_acquire)) return nullptr;
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_relaxed))
        return ring_[h & (ring_size_ - 1)];
    }
  }

  // A worker: take a task, run it, repeat without sleeping while tasks are
  // queued; sleep on the bell when the queue is empty.
  void work(Buffer& buf) {
    for (;;) {
      const uint32_t rung = bell_.load();
      if (Task* task = take()) {
        task->future.set(serve(*task->ex, task->rounds, buf));
        continue;
      }
      if (stop_.load()) return;
      // Idle between runs: no timeout, since no run is waiting on an empty queue.
      sleepers_.fetch_add(1);
      sys::futex_wait(&bell_, rung, nullptr);
      sleepers_.fetch_sub(1);
    }
  }

  RunContext* ctx_ = nullptr;
  std::vector<Exchange> ex_;
  std::unique_ptr<Task[]> tasks_;  // one per connection
  std::vector<Buffer> bufs_;       // one per worker
  std::vector<std::thread> workers_;
  // The queue: ring_[head_ .. tail_), indexes modulo ring_size_.
  std::unique_ptr<Task*[]> ring_;
  size_t ring_size_ = 0;
  std::atomic<uint32_t> head_{0};      // next task to take (workers)
  std::atomic<uint32_t> tail_{0};      // next free slot (run() only)
  std::atomic<uint32_t> bell_{0};      // futex word: bumped when tasks are queued
  std::atomic<uint32_t> sleepers_{0};  // workers asleep on bell_
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
};

}  // namespace

extern const ModelInfo model_threadpool{
    "threadpool",
    Quadrant::kAsyncBlocking,
    Mechanism::kThreadPool,
    /*coroutine=*/false,
    "a fixed pool of workers doing blocking I/O; the caller submits tasks and waits on futures",
    [] { return std::unique_ptr<Model>(new ThreadPool); }};

}  // namespace iomodels
