// Description: the demo's stories as code: each quadrant's way of asking for
// the document, doing its own work and using the document, played inside a
// measured Session with a watcher thread that notes when the data was ready.
#include "cli/demo_player.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <coroutine>
#include <cstdio>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "measure/recorder.h"
#include "measure/trace.h"
#include "models/coro.h"
#include "models/model.h"
#include "peer/payload.h"
#include "run/session.h"
#include "sys/epoll_owner.h"
#include "sys/sys.h"
#include "sys/time.h"

namespace iomodels::cli {
namespace {

// Beyond a story's own latency and work, the watchdog's allowance for a slow
// machine before it declares the peer stuck.
constexpr uint64_t kWatchdogMarginNs = 30'000'000'000;

// A fixed amount of real CPU work: `ns` of this thread's CPU time.
void burn_cpu(uint64_t ns) {
  const uint64_t until = thread_cpu_ns() + ns;
  volatile uint64_t x = 0;
  while (thread_cpu_ns() < until) {
    for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ULL + 1;
  }
}

// A thread's own scheduler statistics (/proc/thread-self/schedstat): the
// time it ran on a CPU and the time it was runnable but waited for one. What
// is left of the wall time, it slept.
struct Sched {
  uint64_t run_ns = 0;
  uint64_t wait_ns = 0;
  uint64_t at_ns = 0;
  bool ok = false;
};

Sched sched_now() {
  Sched s;
  s.at_ns = now_ns();
  if (FILE* f = std::fopen("/proc/thread-self/schedstat", "re")) {
    unsigned long long run = 0, wait = 0;
    s.ok = std::fscanf(f, "%llu %llu", &run, &wait) == 2;
    std::fclose(f);
    s.run_ns = run;
    s.wait_ns = wait;
  }
  return s;
}

SchedSplit sched_split(const Sched& a, const Sched& b) {
  SchedSplit d;
  d.ok = a.ok && b.ok;
  if (!d.ok) return d;
  d.running = b.run_ns - a.run_ns;
  d.runnable = b.wait_ns - a.wait_ns;
  const uint64_t wall = b.at_ns - a.at_ns;
  d.sleeping = wall > d.running + d.runnable ? wall - d.running - d.runnable : 0;
  return d;
}

class Demo;

// A story run as a model of one connection, so that the demo is measured in
// the same window (Session::measure) as run, bench and calibrate.
class StoryModel : public Model {
 public:
  StoryModel(Demo* demo, StoryKind kind) : demo_(demo), kind_(kind) {}
  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    return {};
  }
  Status run(uint64_t rounds) override;

 private:
  Demo* demo_;
  StoryKind kind_;
  RunContext* ctx_ = nullptr;
};

class Demo {
 public:
  Demo(const Scenario& sc, uint64_t work_ns) : sc_(sc), work_ns_(work_ns) {
    sc_.model = "demo";
    sc_.warmup_rounds = 0;
    // Every wait of a story is bounded by its own device latency and work;
    // the watchdog is only the last resort.
    sc_.run.timeout_ns = sc.workload.latency.bound_ns() + work_ns + kWatchdogMarginNs;
  }

  void set_trace_cap(size_t cap) { trace_cap_ = cap; }

