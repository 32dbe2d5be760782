// Description: the peer as a load generator (the server role). Each
// connection has its own schedule of request times (uniform: a fixed
// interval at a random phase; poisson: exponential intervals), drawn from
// the seed and independent of the model. A request leaves at its time, or,
// when the model has not answered the connection's previous request yet, the
// moment it has: one request in flight per connection. Every response byte is
// verified, and each response is timed from its request's scheduled time
// (corrected) and from its send (uncorrected). One thread, epoll and
// read()/write() on non-blocking descriptors; a send time nearer than this
// machine's sleep overshoot is awaited by polling, as in the serving loops.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <memory>
#include <queue>
#include <random>
#include <vector>

#include "peer/core.h"
#include "peer/shards.h"
#include "sys/epoll_owner.h"
#include "sys/sys.h"
#include "sys/time.h"

namespace iomodels::detail {
namespace {

constexpr uint64_t kGenTokenControl = ~uint64_t{0};
constexpr uint64_t kGenTokenStop = ~uint64_t{1};
constexpr uint64_t kGenTokenMail = ~uint64_t{2};  // a sharded generator's mailbox (shards.h)
constexpr int kGenMaxEvents = 256;
constexpr size_t kGenReadChunk = 64 * 1024;

struct GenConn {
  int rfd = -1;        // responses arrive here
  int wfd = -1;        // requests leave here
  uint32_t index = 0;  // in the workload: its requests and payload name it
  uint32_t slot = 0;   // in this thread's conns_
  bool open = true;
  std::mt19937_64 rng;
  uint64_t next_ns = 0;  // scheduled time of the next request not yet sent
  uint64_t next_id = 1;
  // The request in flight, if any.
  bool in_flight = false;
  uint64_t id = 0, sched_ns = 0, sent_ns = 0;
  uint32_t got = 0;  // its response's bytes so far
};

// When a free connection's next request is due.
struct Next {
  uint64_t due_ns;
  uint32_t conn;
  bool operator>(const Next& o) const {
    return due_ns != o.due_ns ? due_ns > o.due_ns : conn > o.conn;
  }
};

class Generator {
 public:
  Generator(const PeerOptions& o) : opts_(o), core_(o, PeerLoop::kEpollWrite) {}

  // fds: this thread's connections, i % threads == its index (all of them
  // on one thread).
  int run(std::vector<std::pair<int, int>>& fds, std::string* why) {
    if (opts_.offered_per_s <= 0 || fds.empty()) {
      *why = "the load generator needs connections and an offered load above 0";
      return 1;
    }
    if (Status s = ep_.open(); !s.ok()) {
      *why = s.message();
      return 1;
    }
    // Each connection offers an equal share of the load, on whichever thread
    // it is: the schedules are those one thread would make.
    const uint32_t threads = opts_.shards != nullptr ? opts_.shards->size() : 1;
    const size_t total = opts_.shards != nullptr ? opts_.shards->connections() : fds.size();
    interval_ns_ = static_cast<double>(total) * 1e9 / opts_.offered_per_s;
    conns_.resize(fds.size());
    for (uint32_t i = 0; i < fds.size(); ++i) {
      GenConn& c = conns_[i];
      c.rfd = fds[i].first;
      c.wfd = fds[i].second;
      c.index = opts_.shard + i * threads;
      c.slot = i;
      c.rng.seed(opts_.seed ^ (uint64_t{c.index} * 0x9e3779b97f4a7c15ULL));
      for (int fd : {c.rfd, c.wfd}) {
        const int fl = ::fcntl(fd, F_GETFL);
        if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
          *why = "fcntl(O_NONBLOCK): " + errno_text(-errno);
          return 1;
        }
      }
      if (ep_.add(c.rfd, EPOLLIN, i) < 0) {  // the token: its place here
        *why = "epoll_ctl: " + errno_text(-errno);
        return 1;
      }
    }
    if (opts_.control_fd >= 0 && ep_.add(opts_.control_fd, EPOLLIN, kGenTokenControl) < 0) {
      *why = "epoll_ctl(control): " + errno_text(-errno);
      return 1;
    }
    if (opts_.stop_fd >= 0 && ep_.add(opts_.stop_fd, EPOLLIN, kGenTokenStop) < 0) {
      *why = "epoll_ctl(stop): " + errno_text(-errno);
      return 1;
    }
    if (opts_.shards != nullptr) {
      if (ep_.add(opts_.shards->mailbox(opts_.shard), EPOLLIN, kGenTokenMail) < 0) {
        *why = "epoll_ctl(mailbox): " + errno_text(-errno);
        return 1;
      }
      opts_.shards->join(opts_.shard, [this](uint64_t cmd, ShardFigures* f) { figures(cmd, f); });
    }
    rx_.resize(kGenReadChunk);
    rebase(now_ns());
    core_.reset_window();
    return loop(why);
  }

