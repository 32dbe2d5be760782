// Description: the demo's race (demo_race.h): three peers of different
// latencies, three requests sent A, B, C at once, and the order in which an
// epoll loop's callbacks, or three coroutines' co_awaits, had their data.
#include "cli/demo_race.h"

#include <fcntl.h>

#include <coroutine>
#include <memory>
#include <utility>

#include "models/coro.h"
#include "peer/payload.h"
#include "sys/epoll_owner.h"
#include "sys/sys.h"
#include "sys/time.h"
#include "workload/workload.h"

namespace iomodels::cli {
namespace {

constexpr char kNames[3] = {'A', 'B', 'C'};
constexpr int kWaitMs = 30'000;

double ms_since(uint64_t t0) { return static_cast<double>(now_ns() - t0) / 1e6; }

// One download: its peer, its connection and what has arrived.
struct Download {
  std::unique_ptr<Workload> w;
  ClientConn c;
  std::vector<uint8_t> buf;
  size_t got = 0;

  Status send() {
    const Request rq{c.index, static_cast<uint32_t>(buf.size()), 1};
    const long n = sys::write(c.wfd, &rq, sizeof rq);
    return n == static_cast<long>(sizeof rq) ? Status{}
                                             : Status::from_errno(n < 0 ? n : -EIO, "write");
  }
  // Reads what is there (non-blocking); *done once the whole response came
  // and verified.
  Status take(bool* done) {
    for (;;) {
      const long n = sys::read(c.rfd, buf.data() + got, buf.size() - got);
      if (n == -EAGAIN) break;
      if (n <= 0) return Status::from_errno(n < 0 ? n : -EPIPE, "read");
      got += static_cast<size_t>(n);
      if (got == buf.size()) break;
    }
    *done = got == buf.size();
    if (*done && verify_payload(c.index, 1, 0, buf.data(), buf.size()) != buf.size())
      return Status::error("a wrong byte in a download's response");
    return {};
  }
};

Status open_downloads(const Scenario& sc, const std::array<uint64_t, 3>& lat,
                      std::array<Download, 3>* d) {
  for (int i = 0; i < 3; ++i) {
    WorkloadOptions o = sc.workload;
    o.connections = 1;
    o.latency = LatencySpec{};
    o.latency.kind = LatencySpec::Kind::kFixed;
    o.latency.a_ns = lat[i];
    if (Status s = Workload::create(o, &(*d)[i].w); !s.ok()) return s;
    (*d)[i].c = (*d)[i].w->conns()[0];
    (*d)[i].buf.assign(o.size, 0);
    sys::fcntl_setfl((*d)[i].c.rfd, O_NONBLOCK, 0);
  }
  return {};
}

// The three downloads' peers, and one epoll set watching each (token i).
Status prepare(const Scenario& sc, const std::array<uint64_t, 3>& lat, std::array<Download, 3>* d,
               sys::Epoll* ep, RaceRun* r) {
  r->sent_ms.assign(3, 0);
  r->done_ms.assign(3, 0);
  if (Status s = open_downloads(sc, lat, d); !s.ok()) return s;
  if (Status s = ep->open(); !s.ok()) return s;
  for (int i = 0; i < 3; ++i)
    if (Status s = ep->watch((*d)[i].c.rfd, EPOLLIN, static_cast<uint64_t>(i)); !s.ok()) return s;
  return {};
}

RaceRun with_callbacks(const Scenario& sc, const std::array<uint64_t, 3>& lat) {
  RaceRun r;
  r.how = "callbacks (epoll)";
  std::array<Download, 3> d;
  sys::Epoll ep;
  if (r.status = prepare(sc, lat, &d, &ep, &r); !r.status.ok()) return r;
  const uint64_t t0 = now_ns();
  for (int i = 0; i < 3; ++i) {
    if (r.status = d[i].send(); !r.status.ok()) return r;
    r.sent_ms[i] = ms_since(t0);
  }
  while (r.order.size() < 3) {
    epoll_event ev{};
    const long n = ep.wait(&ev, 1, kWaitMs);
    if (n <= 0) {
      r.status = Status::from_errno(n == 0 ? -ETIMEDOUT : n, "epoll_wait");
      return r;
    }
    // The callback of download i.
    const auto i = static_cast<int>(ev.data.u64);
    bool done = false;
    if (r.status = d[i].take(&done); !r.status.ok()) return r;
    if (done) {
      r.done_ms[i] = ms_since(t0);
      r.order += kNames[i];
      ep.remove(d[i].c.rfd);
    }
  }
  return r;
}

// co_await: suspends the download until the loop sees its fd readable.
struct Readable {
  std::coroutine_handle<>* slot;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { *slot = h; }
  void await_resume() const noexcept {}
};

detail::Task download(Download* d, int i, std::coroutine_handle<>* slot, uint64_t t0, RaceRun* r) {
  if (Status s = d->send(); !s.ok()) co_return s;
  r->sent_ms[i] = ms_since(t0);
  bool done = false;
  while (!done) {
    co_await Readable{slot};
    if (Status s = d->take(&done); !s.ok()) co_return s;
  }
  r->done_ms[i] = ms_since(t0);
  r->order += kNames[i];
  co_return Status();
}

RaceRun with_await(const Scenario& sc, const std::array<uint64_t, 3>& lat) {
  RaceRun r;
  r.how = "co_await (three tasks)";
  std::array<Download, 3> d;
  sys::Epoll ep;
  if (r.status = prepare(sc, lat, &d, &ep, &r); !r.status.ok()) return r;
  std::array<std::coroutine_handle<>, 3> waiting{};
  detail::TaskGroup group;
  std::array<detail::Task, 3> tasks;
  const uint64_t t0 = now_ns();
  for (int i = 0; i < 3; ++i) {
    tasks[i] = download(&d[i], i, &waiting[i], t0, &r);
    tasks[i].start(&group);  // each runs to its co_await: all three requests leave now
  }
  while (group.running > 0 && group.error.ok()) {
    epoll_event ev{};
    const long n = ep.wait(&ev, 1, kWaitMs);
    if (n <= 0) {
      r.status = Status::from_errno(n == 0 ? -ETIMEDOUT : n, "epoll_wait");
      return r;
    }
    const auto i = static_cast<size_t>(ev.data.u64);
    if (std::coroutine_handle<> h = std::exchange(waiting[i], {})) h.resume();
    if (!waiting[i]) ep.remove(d[i].c.rfd);  // finished: it waits no more
  }
  if (!group.error.ok()) r.status = group.error;
  return r;
}

}  // namespace

Race run_race(const Scenario& sc) {
  Race race;
  const uint64_t third = sc.workload.latency.bound_ns() / 3;
  race.latency_ns = {3 * third, third, 2 * third};
  race.callbacks = with_callbacks(sc, race.latency_ns);
  race.awaits = with_await(sc, race.latency_ns);
  return race;
}

}  // namespace iomodels::cli