  Story run(const StoryInfo& info) {
    Story s;
    s.python = info.python;
    s.title = info.title;
    s.quadrant = info.quadrant;
    story_ = &s;
    std::unique_ptr<Session> session;
    s.status = Session::open(sc_, std::make_unique<StoryModel>(this, info.kind), &session);
    if (!s.status.ok()) return s;
    buf_.assign(sc_.workload.size, 0);
    Trace* const t = Trace::active();
    if (t) t->name_thread("main");
    ++story_index_;
    const size_t events_before = t ? t->events() : 0;
    const Sched before = sched_now();
    const uint64_t start = before.at_ns;
    ScenarioResult r;
    s.status = session->measure(
        [this](Session& ses, uint64_t* done) {
          t0_ = now_ns();
          *done = 1;
          return ses.rounds(1);
        },
        &r);
    s.m = r.m;
    const Sched after = sched_now();
    s.main_sched = sched_split(before, after);
    // The story's parent slice on the main thread: everything it did lies
    // inside; its detail says how the main thread spent it.
    if (t) {
      const std::string detail = s.main_sched.ok ? sched_text("main", s.main_sched) : "";
      t->slice(("story: " + s.title).c_str(), "story", start, after.at_ns,
               detail.empty() ? nullptr : detail.c_str());
      s.trace_events = t->events() - events_before;
      // The cap never cuts a story in half: one that did not fit whole is
      // taken out, and only its parent slice stays, saying so.
      s.trace_cut = t->events() >= trace_cap_;
      if (s.trace_cut) {
        t->drop_since(events_before);
        t->slice(("story: " + s.title).c_str(), "story", start, after.at_ns,
                 "not recorded: the timeline (--trace-events) was full");
        s.trace_events = 0;
      }
    }
    return s;
  }

  // The story of `kind` on connection c, once, with a watcher thread that
  // sleeps in poll() on the same fd and notes when the data first became
  // readable: the moment the wait ended, whatever the story was doing then.
  // poll() consumes nothing, so the story reads exactly as without it.
  Status play(StoryKind kind, const ClientConn& c) {
    int cancel[2];
    if (::pipe2(cancel, O_CLOEXEC) != 0) return Status::from_errno(-errno, "pipe2");
    std::atomic<uint64_t> ready{0};
    std::atomic<bool> watching{false};
    std::thread watcher([&] {
      if (Trace* t = Trace::active()) t->name_thread("watcher");
      pollfd p[2] = {{c.rfd, POLLIN, 0}, {cancel[0], POLLIN, 0}};
      watching = true;
      int n;
      do n = ::poll(p, 2, -1);
      while (n < 0 && errno == EINTR);
      if (n > 0 && (p[0].revents & POLLIN)) ready = now_ns();
    });
    while (!watching) std::this_thread::yield();
    Status s = play_story(kind, c);
    const char x = 0;
    [[maybe_unused]] const ssize_t w = ::write(cancel[1], &x, 1);
    watcher.join();
    ::close(cancel[0]);
    ::close(cancel[1]);
    const uint64_t r = ready.load();
    // The watcher may wake after the story's own read took the bytes; the
    // data was readable no later than that read.
    story_->t_ready = r > t0_ ? r - t0_ : story_->t_got;
    if (story_->t_got != 0) story_->t_ready = std::min(story_->t_ready, story_->t_got);
    story_->t_ready = std::max(story_->t_ready, story_->t_sent);
    return s;
  }

 private:
  Status play_story(StoryKind kind, const ClientConn& c) {
    switch (kind) {
      case StoryKind::kSyncBlocking:
        return sync_blocking(c);
      case StoryKind::kSyncNonblocking:
        return sync_nonblocking(c);
      case StoryKind::kAsyncBlocking:
        return async_blocking(c);
      case StoryKind::kAsyncNonblocking:
        return async_nonblocking(c);
      case StoryKind::kAwait:
        return async_await(c, /*eager=*/true);
      case StoryKind::kAwaitLazy:
        return async_await(c, /*eager=*/false);
      case StoryKind::kStalledLoop:
        return stalled_loop(c);
    }
    return Status::error("unknown story");
  }

  void step(const std::string& text) {
    std::lock_guard lock(mu_);
    const uint64_t now = now_ns();
    story_->steps.push_back({now - t0_, text});
    if (Trace* t = Trace::active()) t->instant(text.c_str(), now);
  }

  // A flow's id on the timeline, unique across stories: the story's number
  // and which of its arrows (1 download, 2 hand-off to a thread, 3 result back).
  uint64_t flow_id(uint64_t arrow) const { return (story_index_ << 8) | arrow; }

