// Description: `iomodels demo`: the download() story, once per quadrant. The
// program asks for a document (1), has its own work to do (2), then uses the
// document (3) — the same three steps in source order every time. The demo
// prints when each step really happened, and what the CPU did meanwhile.
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <cstdio>
#include <future>
#include <mutex>
#include <vector>

#include "cli/commands.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/recorder.h"
#include "measure/trace.h"
#include "models/coro.h"
#include "models/model.h"
#include "run/session.h"
#include "sys/epoll_owner.h"
#include "sys/sys.h"
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
  std::string color = "auto";
} flags;

// How own work advances: in slices, so the polling version can ask between
// them. 1 ms is short against the device's latency and long against a syscall.
constexpr uint64_t kWorkSliceNs = 1'000'000;
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

struct Step {
  uint64_t t_ns;
  std::string text;
};

// The stories, one per quadrant and one written with co_await. The kind
// chooses the code; the quadrant and the title are only printed.
enum class StoryKind { kSyncBlocking, kSyncNonblocking, kAsyncBlocking, kAsyncNonblocking, kAwait };

struct StoryInfo {
  StoryKind kind;
  const char* quadrant;
  const char* title;
};

constexpr StoryInfo kStories[] = {
    {StoryKind::kSyncBlocking, "sync · blocking", "read()"},
    {StoryKind::kSyncNonblocking, "sync · non-blocking", "O_NONBLOCK, EAGAIN"},
    {StoryKind::kAsyncBlocking, "async · blocking", "thread, future.get()"},
    {StoryKind::kAsyncNonblocking, "async · non-blocking", "epoll, callback"},
    {StoryKind::kAwait, "async · non-blocking", "coroutine, co_await on epoll"},
};