  // This thread's figures since the last reset, added to *f: the serving
  // loops' (its send lateness, the responses as requests) and the
  // generator's. kStatsAndReset starts a new window, and a new schedule from
  // now: what the last window left unsent is not carried into this one.
  void figures(uint64_t cmd, ShardFigures* f) {
    // Responses already in the sockets belong to the window: a model that
    // has just answered its last request is counted whole.
    for (uint32_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].in_flight) on_readable(i);
    const uint64_t now = now_ns();
    for (const GenConn& c : conns_) {
      if (!c.open || c.next_ns > now) continue;
      f->behind += 1 + static_cast<uint64_t>(static_cast<double>(now - c.next_ns) / interval_ns_);
    }
    f->sent += sent_;
    f->bad_bytes += bad_bytes_;
    f->closed += closed_;  // since it started: not reset with the window
    f->sched_span_ns =
        std::max(f->sched_span_ns, last_sched_ns_ > window_ns_ ? last_sched_ns_ - window_ns_ : 0);
    f->corrected.merge(corrected_);
    f->uncorrected.merge(uncorrected_);
    core_.take(cmd, f);
    if (cmd == static_cast<uint64_t>(ControlCommand::kStatsAndReset)) {
      sent_ = 0;
      bad_bytes_ = 0;
      corrected_.reset();
      uncorrected_.reset();
      rebase(now_ns());
    }
  }

 private:
  uint64_t draw(GenConn& c) { return arrival_interval(opts_.arrivals, interval_ns_, c.rng); }

  // A new schedule from `now`: requests not yet sent are forgotten, each
  // connection's first time a random phase (uniform) or draw (poisson) away.
  void rebase(uint64_t now) {
    heap_ = {};
    window_ns_ = now;
    last_sched_ns_ = 0;
    for (GenConn& c : conns_) {
      if (!c.open) continue;
      // A request still unanswered (responses already there were read just
      // before) is the model's first of the new window: timed from its start.
      if (c.in_flight) c.sched_ns = c.sent_ns = std::max(c.sent_ns, now);
      c.next_ns = now + arrival_phase(opts_.arrivals, interval_ns_, c.rng);
      if (!c.in_flight) heap_.push(Next{c.next_ns, c.slot});
    }
  }

  int loop(std::string* why) {
    std::vector<epoll_event> events(kGenMaxEvents);
    for (;;) {
      uint64_t now = now_ns();
      send_due(now);
      // Sleep until the next send, or, with no free connection, until a
      // response comes.
      timespec ts{};
      const timespec* tmo = nullptr;
      if (!heap_.empty()) {
        const uint64_t due = heap_.top().due_ns;
        if (due > now) ts = sys::to_timespec(due - now);
        tmo = &ts;
      }
      const long n = ep_.wait(events.data(), kGenMaxEvents, tmo);
      if (n < 0 && n != -EINTR) {
        *why = "epoll_pwait2: " + errno_text(n);
        return 1;
      }
      for (long e = 0; e < n; ++e) {
        const uint64_t tok = events[e].data.u64;
        if (tok == kGenTokenControl) {
          if (!control()) return 0;  // the parent is done
          continue;
        }
        if (tok == kGenTokenStop) return 0;
        if (tok == kGenTokenMail) {
          opts_.shards->on_mail(opts_.shard);  // a statistics request, answered
          continue;
        }
        on_readable(static_cast<uint32_t>(tok));
      }
    }
  }

  // Sends every free connection's request whose time has come.
  void send_due(uint64_t now) {
    while (!heap_.empty() && heap_.top().due_ns <= now) {
      const Next nx = heap_.top();
      heap_.pop();
      GenConn& c = conns_[nx.conn];
      if (!c.open || c.in_flight || c.next_ns != nx.due_ns) continue;  // stale
      // The connection was free at its time: any delay is the generator's.
      core_.started(c.index, now, c.next_ns);
      send(c, now);
    }
  }

  void send(GenConn& c, uint64_t now) {
    const Request rq{c.index, opts_.size, c.next_id};
    const long w = sys::write(c.wfd, &rq, sizeof rq);
    if (w != static_cast<long>(sizeof rq)) {
      // One request in flight per connection, and the model has read the
      // last: a full or closed connection means the model is gone.
      close_conn(c);
      return;
    }
    ++sent_;
    c.in_flight = true;
    c.id = c.next_id++;
    c.sched_ns = c.next_ns;
    c.sent_ns = now;
    last_sched_ns_ = std::max(last_sched_ns_, c.sched_ns);
    c.got = 0;
    c.next_ns += draw(c);
  }

  void on_readable(uint32_t i) {
    GenConn& c = conns_[i];
    if (!c.open) return;
    for (;;) {
      const size_t want = c.in_flight ? std::min<size_t>(opts_.size - c.got, rx_.size()) : 1;
      const long n = sys::read(c.rfd, rx_.data(), want);
      if (n == -EAGAIN) return;
      if (n <= 0 || !c.in_flight) {
        // End of file, an error, or a byte nobody asked for.
        if (n > 0) core_.protocol_error();
        close_conn(c);
        return;
      }
      const auto got = static_cast<size_t>(n);
      if (verify_payload(c.index, c.id, c.got, rx_.data(), got) != got) {
        ++bad_bytes_;
        core_.protocol_error();
        close_conn(c);
        return;
      }
      c.got += static_cast<uint32_t>(got);
      if (c.got < opts_.size) continue;
      const uint64_t now = now_ns();
      corrected_.record(now - c.sched_ns);
      uncorrected_.record(now - c.sent_ns);
      core_.served(c.index);
      c.in_flight = false;
      if (c.next_ns <= now) {
        // Its next request's time has passed while the model was busy: it
        // leaves now, and its latency still counts from its time.
        send(c, now);
      } else {
        heap_.push(Next{c.next_ns, c.slot});
      }
      return;
    }
  }