  // Step 3: the program uses the data now.
  void used(const std::string& text) {
    story_->t_used = now_ns() - t0_;
    step(text);
  }

  void own_work() {
    step("2. doing my own work");
    const uint64_t start = now_ns();
    burn_cpu(work_ns_);
    const uint64_t end = now_ns();
    story_->work_ns = end - start;
    story_->t_work_end = end - t0_;
    if (Trace* t = Trace::active()) t->slice("own work", "work", start, end);
    step("2. own work done");
  }

  Status send(const ClientConn& c) {
    const Request rq{c.index, sc_.workload.size, 1};
    const uint64_t now = now_ns();
    story_->t_sent = now - t0_;
    if (Trace* t = Trace::active()) t->request_begin(flow_id(1), now, "download");
    const long n = sys::write(c.wfd, &rq, sizeof rq);
    if (n != static_cast<long>(sizeof rq)) return Status::from_errno(n < 0 ? n : -EIO, "write");
    return {};
  }

  // Reads what is there; true once the whole document is in and verified.
  Status take(const ClientConn& c, bool* done) {
    const long n = sys::read(c.rfd, buf_.data() + got_, buf_.size() - got_);
    ++story_->checks;
    if (n == -EAGAIN) {
      ++story_->eagain;
      return {};
    }
    if (n <= 0) return Status::from_errno(n == 0 ? -EPIPE : n, "read");
    if (got_ == 0) story_->t_got = now_ns() - t0_;
    got_ += static_cast<size_t>(n);
    *done = got_ == buf_.size();
    if (*done) {
      if (verify_payload(c.index, 1, 0, buf_.data(), buf_.size()) != buf_.size())
        return Status::error("the document arrived corrupted");
      if (Trace* t = Trace::active()) t->request_end(flow_id(1), now_ns(), "download");
    }
    return {};
  }

  Status sync_blocking(const ClientConn& c) {
    story_->waiting = "slept in read()";
    got_ = 0;
    sys::fcntl_setfl(c.rfd, 0, O_NONBLOCK);
    if (Status s = send(c); !s.ok()) return s;
    step("1. request sent; read() blocks");
    bool done = false;
    while (!done)
      if (Status s = take(c, &done); !s.ok()) return s;
    step("1. read() returned: data received");
    own_work();
    used("3. data used");
    return {};
  }

  Status sync_nonblocking(const ClientConn& c) {
    story_->waiting = "asked again and again (EAGAIN)";
    got_ = 0;
    sys::fcntl_setfl(c.rfd, O_NONBLOCK, 0);
    if (Status s = send(c); !s.ok()) return s;
    step("1. request sent (O_NONBLOCK)");
    // Own work in slices, asking between them; then keep asking until it is there.
    step("2. doing my own work, asking between 1 ms slices");
    bool done = false;
    uint64_t worked = 0;
    const uint64_t start = now_ns();
    while (worked < work_ns_) {
      burn_cpu(kWorkSliceNs);
      worked += kWorkSliceNs;
      if (!done) {
        if (Status s = take(c, &done); !s.ok()) return s;
        if (done) used("3. data received and used (between slices of work)");
      }
    }
    const uint64_t end = now_ns();
    story_->work_ns = end - start;
    story_->t_work_end = end - t0_;
    if (Trace* t = Trace::active()) t->slice("own work", "work", start, end);
    step("2. own work done; asked " + std::to_string(story_->checks) + " times so far");
    if (done) return {};
    while (!done)
      if (Status s = take(c, &done); !s.ok()) return s;
    used("3. data received and used after " + std::to_string(story_->checks) + " checks");
    return {};
  }

