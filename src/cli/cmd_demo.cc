// Description: `iomodels demo`: the download() story, once per quadrant. The
// program asks for a document (1), has its own work to do (2), then uses the
// document (3) — the same three steps in source order every time. The demo
// prints when each step really happened, and what the CPU did meanwhile.
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

#include "cli/commands.h"
#include "cli/demo_race.h"
#include "cli/demo_services.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/recorder.h"
#include "measure/trace.h"
#include "models/coro.h"
#include "models/model.h"
#include "run/session.h"
#include "sys/epoll_owner.h"
#include "sys/sys.h"
#include "sys/time.h"
#include "workload/payload.h"

namespace iomodels::cli {

using namespace frontend;
namespace {

struct DemoFlags {
  std::string latency = "300ms";
  std::string transport = "socketpair";
  std::string work = "50ms";
  std::string size = "64KiB";
  std::string trace;
  std::string trace_events = "100000";
  std::string color = "auto";
  bool json = false;
  bool python = false;
  bool services = false;
} flags;

// How own work advances: in slices, so the polling version can ask between
// them. 1 ms is short against the device's latency and long against a syscall.
constexpr uint64_t kWorkSliceNs = 1'000'000;
// The stalled-loop story's timer: the other callbacks an event loop serves.
constexpr uint64_t kTickNs = 5'000'000;
// Beyond a story's own latency and work, the watchdog's allowance for a slow
// machine before it declares the peer stuck.
constexpr uint64_t kWatchdogMarginNs = 30'000'000'000;

uint64_t thread_cpu_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

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

// Between two samples of one thread: running, runnable, sleeping (ns).
struct SchedSplit {
  uint64_t running = 0, runnable = 0, sleeping = 0;
  bool ok = false;
};

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

std::string sched_text(const char* who, const SchedSplit& d) {
  char b[200];
  std::snprintf(b, sizeof b, "%s thread: running %.1f ms, runnable %.1f ms, sleeping %.1f ms", who,
                static_cast<double>(d.running) / 1e6, static_cast<double>(d.runnable) / 1e6,
                static_cast<double>(d.sleeping) / 1e6);
  return b;
}

struct Step {
  uint64_t t_ns;
  std::string text;
};

// The stories, one per quadrant and one written with co_await. The kind
// chooses the code; the quadrant and the title are only printed.
enum class StoryKind {
  kSyncBlocking,
  kSyncNonblocking,
  kAsyncBlocking,
  kAsyncNonblocking,
  kAwait,
  kAwaitLazy,
  kStalledLoop
};

struct StoryInfo {
  StoryKind kind;
  const char* quadrant;
  const char* title;
  const char* python;  // the same story as a Python reader would write it
};

constexpr StoryInfo kStories[] = {
    {StoryKind::kSyncBlocking, "sync · blocking", "read()",
     "sock.sendall(req)\n"
     "data = sock.recv(n)        # read(): the thread sleeps in the kernel\n"
     "work()\n"
     "use(data)"},
    {StoryKind::kSyncNonblocking, "sync · non-blocking", "O_NONBLOCK, EAGAIN",
     "sock.setblocking(False); sock.sendall(req)\n"
     "while True:\n"
     "    work_slice()\n"
     "    try: data = sock.recv(n); break\n"
     "    except BlockingIOError: pass   # read() -> EAGAIN: a wasted check"},
    {StoryKind::kAsyncBlocking, "async · blocking", "thread, future.get()",
     "with ThreadPoolExecutor(1) as ex:\n"
     "    fut = ex.submit(download)    # the worker sleeps in recv()\n"
     "    work()\n"
     "    data = fut.result()          # this thread sleeps on a futex"},
    {StoryKind::kAsyncNonblocking, "async · non-blocking", "epoll, callback",
     "loop.add_reader(sock, on_readable)   # epoll_ctl(ADD)\n"
     "sock.sendall(req)\n"
     "work()                    # the loop cannot call back until this returns\n"
     "loop.run_forever()        # epoll_wait(); on_readable() uses the data"},
    {StoryKind::kAwait, "async · non-blocking", "coroutine, co_await on epoll",
     "loop.set_task_factory(asyncio.eager_task_factory)   # Python 3.12+\n"
     "task = asyncio.create_task(download())  # runs to its first await now\n"
     "work()                    # download() already sent its request\n"
     "data = await task"},
    {StoryKind::kAwaitLazy, "async · non-blocking",
     "coroutine started lazily, as asyncio.create_task",
     "task = asyncio.create_task(download())   # scheduled, not run\n"
     "work()                    # download() has not started: nothing was sent\n"
     "data = await task         # yields to the loop: now download() sends"},
    {StoryKind::kStalledLoop, "async · non-blocking, misused",
     "blocking read() inside the event loop",
     "async def handler():\n"
     "    data = sock.recv(n)    # a blocking call inside async code: the loop stops\n"
     "    work(); use(data)\n"
     "# meanwhile loop.call_later / other tasks' callbacks are all late"},
};

// One quadrant's story: its steps in the order they happened, and its cost.
struct Story {
  std::string title;
  std::string quadrant;  // "sync · blocking", ...
  std::vector<Step> steps;
  Measurement m;
  uint64_t checks = 0;  // how often it asked for the data
  uint64_t eagain = 0;  // of those, how many found nothing
  std::string waiting;  // what the CPU did while waiting
  std::string python;   // the same story in Python
  Status status;
  SchedSplit main_sched;       // the main thread over the story, from its schedstat
  uint64_t stalled_ticks = 0;  // the stalled-loop story: timer ticks that fell due
  uint64_t stall_ns = 0;       // and how late the first of them ran
  size_t trace_events = 0;     // events this story added to the timeline
  bool trace_cut = false;      // the timeline was full by the story's end
  // Story time (ns since the story began) of what the verdict is made of.
  uint64_t t_sent = 0;      // the request left
  uint64_t t_ready = 0;     // the fd first became readable (seen by a watcher thread)
  uint64_t t_used = 0;      // the program used the data (step 3)
  uint64_t t_got = 0;       // the first read that returned bytes
  uint64_t work_ns = 0;     // the own work, first to last slice
  uint64_t t_work_end = 0;  // when it ended
};

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// What the wall time followed, judged from the story's own timestamps: if
// the wait (request sent to data readable) and the own work did not overlap,
// both, one after the other; if they did, whichever of the two ended last.
std::string followed(const Story& s) {
  const uint64_t work_start = s.t_work_end - s.work_ns;
  const bool overlapped = work_start < s.t_ready && s.t_sent < s.t_work_end;
  if (!overlapped) return "wait+work";
  return s.t_work_end >= s.t_ready ? "work" : "wait";
}

// The story's verdict, in words made of its numbers.
std::vector<std::string> verdict(const Story& s) {
  const double wait = ms(s.t_ready - s.t_sent), work = ms(s.work_ns), wall = s.m.wall_s * 1e3;
  const double sat = ms(s.t_used - s.t_ready);
  char b[320];
  std::vector<std::string> out;
  const std::string f = followed(s);
  if (f == "wait+work")
    std::snprintf(
        b, sizeof b,
        "wall %.1f ms ≈ wait %.1f + work %.1f ms: one after the other, nothing overlapped", wall,
        wait, work);
  else if (f == "work")
    std::snprintf(
        b, sizeof b,
        "wall %.1f ms followed the work (%.1f ms), not the wait (%.1f ms): they overlapped", wall,
        work, wait);
  else
    std::snprintf(
        b, sizeof b,
        "wall %.1f ms followed the wait (%.1f ms), not the work (%.1f ms): they overlapped", wall,
        wait, work);
  out.push_back(b);
  std::snprintf(
      b, sizeof b, "data readable at t=%.1f ms, used at t=%.1f ms: it sat ready %.1f ms%s",
      ms(s.t_ready), ms(s.t_used), sat, sat >= 1.0 ? " while the program was busy elsewhere" : "");
  out.push_back(b);
  std::snprintf(b, sizeof b, "%llu of %llu checks found nothing (EAGAIN)",
                static_cast<unsigned long long>(s.eagain),
                static_cast<unsigned long long>(s.checks));
  out.push_back(b);
  if (s.stalled_ticks != 0) {
    std::snprintf(b, sizeof b,
                  "the loop was stuck: %llu timer ticks (every %.0f ms) fell due, the first ran "
                  "%.1f ms late",
                  static_cast<unsigned long long>(s.stalled_ticks), ms(kTickNs), ms(s.stall_ns));
    out.push_back(b);
  }
  if (s.main_sched.ok) out.push_back(sched_text("main", s.main_sched) + " (its schedstat)");
  return out;
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
    Status s = fut.get();
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

struct Colors {
  const char* bold = "";
  const char* dim = "";
  const char* off = "";
};

// Below this --latency the race's three devices (1, 2 and 3 thirds of it)
// would differ by less than a busy machine's scheduling noise.
constexpr uint64_t kRaceMinLatencyNs = 3'000'000;

void print_race(const Race& race, const Colors& k) {
  std::printf(
      "%sThree downloads, asked in the order A, B, C%s (devices of %.0f, %.0f and %.0f ms)\n",
      k.bold, k.off, ms(race.latency_ns[0]), ms(race.latency_ns[1]), ms(race.latency_ns[2]));
  for (const RaceRun* r : {&race.callbacks, &race.awaits}) {
    if (!r->status.ok()) {
      std::printf("  %-24s failed: %s\n", r->how.c_str(), r->status.message().c_str());
      continue;
    }
    std::string done;
    for (char name : r->order) {
      char b[48];
      std::snprintf(b, sizeof b, "%s%c at t=%.1f", done.empty() ? "" : ", ", name,
                    r->done_ms[static_cast<size_t>(name - 'A')]);
      done += b;
    }
    std::printf("  %-24s all sent by t=%.1f ms; finished %s ms\n", r->how.c_str(),
                std::max({r->sent_ms[0], r->sent_ms[1], r->sent_ms[2]}), done.c_str());
  }
  if (race.callbacks.status.ok() && race.awaits.status.ok())
    std::printf(
        "  → both finished in the order the data came (%s), not the order asked (ABC):\n"
        "    nothing waited for A while B and C were ready\n",
        race.callbacks.order == race.awaits.order ? race.callbacks.order.c_str() : "see above");
  if (flags.python)
    std::printf(
        "  %sin Python:%s\n"
        "    for done in asyncio.as_completed([get(a), get(b), get(c)]):\n"
        "        use(await done)        # B first, then C, then A\n",
        k.dim, k.off);
  std::printf("\n");
}

void print_story(const Story& s, const Colors& k) {
  std::printf("%s%s (%s)%s\n", k.bold, s.quadrant.c_str(), s.title.c_str(), k.off);
  if (!s.status.ok()) {
    std::printf("  failed: %s\n\n", s.status.message().c_str());
    return;
  }
  for (const Step& st : s.steps)
    std::printf("  %-48s t=%8.1f ms\n", st.text.c_str(), static_cast<double>(st.t_ns) / 1e6);
  std::printf("  %swall %.1f ms · CPU %.1f ms · checks %llu · syscalls %llu%s\n", k.dim,
              s.m.wall_s * 1e3, s.m.cpu_s() * 1e3, static_cast<unsigned long long>(s.checks),
              static_cast<unsigned long long>(s.m.calls.syscalls), k.off);
  for (const std::string& line : verdict(s)) std::printf("  → %s\n", line.c_str());
  if (flags.python) {
    std::printf("  %sin Python:%s\n", k.dim, k.off);
    size_t at = 0;
    while (at < s.python.size()) {
      const size_t nl = s.python.find('\n', at);
      const size_t end = nl == std::string::npos ? s.python.size() : nl;
      std::printf("    %s\n", s.python.substr(at, end - at).c_str());
      at = end + 1;
    }
  }
  std::printf("\n");
}

// The stories as one JSON document: every number a verdict is made of, and
// the verdict, so that a reader (or a test) can check one against the other.
nlohmann::json story_json(const Story& s) {
  nlohmann::json j;
  j["quadrant"] = s.quadrant;
  j["title"] = s.title;
  j["python"] = s.python;
  j["ok"] = s.status.ok();
  if (!s.status.ok()) {
    j["error"] = s.status.message();
    return j;
  }
  nlohmann::json steps = nlohmann::json::array();
  for (const Step& st : s.steps) steps.push_back({{"t_ms", ms(st.t_ns)}, {"text", st.text}});
  j["steps"] = steps;
  j["wall_ms"] = s.m.wall_s * 1e3;
  j["cpu_ms"] = s.m.cpu_s() * 1e3;
  j["syscalls"] = s.m.calls.syscalls;
  j["checks"] = s.checks;
  j["wasted_checks"] = s.eagain;
  j["sent_ms"] = ms(s.t_sent);
  j["ready_ms"] = ms(s.t_ready);
  j["used_ms"] = ms(s.t_used);
  j["wait_ms"] = ms(s.t_ready - s.t_sent);
  j["work_ms"] = ms(s.work_ns);
  j["sat_ready_ms"] = ms(s.t_used - s.t_ready);
  j["followed"] = followed(s);
  if (s.stalled_ticks != 0) {
    j["stalled_ticks"] = s.stalled_ticks;
    j["first_tick_late_ms"] = ms(s.stall_ns);
  }
  if (s.main_sched.ok)
    j["main_thread"] = {{"running_ms", ms(s.main_sched.running)},
                        {"runnable_ms", ms(s.main_sched.runnable)},
                        {"sleeping_ms", ms(s.main_sched.sleeping)}};
  j["verdict"] = verdict(s);
  return j;
}

std::string cell(const Story& s) {
  if (!s.status.ok()) return "failed";
  char buf[64];
  std::snprintf(buf, sizeof buf, "wall %.0f ms, CPU %.0f ms", s.m.wall_s * 1e3, s.m.cpu_s() * 1e3);
  return buf;
}

}  // namespace

CLI::App* add_demo(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "demo", "the download() story once per quadrant: what runs when, and what the CPU does");
  sub->add_option("-l,--latency", flags.latency, "how long the slow device takes")
      ->capture_default_str();
  sub->add_option("-t,--transport", flags.transport,
                  "pipe | socketpair | tcp: how the document travels from the peer (file has "
                  "no peer to wait for, so the demo refuses it)")
      ->capture_default_str();
  sub->add_option("-w,--work", flags.work, "the program's own CPU work while it waits")
      ->capture_default_str();
  sub->add_option("-s,--size", flags.size, "the document's size")->capture_default_str();
  sub->add_option("--trace", flags.trace, "write a timeline (Chrome Trace JSON, open in Perfetto)");
  sub->add_option("--trace-events", flags.trace_events,
                  "stop recording the timeline after N events (the stories it missed are named)")
      ->capture_default_str();
  sub->add_option("--color", flags.color, "auto | always | never")->capture_default_str();
  sub->add_flag("--services", flags.services,
                "also the story between processes: services A -> B -> C with C stalled for 1 s, "
                "called synchronously and through a queue (iomodels chain, a private "
                "nats-server; about 10 s)");
  sub->add_flag("--python", flags.python,
                "after each story, the same program as Python (socket, ThreadPoolExecutor, "
                "asyncio) would write it; docs/python.md says what runs underneath");
  sub->add_flag("--json", flags.json,
                "print the stories as JSON: steps, measured wait, work, wall, CPU, when the data "
                "became readable and was used, and each verdict");
  return sub;
}

int run_demo() {
  Scenario sc;
  sc.workload.transport = flag_transport("--transport", flags.transport);
  if (sc.workload.transport == Transport::kFile)
    throw UsageError(
        "--transport: file has no peer and no latency to wait for; the demo's stories need one "
        "(use pipe, socketpair or tcp; `run -t file` measures a file)");
  sc.workload.latency = flag_latency("--latency", flags.latency);
  sc.workload.connections = 1;
  sc.workload.size = static_cast<uint32_t>(flag_size("--size", flags.size, 1, kMaxResponseBytes));
  const uint64_t work_ns = flag_duration("--work", flags.work);
  if (work_ns > 10'000'000'000ull) throw UsageError("--work: at most 10s");
  if (sc.workload.latency.bound_ns() > 30'000'000'000ull)
    throw UsageError("--latency: at most 30s for the demo");
  if (flags.color != "auto" && flags.color != "always" && flags.color != "never")
    throw UsageError("--color: '" + flags.color + "' must be auto, always or never");
  const bool color = flags.color == "always" || (flags.color == "auto" && ::isatty(1));
  const Colors k = color ? Colors{"\033[1m", "\033[2m", "\033[0m"} : Colors{};

  const uint64_t max_events = flag_count("--trace-events", flags.trace_events, 1, 100'000'000);
  const OutputPath trace_out = check_output("--trace", flags.trace);
  std::unique_ptr<Trace> trace;
  if (!flags.trace.empty()) {
    trace = std::make_unique<Trace>(max_events);
    trace->name_process("iomodels demo");
    trace->install();
  }
  if (!flags.json)
    std::printf(
        "The download() story: ask for a document (1), do %s of own work (2), use the\n"
        "document (3). The device takes %s. Steps are numbered as in the source and\n"
        "listed in the order they really happened.\n\n",
        format_duration(work_ns).c_str(), sc.workload.latency.text().c_str());
  Demo demo(sc, work_ns);
  demo.set_trace_cap(max_events);
  std::vector<Story> stories;
  for (const StoryInfo& info : kStories) stories.push_back(demo.run(info));
  // The race needs latencies that differ by more than the machine's noise.
  const bool race_on = sc.workload.latency.kind == LatencySpec::Kind::kFixed &&
                       sc.workload.latency.bound_ns() >= kRaceMinLatencyNs;
  // The timeline holds the stories; the race is told in words and numbers.
  if (trace) trace->uninstall();
  Race race;
  if (race_on) race = run_race(sc);
  ServicesStory services;
  if (flags.services) services = run_services_story();
  int code = 0;
  for (const Story& s : stories)
    if (!s.status.ok()) code = 1;
  if (race_on && (!race.callbacks.status.ok() || !race.awaits.status.ok())) code = 1;
  if (!services.error.empty()) code = 1;
  if (flags.json) {
    nlohmann::json doc;
    doc["latency"] = sc.workload.latency.text();
    doc["work_ms"] = ms(work_ns);
    doc["stories"] = nlohmann::json::array();
    for (const Story& s : stories) doc["stories"].push_back(story_json(s));
    if (flags.services)
      doc["services"] = {{"ran", services.ran},
                         {"skipped", services.skipped},
                         {"error", services.error},
                         {"sync", services.sync},
                         {"queue", services.queue}};
    if (race_on) {
      doc["race"] = {
          {"asked", "ABC"},
          {"latency_ms", {ms(race.latency_ns[0]), ms(race.latency_ns[1]), ms(race.latency_ns[2])}}};
      for (const RaceRun* r : {&race.callbacks, &race.awaits})
        doc["race"]["runs"].push_back({{"how", r->how},
                                       {"ok", r->status.ok()},
                                       {"error", r->status.message()},
                                       {"order", r->order},
                                       {"sent_ms", r->sent_ms},
                                       {"done_ms", r->done_ms}});
    }
    if (trace) {
      trace->uninstall();
      trace_out.write(trace->to_json());
      doc["trace"] = {
          {"path", flags.trace}, {"events", trace->events()}, {"truncated", trace->truncated()}};
      for (const Story& s : stories)
        doc["trace"]["stories"].push_back(
            {{"title", s.title}, {"events", s.trace_events}, {"cut", s.trace_cut}});
    }
    std::printf("%s\n", doc.dump(2).c_str());
    return code;
  }
  for (const Story& s : stories) print_story(s, k);

  std::printf("%sThe 2x2 table, measured%s\n", k.bold, k.off);
  std::printf("         %-34s %-34s\n", "blocking", "non-blocking");
  std::printf("  sync   %-34s %-34s\n", cell(stories[0]).c_str(), cell(stories[1]).c_str());
  std::printf("         %-34s %-34s\n", stories[0].waiting.c_str(), stories[1].waiting.c_str());
  std::printf("  async  %-34s %-34s\n", cell(stories[2]).c_str(), cell(stories[3]).c_str());
  std::printf("         %-34s %-34s\n\n", stories[2].waiting.c_str(), stories[3].waiting.c_str());
  if (stories[4].status.ok() && stories[5].status.ok())
    std::printf(
        "%sTask start order, measured%s\n"
        "  eager (task.start(): runs to its first co_await at once): request sent at t=%.1f ms, "
        "wall %.1f ms\n"
        "  lazy  (asyncio.create_task: runs when the caller yields): request sent at t=%.1f ms, "
        "wall %.1f ms\n\n",
        k.bold, k.off, ms(stories[4].t_sent), stories[4].m.wall_s * 1e3, ms(stories[5].t_sent),
        stories[5].m.wall_s * 1e3);
  if (race_on) print_race(race, k);
  if (flags.services) std::fputs(services_story_text(services, flags.python).c_str(), stdout);
  std::printf(
      "Each story's → lines are computed from its own measurements: what the wall time\n"
      "followed (the wait, the work, or both in a row), how long the data sat ready\n"
      "before the program used it (a watcher thread sleeping in poll() saw when it\n"
      "became readable), and how many checks found nothing.\n");
  if (trace) {
    trace->uninstall();
    trace_out.write(trace->to_json());
    std::printf("\ntimeline: %s (%zu events%s) — open it in ui.perfetto.dev\n", flags.trace.c_str(),
                trace->events(), trace->truncated() ? ", truncated" : "");
    // Which stories the timeline holds whole, and which it lost to --trace-events.
    for (const Story& s : stories)
      if (s.trace_cut)
        std::printf(
            "  not on the timeline: \"%s\" did not fit whole in --trace-events %llu "
            "(only its parent slice is there)\n",
            s.title.c_str(), static_cast<unsigned long long>(max_events));
  }
  return code;
}

}  // namespace iomodels::cli