  void close_conn(GenConn& c) {
    if (!c.open) return;
    ++closed_;
    c.open = false;
    c.in_flight = false;
    ep_.remove(c.rfd);
    ::close(c.rfd);
    if (c.wfd != c.rfd) ::close(c.wfd);
  }

  // A control request on the local control socket: the serving loops'
  // statistics, then the generator's, of every thread. False when the parent
  // has gone.
  bool control() {
    Request rq{};
    const long n = ::recv(opts_.control_fd, &rq, sizeof rq, 0);
    if (n == -1 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n != static_cast<long>(sizeof rq) || rq.conn != kControlConn) return false;
    auto f = std::make_unique<ShardFigures>();
    if (opts_.shards != nullptr) {
      opts_.shards->gather(opts_.shard, rq.id, f.get());
    } else {
      figures(rq.id, f.get());
    }
    const PeerStatsWire w = stats_wire(*f, opts_.peer_spin_ns);
    auto g = std::make_unique<GeneratorStatsWire>();
    g->magic = kGeneratorMagic;
    g->sent = f->sent;
    g->responses = w.requests;
    g->bad_bytes = f->bad_bytes;
    g->closed = f->closed;
    g->send_late_p99_ns = w.late_p99_ns;
    g->send_late_max_ns = w.late_max_ns;
    g->sched_span_ns = f->sched_span_ns;
    g->behind = f->behind;
    f->corrected.save(&g->corrected);
    f->uncorrected.save(&g->uncorrected);
    return ::send(opts_.control_fd, &w, sizeof w, MSG_NOSIGNAL) == static_cast<long>(sizeof w) &&
           ::send(opts_.control_fd, g.get(), sizeof *g, MSG_NOSIGNAL) ==
               static_cast<long>(sizeof *g);
  }

  const PeerOptions opts_;
  PeerCore core_;
  sys::Epoll ep_;
  std::vector<GenConn> conns_;
  std::priority_queue<Next, std::vector<Next>, std::greater<>> heap_;
  std::vector<uint8_t> rx_;
  double interval_ns_ = 0;
  uint64_t sent_ = 0, bad_bytes_ = 0;
  uint64_t closed_ = 0;         // connections closed: the model closed or broke them
  uint64_t window_ns_ = 0;      // when the window (and its schedule) began
  uint64_t last_sched_ns_ = 0;  // the latest scheduled time of a request sent in it
  Histogram corrected_, uncorrected_;
};

}  // namespace

uint64_t arrival_interval(Arrivals a, double mean_ns, std::mt19937_64& rng) {
  if (a == Arrivals::kUniform) return static_cast<uint64_t>(mean_ns);
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  return static_cast<uint64_t>(-std::log1p(-u) * mean_ns);
}

uint64_t arrival_phase(Arrivals a, double mean_ns, std::mt19937_64& rng) {
  // Uniform: anywhere in the first interval, so that connections do not send
  // together. Poisson: memoryless, so the first wait is one more draw.
  if (a == Arrivals::kUniform)
    return static_cast<uint64_t>(std::uniform_real_distribution<double>(0.0, 1.0)(rng) * mean_ns);
  return arrival_interval(a, mean_ns, rng);
}

namespace {

// tcp: the parent connects its connections one after another, each
// connect() returning once the handshake is done, so they are accepted in
// index order (and then go to the generator's threads as i % N).
bool accept_all(const PeerOptions& opts, std::vector<std::pair<int, int>>* fds, std::string* why) {
  while (fds->size() < opts.connections) {
    pollfd p{opts.listen_fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, 10'000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      *why = "the load generator waited 10 s for its tcp connections";
      return false;
    }
    const int fd = ::accept4(opts.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      *why = "accept: " + errno_text(-errno);
      return false;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fds->emplace_back(fd, fd);
  }
  ::close(opts.listen_fd);
  return true;
}

// One thread's generator over its connections.
int generate(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns, std::string* why) {
  auto g = std::make_unique<Generator>(opts);  // histograms: off the stack
  return g->run(conns, why);
}

}  // namespace

int run_generator(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns,
                  std::string* why) {
  // A model that closes its end mid-send is an error on that connection, not
  // the generator's death.
  ::signal(SIGPIPE, SIG_IGN);
  if (opts.listen_fd >= 0 && !accept_all(opts, &conns, why)) return 1;
  if (opts.peer_threads <= 1 || opts.shards != nullptr) return generate(opts, conns, why);
  PeerOptions o = opts;
  o.listen_fd = -1;  // accepted above
  return run_sharded(o, std::move(conns), generate, why);
}

}  // namespace iomodels::detail