// One quadrant's story: its steps in the order they happened, and its cost.
struct Story {
  std::string title;
  std::string quadrant;  // "sync · blocking", ...
  std::vector<Step> steps;
  Measurement m;
  uint64_t checks = 0;  // how often it asked for the data
  std::string waiting;  // what the CPU did while waiting
  Status status;
};

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

  Story run(const StoryInfo& info) {
    Story s;
    s.title = info.title;
    s.quadrant = info.quadrant;
    story_ = &s;
    std::unique_ptr<Session> session;
    s.status = Session::open(sc_, std::make_unique<StoryModel>(this, info.kind), &session);
    if (!s.status.ok()) return s;
    buf_.assign(sc_.workload.size, 0);
    if (Trace* t = Trace::active()) t->name_thread("main");
    ScenarioResult r;
    s.status = session->measure(
        [this](Session& ses, uint64_t* done) {
          t0_ = now_ns();
          *done = 1;
          return ses.rounds(1);
        },
        &r);
    s.m = r.m;
    return s;
  }

  // The story of `kind` on connection c, once.
  Status play(StoryKind kind, const ClientConn& c) {
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
        return async_await(c);
    }
    return Status::error("unknown story");
  }

 private:
  void step(const std::string& text) {
    std::lock_guard lock(mu_);
    const uint64_t now = now_ns();
    story_->steps.push_back({now - t0_, text});
    if (Trace* t = Trace::active()) t->instant(text.c_str(), now);
  }

  void own_work() {
    step("2. doing my own work");
    const uint64_t start = now_ns();
    burn_cpu(work_ns_);
    if (Trace* t = Trace::active()) t->slice("own work", "work", start, now_ns());
    step("2. own work done");
  }

  Status send(const ClientConn& c) {
    const Request rq{c.index, sc_.workload.size, 1};
    if (Trace* t = Trace::active()) t->request_begin(1, now_ns(), "download");
    const long n = sys::write(c.wfd, &rq, sizeof rq);
    if (n != static_cast<long>(sizeof rq)) return Status::from_errno(n < 0 ? n : -EIO, "write");
    return {};
  }

  // Reads what is there; true once the whole document is in and verified.
  Status take(const ClientConn& c, bool* done) {
    const long n = sys::read(c.rfd, buf_.data() + got_, buf_.size() - got_);
    ++story_->checks;
    if (n == -EAGAIN) return {};
    if (n <= 0) return Status::from_errno(n == 0 ? -EPIPE : n, "read");
    got_ += static_cast<size_t>(n);
    *done = got_ == buf_.size();
    if (*done) {
      if (verify_payload(c.index, 1, 0, buf_.data(), buf_.size()) != buf_.size())
        return Status::error("the document arrived corrupted");
      if (Trace* t = Trace::active()) t->request_end(1, now_ns(), "download");
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
    step("3. data used");
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
        if (done) step("3. data received (between slices of work)");
      }
    }
    if (Trace* t = Trace::active()) t->slice("own work", "work", start, now_ns());
    step("2. own work done; asked " + std::to_string(story_->checks) + " times so far");
    while (!done)
      if (Status s = take(c, &done); !s.ok()) return s;
    step("3. data received after " + std::to_string(story_->checks) + " checks");
    return {};
  }

  Status async_blocking(const ClientConn& c) {
    story_->waiting = "slept in future.get()";
    got_ = 0;
    sys::fcntl_setfl(c.rfd, 0, O_NONBLOCK);
    auto fut = std::async(std::launch::async, [&]() -> Status {
      if (Trace* t = Trace::active()) t->name_thread("worker");
      if (Status s = send(c); !s.ok()) return s;
      step("   [worker] request sent; read() blocks");
      bool done = false;
      while (!done)
        if (Status s = take(c, &done); !s.ok()) return s;
      step("   [worker] data received");
      return {};
    });
    step("1. request handed to a worker thread");
    own_work();
    step("3. blocked on future.get()");
    Status s = fut.get();
    if (s.ok()) step("3. future.get() returned: data used");
    return s;
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
      if (done) step("3. [callback] data received and used");
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
    step("3. [download() resumed] data received and used");
    co_return Status();
  }

  Status async_await(const ClientConn& c) {
    sys::Epoll ep;
    if (Status s = watch_readable(c, &ep); !s.ok()) return s;
    epoll_event ev{};
    Status result;
    detail::TaskGroup group;
    waiting_ = {};
    detail::Task task = download(c, &result);
    task.start(&group);  // runs download() up to its first co_await
    own_work();
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

void print_story(const Story& s, const Colors& k) {
  std::printf("%s%s (%s)%s\n", k.bold, s.quadrant.c_str(), s.title.c_str(), k.off);
  if (!s.status.ok()) {
    std::printf("  failed: %s\n\n", s.status.message().c_str());
    return;
  }
  for (const Step& st : s.steps)
    std::printf("  %-48s t=%8.1f ms\n", st.text.c_str(), static_cast<double>(st.t_ns) / 1e6);
  std::printf("  %swall %.1f ms · CPU %.1f ms · checks %llu · syscalls %llu%s\n\n", k.dim,
              s.m.wall_s * 1e3, s.m.cpu_s() * 1e3, static_cast<unsigned long long>(s.checks),
              static_cast<unsigned long long>(s.m.calls.syscalls), k.off);
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
  sub->add_option("-t,--transport", flags.transport, "pipe | socketpair | tcp")
      ->capture_default_str();
  sub->add_option("-w,--work", flags.work, "the program's own CPU work while it waits")
      ->capture_default_str();
  sub->add_option("-s,--size", flags.size, "the document's size")->capture_default_str();
  sub->add_option("--trace", flags.trace, "write a timeline (Chrome Trace JSON, open in Perfetto)");
  sub->add_option("--color", flags.color, "auto | always | never")->capture_default_str();
  return sub;
}

int run_demo() {
  Scenario sc;
  sc.workload.transport = flag_transport("--transport", flags.transport);
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

  const OutputPath trace_out = check_output("--trace", flags.trace);
  std::unique_ptr<Trace> trace;
  if (!flags.trace.empty()) {
    trace = std::make_unique<Trace>();
    trace->name_process("iomodels demo");
    trace->install();
  }
  std::printf(
      "The download() story: ask for a document (1), do %s of own work (2), use the\n"
      "document (3). The device takes %s. Steps are numbered as in the source and\n"
      "listed in the order they really happened.\n\n",
      format_duration(work_ns).c_str(), sc.workload.latency.text().c_str());
  Demo demo(sc, work_ns);
  std::vector<Story> stories;
  for (const StoryInfo& info : kStories) stories.push_back(demo.run(info));
  for (const Story& s : stories) print_story(s, k);

  std::printf("%sThe 2x2 table, measured%s\n", k.bold, k.off);
  std::printf("         %-34s %-34s\n", "blocking", "non-blocking");
  std::printf("  sync   %-34s %-34s\n", cell(stories[0]).c_str(), cell(stories[1]).c_str());
  std::printf("         %-34s %-34s\n", stories[0].waiting.c_str(), stories[1].waiting.c_str());
  std::printf("  async  %-34s %-34s\n", cell(stories[2]).c_str(), cell(stories[3]).c_str());
  std::printf("         %-34s %-34s\n\n", stories[2].waiting.c_str(), stories[3].waiting.c_str());
  std::printf(
      "  sync · blocking:      wall = wait + work. The CPU slept while it waited, but\n"
      "                        the program could do nothing else.\n"
      "  sync · non-blocking:  wall = wait, but the CPU never rested: every check that\n"
      "                        said EAGAIN was a syscall spent for nothing.\n"
      "  async · blocking:     wall = wait; another thread slept in read() while this\n"
      "                        one worked, then this one slept in future.get().\n"
      "  async · non-blocking: wall = wait, CPU = work: the kernel said when the data\n"
      "                        was there (epoll), and the callback used it.\n"
      "  async/await:          %s: as the callback, but download()\n"
      "                        reads top to bottom; co_await suspended it while\n"
      "                        the own work ran.\n",
      cell(stories[4]).c_str());
  int code = 0;
  for (const Story& s : stories)
    if (!s.status.ok()) code = 1;
  if (trace) {
    trace->uninstall();
    trace_out.write(trace->to_json());
    std::printf("\ntimeline: %s (%zu events%s) — open it in ui.perfetto.dev\n", flags.trace.c_str(),
                trace->events(), trace->truncated() ? ", truncated" : "");
  }
  return code;
}

}  // namespace iomodels::cli