  Status async_blocking(const ClientConn& c) {
    story_->waiting = "slept in future.get()";
    got_ = 0;
    sys::fcntl_setfl(c.rfd, 0, O_NONBLOCK);
    // The timeline's arrows follow the work across threads: main hands the
    // download to the worker (2), the worker hands the result back (3).
    if (Trace* t = Trace::active()) t->request_begin(flow_id(2), now_ns(), "hand-off");
    auto fut = std::async(std::launch::async, [&]() -> Status {
      Trace* const t = Trace::active();
      const Sched born = sched_now();
      if (t) {
        t->name_thread("worker");
        t->request_end(flow_id(2), now_ns(), "hand-off");
      }
      // The worker's life as one slice, its detail how it spent it.
      struct Life {
        Trace* t;
        Sched born;
        ~Life() {
          if (!t) return;
          const Sched end = sched_now();
          const SchedSplit d = sched_split(born, end);
          const std::string text = d.ok ? sched_text("worker", d) : "";
          t->slice("worker", "story", born.at_ns, end.at_ns, text.empty() ? nullptr : text.c_str());
        }
      } life{t, born};
      if (Status s = send(c); !s.ok()) return s;
      step("   [worker] request sent; read() blocks");
      bool done = false;
      while (!done)
        if (Status s = take(c, &done); !s.ok()) return s;
      step("   [worker] data received");
      if (t) t->request_begin(flow_id(3), now_ns(), "result");
      return {};
    });
    step("1. request handed to a worker thread");
    own_work();
    step("3. blocked on future.get()");
    // The main thread sleeps on a futex here; no sys wrapper sees it, so it
    // becomes a slice of its own.
    const uint64_t get_start = now_ns();
    Status s = fut.get();
    if (Trace* t = Trace::active())
      t->slice("future.get()", "syscall", get_start, now_ns(), "futex: until the worker's result");
    if (s.ok()) {
      if (Trace* t = Trace::active()) t->request_end(flow_id(3), now_ns(), "result");
      used("3. future.get() returned: data used");
    }
    return s;
  }

  // An event loop that also serves a timer due every kTickNs (the other
  // clients' callbacks); one callback makes a blocking read(). While it
  // sleeps in read() and then works, nothing else in the loop can run: the
  // timer's due ticks pile up, counted by the timerfd itself.
  Status stalled_loop(const ClientConn& c) {
    story_->waiting = "the loop slept in read()";
    got_ = 0;
    sys::fcntl_setfl(c.rfd, 0, O_NONBLOCK);
    const int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0) return Status::from_errno(-errno, "timerfd_create");
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{tfd};
    sys::Epoll ep;
    if (Status s = ep.open(); !s.ok()) return s;
    if (Status s = ep.watch(tfd, EPOLLIN, 1); !s.ok()) return s;
    const itimerspec every{sys::to_timespec(kTickNs), sys::to_timespec(kTickNs)};
    if (::timerfd_settime(tfd, 0, &every, nullptr) != 0)
      return Status::from_errno(-errno, "timerfd_settime");
    const uint64_t armed = now_ns();
    // The callback that blocks.
    if (Status s = send(c); !s.ok()) return s;
    step("1. [callback] request sent; read() blocks the loop");
    bool done = false;
    while (!done)
      if (Status s = take(c, &done); !s.ok()) return s;
    step("1. [callback] read() returned");
    own_work();
    used("3. [callback] data used; the loop runs again");
    // Back in the loop: the timer's callback finally runs.
    epoll_event ev{};
    const long n = ep.wait(&ev, 1, 1000);
    if (n <= 0) return Status::from_errno(n == 0 ? -ETIMEDOUT : n, "epoll_wait");
    uint64_t due = 0;
    if (::read(tfd, &due, sizeof due) != static_cast<ssize_t>(sizeof due))
      return Status::from_errno(-errno, "read timerfd");
    const uint64_t late = now_ns() - (armed + kTickNs);
    story_->stalled_ticks = due;
    story_->stall_ns = late;
    step("   [timer callback] runs at last: " + std::to_string(due) + " ticks were due");
    return {};
  }

