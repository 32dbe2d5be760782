// Description: the minimal loops (blocking read, epoll, io_uring) and their
// measurement. Raw libc and liburing calls only: the counted wrappers of
// src/sys are part of what the loops are compared against.
#include "overhead/minimal.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <initializer_list>

#include "peer/payload.h"
#include "sys/cpus.h"
#include "sys/fd.h"
#include "workload/parse.h"

namespace iomodels::overhead {
namespace {

// As the models: a read takes at most this much (blocking, epoll), a receive
// on io_uring at most kRecvChunk per connection.
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kRecvChunk = 64 * 1024;
// The blocking loop tells the watchdog it is alive once per this many
// responses: the others do once per wait, never per request.
constexpr uint64_t kProgressEvery = 64;

Status set_blocking(const LoopConns& w, bool blocking) {
  for (const ClientConn& c : w.conns) {
    for (int fd : {c.rfd, c.wfd}) {
      const int fl = ::fcntl(fd, F_GETFL);
      if (fl < 0 || ::fcntl(fd, F_SETFL, blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0)
        return Status::from_errno(-errno, "fcntl(O_NONBLOCK)");
    }
  }
  return {};
}

Status closed(const ClientConn& c, long r) {
  return Status::error("minimal loop: connection " + std::to_string(c.index) + ": " +
                       (r == 0 ? std::string("the peer closed the connection") : errno_text(r)));
}

Status too_many(const ClientConn& c, uint64_t got, uint32_t size) {
  return Status::error("minimal loop: connection " + std::to_string(c.index) + ": " +
                       std::to_string(got) + " response bytes where " + std::to_string(size) +
                       " were asked for");
}

Status timed_out(uint64_t timeout_ns) {
  return Status::error("minimal loop: timed out after " + format_duration(timeout_ns) +
                       " waiting for a response");
}

// Every loop keeps, per connection, the id of its last request and the bytes
// of its response so far.
struct ConnState {
  uint64_t id = 0;
  uint64_t got = 0;
  uint64_t left = 0;  // requests still to complete in this run
};

// --- blocking read: per connection in turn, write the request, read until whole ---
class BlockingLoop final : public MinimalLoop {
 public:
  Status setup(const LoopConns& w, uint64_t) override {
    w_ = &w;
    st_.assign(w.conns.size(), ConnState{});
    buf_.resize(std::min<size_t>(w.size, kReadChunk));
    return set_blocking(w, true);
  }

  Status run(uint64_t rounds, MinimalCount* count) override {
    const uint32_t size = w_->size;
    uint64_t since_progress = 0;
    for (uint64_t r = 0; r < rounds; ++r) {
      for (const ClientConn& c : w_->conns) {
        const Request rq{c.index, size, ++st_[c.index].id};
        const long s = ::write(c.wfd, &rq, sizeof rq);
        if (s != static_cast<long>(sizeof rq)) return closed(c, s < 0 ? -errno : 0);
        uint64_t got = 0;
        while (got < size) {
          const long n = ::read(c.rfd, buf_.data(), buf_.size());
          if (n <= 0) return closed(c, n < 0 ? -errno : 0);
          got += static_cast<uint64_t>(n);
        }
        if (got != size) return too_many(c, got, size);
        ++count->requests;
        count->bytes += got;
        if (++since_progress == kProgressEvery) {
          w_->note_progress();
          since_progress = 0;
        }
      }
    }
    w_->note_progress();
    return {};
  }

 private:
  const LoopConns* w_ = nullptr;
  std::vector<ConnState> st_;
  std::vector<uint8_t> buf_;
};

// --- epoll: non-blocking fds, level-triggered, one read per readiness event ---
class EpollLoop final : public MinimalLoop {
 public:
  Status setup(const LoopConns& w, uint64_t timeout_ns) override {
    w_ = &w;
    timeout_ms_ = static_cast<int>(timeout_ns / 1'000'000);
    st_.assign(w.conns.size(), ConnState{});
    buf_.resize(std::min<size_t>(w.size, kReadChunk));
    events_.resize(kMaxEvents);
    if (Status s = set_blocking(w, false); !s.ok()) return s;
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_) return Status::from_errno(-errno, "epoll_create1");
    for (const ClientConn& c : w.conns) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = c.index;
      if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, c.rfd, &ev) < 0)
        return Status::from_errno(-errno, "epoll_ctl");
    }
    return {};
  }

  Status run(uint64_t rounds, MinimalCount* count) override {
    const uint32_t size = w_->size;
    const auto conns = w_->conns;
    for (const ClientConn& c : conns) {
      st_[c.index].left = rounds;
      if (Status s = send(c, size); !s.ok()) return s;
    }
    size_t active = conns.size();
    while (active > 0) {
      const int n = ::epoll_wait(ep_.get(), events_.data(), kMaxEvents, timeout_ms_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::from_errno(-errno, "epoll_wait");
      if (n == 0) return timed_out(static_cast<uint64_t>(timeout_ms_) * 1'000'000);
      for (int e = 0; e < n; ++e) {
        const ClientConn& c = conns[events_[e].data.u64];
        ConnState& st = st_[c.index];
        const long r = ::read(c.rfd, buf_.data(), buf_.size());
        if (r < 0 && errno == EAGAIN) continue;
        if (r <= 0) return closed(c, r < 0 ? -errno : 0);
        st.got += static_cast<uint64_t>(r);
        if (st.got > size) return too_many(c, st.got, size);
        if (st.got < size) continue;  // the rest comes with a later event
        st.got = 0;
        ++count->requests;
        count->bytes += size;
        if (--st.left == 0) {
          --active;
        } else if (Status s = send(c, size); !s.ok()) {
          return s;
        }
      }
      w_->note_progress();
    }
    return {};
  }

 private:
  // One epoll_wait hands back at most this many ready fds (as the model).
  static constexpr int kMaxEvents = 256;

  // A 16-byte request into an empty socket or pipe is taken whole; anything
  // else is an error here rather than a wait.
  Status send(const ClientConn& c, uint32_t size) {
    const Request rq{c.index, size, ++st_[c.index].id};
    const long s = ::write(c.wfd, &rq, sizeof rq);
    if (s != static_cast<long>(sizeof rq)) return closed(c, s < 0 ? -errno : 0);
    return {};
  }

  const LoopConns* w_ = nullptr;
  int timeout_ms_ = 0;
  Fd ep_;
  std::vector<ConnState> st_;
  std::vector<uint8_t> buf_;
  std::vector<epoll_event> events_;
};

// --- io_uring: a send and a receive SQE per request, one submit-and-wait per sweep ---
class UringLoop final : public MinimalLoop {
 public:
  ~UringLoop() override {
    if (live_) io_uring_queue_exit(&ring_);
  }

  Status setup(const LoopConns& w, uint64_t timeout_ns) override {
    w_ = &w;
    timeout_ns_ = timeout_ns;
    const size_t n = w.conns.size();
    st_.assign(n, ConnState{});
    requests_.assign(n, Request{});
    chunk_ = std::min<size_t>(w.size, kRecvChunk);
    bufs_.resize(n * chunk_);
    socket_ = w.transport != Transport::kPipe;
    // io_uring waits for blocking fds itself; on an O_NONBLOCK pipe a READ
    // would complete with -EAGAIN.
    if (Status s = set_blocking(w, true); !s.ok()) return s;
    const int r = init_minimal_ring(&ring_, n, &skip_success_);
    if (r == 0) {
      live_ = true;
      return {};
    }
    if (r == -EPERM) return Status::not_applicable("io_uring_setup: " + errno_text(r));
    return Status::from_errno(r, "io_uring_setup");
  }

  Status run(uint64_t rounds, MinimalCount* count) override {
    const uint32_t size = w_->size;
    const auto conns = w_->conns;
    for (const ClientConn& c : conns) {
      st_[c.index].left = rounds;
      if (Status s = start(c, size); !s.ok()) return s;
    }
    size_t active = conns.size();
    while (active > 0) {
      __kernel_timespec ts{static_cast<long long>(timeout_ns_ / 1'000'000'000),
                           static_cast<long long>(timeout_ns_ % 1'000'000'000)};
      io_uring_cqe* first = nullptr;
      const int r = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
      if (r == -ETIME) return timed_out(timeout_ns_);
      if (r < 0 && r != -EINTR) return Status::from_errno(r, "io_uring_submit_and_wait_timeout");
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      Status s;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        s = on_cqe(*cqe, size, &active, count);
        if (!s.ok()) break;
      }
      io_uring_cq_advance(&ring_, seen);
      if (!s.ok()) return s;
      w_->note_progress();
    }
    return {};
  }

 private:
  // user_data: the connection's index, and whether the op was the receive.
  static constexpr uint64_t kRecvBit = 1;

  io_uring_sqe* sqe() {
    if (io_uring_sqe* s = io_uring_get_sqe(&ring_)) return s;
    io_uring_submit(&ring_);  // full: hand the kernel what is queued
    return io_uring_get_sqe(&ring_);
  }

  Status start(const ClientConn& c, uint32_t size) {
    Request& rq = requests_[c.index];
    rq = Request{c.index, size, ++st_[c.index].id};
    io_uring_sqe* s = sqe();
    if (s == nullptr) return Status::error("minimal loop: the submission queue stays full");
    if (socket_)
      io_uring_prep_send(s, c.wfd, &rq, sizeof rq, MSG_WAITALL | MSG_NOSIGNAL);
    else
      io_uring_prep_write(s, c.wfd, &rq, sizeof rq, 0);
    io_uring_sqe_set_data64(s, uint64_t{c.index} << 1);
    if (skip_success_) s->flags |= IOSQE_CQE_SKIP_SUCCESS;
    return recv(c);
  }

  Status recv(const ClientConn& c) {
    io_uring_sqe* s = sqe();
    if (s == nullptr) return Status::error("minimal loop: the submission queue stays full");
    uint8_t* buf = bufs_.data() + size_t{c.index} * chunk_;
    if (socket_)
      io_uring_prep_recv(s, c.rfd, buf, static_cast<unsigned>(chunk_), 0);
    else
      io_uring_prep_read(s, c.rfd, buf, static_cast<unsigned>(chunk_), 0);
    io_uring_sqe_set_data64(s, (uint64_t{c.index} << 1) | kRecvBit);
    return {};
  }

  Status on_cqe(const io_uring_cqe& cqe, uint32_t size, size_t* active, MinimalCount* count) {
    const ClientConn& c = w_->conns[cqe.user_data >> 1];
    if ((cqe.user_data & kRecvBit) == 0) {  // a send: only a failed or short one matters
      return cqe.res == static_cast<int>(sizeof(Request)) ? Status() : closed(c, cqe.res);
    }
    if (cqe.res <= 0) return closed(c, cqe.res);
    ConnState& st = st_[c.index];
    st.got += static_cast<uint64_t>(cqe.res);
    if (st.got > size) return too_many(c, st.got, size);
    if (st.got < size) return recv(c);  // a partial response: receive the rest
    st.got = 0;
    ++count->requests;
    count->bytes += size;
    if (--st.left == 0) {
      --*active;
      return {};
    }
    return start(c, size);
  }

  const LoopConns* w_ = nullptr;
  uint64_t timeout_ns_ = 0;
  io_uring ring_{};
  bool live_ = false;
  bool skip_success_ = false;
  bool socket_ = true;
  size_t chunk_ = 0;
  std::vector<ConnState> st_;
  std::vector<Request> requests_;  // each connection's request, alive until it is sent
  std::vector<uint8_t> bufs_;      // each connection's receive buffer
};

}  // namespace

int init_minimal_ring(io_uring* ring, size_t connections, bool* cqe_skip) {
  const auto entries =
      static_cast<unsigned>(std::clamp<size_t>(std::bit_ceil(2 * connections), 8, 4096));
  int r = -EINVAL;
  for (unsigned mode : {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, 0u}) {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | mode;
    p.cq_entries = std::max<unsigned>(2 * entries, 16);
    r = io_uring_queue_init_params(entries, ring, &p);
    if (r == 0) *cqe_skip = (p.features & IORING_FEAT_CQE_SKIP) != 0;
    if (r != -EINVAL) return r;
  }
  return r;
}

bool has_minimal_loop(Mechanism m) {
  return m == Mechanism::kBlockingRead || m == Mechanism::kEpoll || m == Mechanism::kIoUring;
}

std::unique_ptr<MinimalLoop> make_minimal_loop(Mechanism m) {
  switch (m) {
    case Mechanism::kBlockingRead:
      return std::make_unique<BlockingLoop>();
    case Mechanism::kEpoll:
      return std::make_unique<EpollLoop>();
    case Mechanism::kIoUring:
      return std::make_unique<UringLoop>();
    default:
      return nullptr;
  }
}

Status measure_minimal(const MinimalOptions& o, MinimalResult* out) {
  if (o.workload.transport == Transport::kFile)
    return Status::not_applicable(
        "the minimal loops drive a peer's transports (pipe, socketpair, tcp), not the file "
        "transport");
  // Declared first, so destroyed last: the loop goes before the connections it uses.
  std::unique_ptr<Workload> w;
  std::unique_ptr<MinimalLoop> loop = make_minimal_loop(o.mechanism);
  if (!loop)
    return Status::not_applicable("no minimal loop for " +
                                  std::string(mechanism_name(o.mechanism)));
  // Placed as Session places a model; the caller's CPUs come back at the end.
  sys::CpuList saved;
  if (!o.cpus.empty()) {
    saved = sys::affinity();
    if (Status st = sys::set_affinity(o.cpus); !st.ok()) return st;
  }
  struct Restore {
    const sys::CpuList& cpus;
    ~Restore() {
      if (!cpus.empty()) sys::set_affinity(cpus);
    }
  } restore{saved};

  if (Status st = Workload::create(o.workload, &w); !st.ok()) return st;
  const LoopConns conns{w->conns(), o.workload.size, o.workload.transport, w.get()};
  if (Status st = loop->setup(conns, o.timeout_ns); !st.ok()) return st;

  MinimalCount warm;
  if (Status s = w->arm_watchdog(o.timeout_ns); !s.ok()) return s;
  Status st = loop->run(1, &warm);  // warm-up, as Session::warm_up
  MinimalResult r;
  Recorder rec;
  PeerStats peer;
  if (st.ok()) st = w->peer_stats(&peer, true);  // the peer's window starts here too
  if (st.ok()) {
    rec.start();
    st = loop->run(o.rounds, &r.count);
    r.m = rec.stop();
  }
  w->disarm_watchdog();
  if (st.ok()) st = w->peer_stats(&peer, false);
  if (!st.ok()) return st;
  if (!peer.none && peer.requests > 0) r.peer_us_per_req = peer.cpu_us_per_req();

  const uint64_t want = o.rounds * o.workload.connections;
  if (r.count.requests != want || r.count.bytes != want * o.workload.size)
    return Status::error("minimal loop: " + std::to_string(r.count.requests) + " responses of " +
                         std::to_string(r.count.bytes) + " bytes where " + std::to_string(want) +
                         " of " + std::to_string(want * o.workload.size) + " were due");
  *out = r;
  return {};
}

}  // namespace iomodels::overhead