  // The two epoll stories: a non-blocking fd that an epoll set watches.
  Status watch_readable(const ClientConn& c, sys::Epoll* ep) {
    story_->waiting = "slept in epoll_wait()";
    got_ = 0;
    sys::fcntl_setfl(c.rfd, O_NONBLOCK, 0);
    if (Status s = ep->open(); !s.ok()) return s;
    return ep->watch(c.rfd, EPOLLIN, 0);
  }

  Status async_nonblocking(const ClientConn& c) {
    sys::Epoll ep;
    if (Status s = watch_readable(c, &ep); !s.ok()) return s;
    epoll_event ev{};
    if (Status s = send(c); !s.ok()) return s;
    step("1. request sent; callback registered");
    own_work();
    bool done = false;
    while (!done) {
      const long n = ep.wait(&ev, 1, 30'000);
      if (n <= 0) return Status::from_errno(n == 0 ? -ETIMEDOUT : n, "epoll_wait");
      TraceScope scope("callback", "callback");
      if (Status s = take(c, &done); !s.ok()) return s;
      if (done) used("3. [callback] data received and used");
    }
    return {};
  }

  // co_await suspends the coroutine until the demo's epoll loop resumes it.
  struct Readable {
    std::coroutine_handle<>* slot;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { *slot = h; }
    void await_resume() const noexcept {}
  };

  // download(), written as if it blocked: send, co_await, use the data.
  detail::Task download(const ClientConn& c, Status* out) {
    if (Status s = send(c); !s.ok()) {
      *out = s;
      co_return s;
    }
    step("1. request sent; co_await suspends download()");
    bool done = false;
    while (!done) {
      co_await Readable{&waiting_};
      if (Status s = take(c, &done); !s.ok()) {
        *out = s;
        co_return s;
      }
    }
    used("3. [download() resumed] data received and used");
    co_return Status();
  }

  // Eager: task.start() runs download() at once, up to its first co_await,
  // so the request leaves before the own work. Lazy, as asyncio's
  // create_task: the task only runs when its creator yields to the loop,
  // which a caller busy with its own work does only after that work.
  Status async_await(const ClientConn& c, bool eager) {
    sys::Epoll ep;
    if (Status s = watch_readable(c, &ep); !s.ok()) return s;
    epoll_event ev{};
    Status result;
    detail::TaskGroup group;
    waiting_ = {};
    detail::Task task = download(c, &result);
    if (eager) {
      task.start(&group);  // runs download() up to its first co_await
      own_work();
    } else {
      step("1. task created; it runs when this code yields");
      own_work();
      step("   yield to the loop: the task starts now");
      task.start(&group);
    }
    while (group.running > 0 && result.ok()) {
      const long n = ep.wait(&ev, 1, 30'000);
      if (n <= 0) return Status::from_errno(n == 0 ? -ETIMEDOUT : n, "epoll_wait");
      std::coroutine_handle<> h = std::exchange(waiting_, {});
      if (h) h.resume();  // back into download(), after its co_await
    }
    return result;
  }

  Scenario sc_;
  uint64_t work_ns_;
  Story* story_ = nullptr;
  std::coroutine_handle<> waiting_;
  uint64_t story_index_ = 0;
  size_t trace_cap_ = Trace::kDefaultMaxEvents;
  std::mutex mu_;
  uint64_t t0_ = 0;
  std::vector<uint8_t> buf_;
  size_t got_ = 0;
};

Status StoryModel::run(uint64_t rounds) {
  for (uint64_t i = 0; i < rounds; ++i)
    if (Status s = demo_->play(kind_, ctx_->conns()[0]); !s.ok()) return s;
  return {};
}

}  // namespace

std::vector<Story> play_stories(const Scenario& sc, uint64_t work_ns, size_t trace_cap) {
  Demo demo(sc, work_ns);
  demo.set_trace_cap(trace_cap);
  std::vector<Story> stories;
  for (const StoryInfo& info : demo_stories()) stories.push_back(demo.run(info));
  return stories;
}

}  // namespace iomodels::cli
