// Description: the peer's io_uring loop, its default. Every connection has one
// multishot receive armed (RECV on sockets, READ_MULTISHOT on pipes, a
// re-armed READ where the kernel lacks it) into a ring of provided buffers;
// every due response is one SEND or WRITE; the listening socket has a
// multishot accept. A loop turn queues the sends of everything that fell due,
// then makes one io_uring_enter that both submits them and waits for the next
// arrival or deadline. So a burst of requests costs the peer no read() each,
// and a burst of due responses no write() each: with a syscall at ~1 us
// (PTI), that is most of what the epoll loop spent per request.
//
// A send the socket cannot take yet is parked by the kernel until it can (or,
// where the kernel returns -EAGAIN instead, awaited with a POLLOUT poll), so
// each connection has at most one send in flight, from a buffer of its own.
// A connection's index is reused only when the kernel holds none of its
// operations any more.
//
// The protocol (requests, hellos, control, limits, due times) is
// PeerProtocol's (protocol.h), shared with the epoll loop: this file only
// waits and moves bytes.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <vector>

#include "peer/protocol.h"
#include "sys/sys.h"
#include "sys/time.h"
#include "sys/uring.h"

namespace iomodels::detail {
namespace {

// user_data: what the operation is (top byte), the slot's generation (24
// bits) and the slot (low 32 bits).
enum class UringOp : uint8_t {
  kRecv = 1,
  kSend,
  kPollOut,
  kAccept,
  kAcceptRetry,
  kStop,
  kCancel,
  kMail,  // a sharded peer's mailbox (shards.h)
};
uint64_t uring_tag(UringOp op, uint32_t slot = 0, uint32_t gen = 0) {
  return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{gen & 0xFFFFFFu} << 32) | slot;
}
UringOp uring_op_of(uint64_t t) { return static_cast<UringOp>(t >> 56); }
uint32_t uring_gen_of(uint64_t t) { return static_cast<uint32_t>((t >> 32) & 0xFFFFFFu); }
uint32_t uring_slot_of(uint64_t t) { return static_cast<uint32_t>(t); }

// A send carries at most this much of a response (a pipe's default capacity).
constexpr uint32_t kUringSendChunk = 64 * 1024;
// Received bytes land in buffers of this size, one per arrival; a request is
// 16 bytes, so one buffer takes a whole burst of them.
constexpr uint32_t kUringRecvBufBytes = 4096;
constexpr unsigned kUringMinRecvBufs = 64;
constexpr unsigned kUringMaxRecvBufs = 8192;
constexpr uint16_t kUringGroup = 0;
// What one stopped connection may hold: the bytes the multishot receive had
// already delivered when the connection came to owe max_queued responses
// (they are out of the kernel's buffer, so they wait here to be parsed once
// its backlog halves). The receive is cancelled at once and not armed again
// until then, so the rest of what the client sends waits in the kernel's
// buffer, where it costs the peer nothing. Four buffers (1,024 requests)
// take the remainder of the buffer that stopped it and a few arrivals after
// it. What the kernel had completed beyond them before the cancel landed
// (at most the batch one wakeup of the receive takes, tens of buffers) is
// kept all the same, not dropped, and counted (held_over): a client that
// never reads costs the peer that much once, not what it sends.
constexpr size_t kUringHeldBytes = 4 * kUringRecvBufBytes;
constexpr unsigned kUringSqEntries = 1024;
// When accept fails for lack of descriptors or memory, the listening socket
// is left alone this long rather than retried at once (a retry would fail
// again and spin).
constexpr uint64_t kUringAcceptRetryNs = 50'000'000;
// With nothing due, a wait ends after this long and is repeated.
constexpr uint64_t kUringIdleWaitNs = 1'000'000'000;

// What the io_uring loop adds to the protocol's state of a connection.
struct UringSlot : ConnState {
  bool socket = false;
  bool sending = false;     // a send (or its POLLOUT wait) is in flight
  bool queued = false;      // in ready_
  unsigned inflight = 0;    // operations the kernel holds for this slot
  bool receiving = false;   // its receive is armed
  bool cancelling = false;  // and its cancel submitted (stop_reading)
  std::vector<uint8_t> tx;  // the bytes of the send in flight
};

class UringPeer : public PeerProtocol<UringPeer, UringSlot> {
 public:
  explicit UringPeer(const PeerOptions& o) : PeerProtocol(o, PeerLoop::kUring) {}
  ~UringPeer() { ring_.close(); }  // before buffers_: the kernel may still write into them

  // -1 (with *why) when io_uring cannot serve here and nothing was touched.
  int init(size_t conns, std::string* why) {
    const sys::UringProbe& probe = sys::uring_probe();
    if (!probe.available) {
      *why = probe.reason;
      return -1;
    }
    if (!probe.recv_multishot) {
      *why = "this kernel lacks multishot receive with provided buffers";
      return -1;
    }
    read_multishot_ = probe.read_multishot;
    sys::RingOptions ro;
    ro.sq_entries = kUringSqEntries;
    // Room for a receive, a send and a poll of every connection at once.
    ro.cq_entries = static_cast<unsigned>(
        std::clamp<uint64_t>(std::bit_ceil(4 * (conns + 16)), 2 * kUringSqEntries, 1u << 17));
    if (Status s = ring_.init(ro); !s.ok()) {
      *why = s.message();
      return -1;
    }
    const auto bufs = static_cast<unsigned>(
        std::clamp<uint64_t>(std::bit_ceil(conns + 16), kUringMinRecvBufs, kUringMaxRecvBufs));
    if (Status s = buffers_.init(ring_, bufs, kUringRecvBufBytes, kUringGroup); !s.ok()) {
      *why = s.message();
      ring_.close();
      return -1;
    }
    return 0;
  }

  int run(std::vector<std::pair<int, int>>& conns, std::string* why) {
    // Timers fire at their deadline, not up to 50 us later (the default slack).
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    // Nothing is armed yet: these waits end by their timeout and teach the
    // sleep-cost estimate how late this machine wakes.
    for (int i = 0; i < kStartupSleeps; ++i) timed_wait(kStartupSleepNs);
    for (auto& [r, w] : conns) add_slot(r, w, false);
    if (opts_.control_fd >= 0) add_slot(opts_.control_fd, opts_.control_fd, true);
    if (opts_.listen_fd >= 0) {
      // accept4 semantics: the accepted sockets are non-blocking like the rest.
      arm_accept();
    }
    if (opts_.stop_fd >= 0) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_poll_add(sqe, opts_.stop_fd, POLLIN);
      sqe->user_data = uring_tag(UringOp::kStop);
    }
    if (opts_.shards != nullptr) {
      arm_mail();
      join_shards();
    }
    core_.reset_window();

    for (;;) {
      send_ready();
      const uint64_t wait = wait_before_due();
      const long r = wait != kNothingDue ? timed_wait(wait) : ring_.enter(1, kUringIdleWaitNs);
      if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
        *why = "io_uring_enter: " + errno_text(r);
        return 1;
      }
      unsigned got = 0;
      ring_.reap(
          [&](const io_uring_cqe& cqe) {
            on_cqe(cqe);
            return Status{};
          },
          &got);
      fire_due();
      sweep_idle();
      if (stop_ || parent_gone()) return 0;
      if (fatal_) {
        *why = fatal_why_;
        return 1;
      }
    }
  }

 private:
  friend class PeerProtocol<UringPeer, UringSlot>;

  // An enter that waits at most wait_ns for a CQE; one that ends by its
  // timeout teaches the sleep-cost estimate.
  long timed_wait(uint64_t wait_ns) {
    const uint64_t target = now_ns() + wait_ns;
    const long r = ring_.enter(1, wait_ns);
    if (r == -ETIME && wait_ns > 0 && ring_.cq_ready() == 0) overslept(target);
    return r;
  }

  io_uring_sqe* get_sqe() {
    Status err;
    io_uring_sqe* sqe = ring_.sqe(&err);
    if (sqe == nullptr && !fatal_) {
      fatal_ = true;
      fatal_why_ = err.message();
    }
    return sqe;
  }

  uint32_t add_slot(int rfd, int wfd, bool control) {
    const uint32_t s = open_slot(rfd, wfd, control);
    UringSlot& sl = slots_[s];
    struct stat st {};
    sl.socket = ::fstat(rfd, &st) == 0 && S_ISSOCK(st.st_mode);
    sl.sending = sl.queued = sl.receiving = sl.cancelling = false;
    arm_recv(s);
    return s;
  }

  void arm_recv(uint32_t s) {
    UringSlot& sl = slots_[s];
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    if (sl.socket) {
      io_uring_prep_recv_multishot(sqe, sl.rfd, nullptr, 0, 0);
    } else if (read_multishot_) {
      // len 0: the buffer's own length; offset 0: a pipe has none.
      io_uring_prep_rw(sys::kOpReadMultishot, sqe, sl.rfd, nullptr, 0, 0);
    } else {
      io_uring_prep_read(sqe, sl.rfd, nullptr, kUringRecvBufBytes, 0);
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kUringGroup;
    sqe->user_data = uring_tag(UringOp::kRecv, s, sl.gen);
    ++sl.inflight;
    sl.receiving = true;
    sl.cancelling = false;
  }

  // --- what PeerProtocol asks of a loop ---
  void respond(uint32_t s) { make_ready(s); }
  void fell_due(uint32_t s) { make_ready(s); }
  // The opt-in spin: what is due goes out first, then precision for a core.
  void before_spin() {
    send_ready();
    ring_.enter(0, 0);
  }
  // The receive is cancelled now, not at the loop's next enter: what was
  // already received is still served, what the kernel had already completed
  // is held (hold()), and the rest stays in the kernel's buffer.
  void stop_reading(uint32_t s) {
    UringSlot& sl = slots_[s];
    if (!sl.receiving || sl.cancelling) return;
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_cancel64(sqe, uring_tag(UringOp::kRecv, s, sl.gen), 0);
    sqe->user_data = uring_tag(UringOp::kCancel);
    sl.cancelling = true;
    ring_.enter(0, 0);
  }
  void backlog_halved(uint32_t s) { unthrottle(s); }
  void read_again(uint32_t s) {
    const UringSlot& sl = slots_[s];
    if (!sl.receiving && !sl.read_done) arm_recv(s);
  }

  void arm_accept() {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_multishot_accept(sqe, opts_.listen_fd, nullptr, nullptr,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    sqe->user_data = uring_tag(UringOp::kAccept);
  }

  void on_cqe(const io_uring_cqe& cqe) {
    const uint64_t t = cqe.user_data;
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    switch (uring_op_of(t)) {
      case UringOp::kRecv:
        on_recv(uring_slot_of(t), uring_gen_of(t), cqe, more);
        return;
      case UringOp::kSend:
        on_send(uring_slot_of(t), uring_gen_of(t), cqe.res);
        return;
      case UringOp::kPollOut:
        on_pollout(uring_slot_of(t), uring_gen_of(t));
        return;
      case UringOp::kAccept:
        on_accept(cqe.res, more);
        return;
      case UringOp::kAcceptRetry:
        arm_accept();
        return;
      case UringOp::kStop:
        stop_ = true;
        return;
      case UringOp::kCancel:
        return;
      case UringOp::kMail:
        take_mail([this](int fd) { add_slot(fd, fd, false); });
        arm_mail();
        return;
    }
  }

  // One-shot, armed again after each wake: mail is rare (set-up, statistics).
  void arm_mail() {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_poll_add(sqe, opts_.shards->mailbox(opts_.shard), POLLIN);
    sqe->user_data = uring_tag(UringOp::kMail);
  }

  // The kernel gave back one of the slot's operations; a closed slot is free
  // for reuse once it holds none.
  void released(uint32_t s) {
    UringSlot& sl = slots_[s];
    if (--sl.inflight == 0 && !sl.open) free_.push_back(s);
  }

  void on_recv(uint32_t s, uint32_t gen, const io_uring_cqe& cqe, bool more) {
    UringSlot& sl = slots_[s];
    const bool current = sl.open && sl.gen == gen;
    if (cqe.res > 0 && (cqe.flags & IORING_CQE_F_BUFFER) != 0) {
      const uint16_t bid = sys::BufferRing::id_of(cqe);
      if (current) {
        if (opts_.idle_timeout_ns != 0) sl.last_active_ns = now_ns();
        const uint8_t* p = buffers_.buffer(bid);
        if (sl.throttled || !sl.held.empty()) {
          hold(s, p, static_cast<size_t>(cqe.res));
        } else {
          parse(s, p, static_cast<size_t>(cqe.res));
        }
      }
      buffers_.recycle(bid);
    } else {
      buffers_.recycle(cqe);
    }
    if (more) return;
    released(s);
    if (!slots_[s].open || slots_[s].gen != gen) return;
    slots_[s].receiving = slots_[s].cancelling = false;
    if (cqe.res == 0) {  // end of file: answer what was asked, then close
      if (slots_[s].control) {
        close_slot(s);
        return;
      }
      slots_[s].read_done = true;
      close_when_done(s);
      return;
    }
    // Ended by the kernel (buffers ran out: -ENOBUFS), a one-shot read, or a
    // cancel: armed again. Any other error means the connection is gone.
    if (cqe.res < 0 && cqe.res != -ENOBUFS && cqe.res != -EINTR && cqe.res != -EAGAIN &&
        cqe.res != -ECANCELED) {
      close_slot(s);
      return;
    }
    // But a stopped connection only by read_again(), once its backlog has
    // halved: whatever ended its receive (the cancel, or the kernel running
    // out of buffers before the cancel landed), arming it here would take
    // its bytes without bound.
    if (!slots_[s].throttled) arm_recv(s);
  }

  // Keeps n bytes received on a stopped connection for unthrottle(). Past
  // kUringHeldBytes they are still kept (they are out of the kernel's
  // buffer, and a request lost would break the stream) but counted, and the
  // receive is made sure to be cancelled.
  void hold(uint32_t s, const uint8_t* p, size_t n) {
    UringSlot& sl = slots_[s];
    const size_t over = sl.held.size() + n > kUringHeldBytes
                            ? sl.held.size() + n - std::max(sl.held.size(), kUringHeldBytes)
                            : 0;
    core_.held_over += over;
    sl.held.insert(sl.held.end(), p, p + n);
    if (over > 0) stop_reading(s);
  }

  void make_ready(uint32_t s) {
    UringSlot& sl = slots_[s];
    if (sl.queued || sl.sending) return;
    sl.queued = true;
    ready_.push_back(s);
  }

  // Queues the next chunk of every ready slot's first response; the loop's
  // next enter submits them all at once.
  void send_ready() {
    if (ready_.empty()) return;
    const uint64_t start = now_ns();  // every send below starts within the coming enter
    for (uint32_t s : ready_) {
      UringSlot& sl = slots_[s];
      sl.queued = false;
      if (!sl.open || sl.sending || sl.out.empty()) continue;
      Out& o = sl.out.front();
      const uint32_t chunk = std::min(o.size - o.offset, kUringSendChunk);
      if (sl.tx.size() < chunk) sl.tx.resize(chunk);
      fill_payload(o.conn_index, o.id, o.offset, sl.tx.data(), chunk);
      io_uring_sqe* sqe = get_sqe();
      if (sqe == nullptr) return;
      if (sl.socket) {
        // MSG_NOSIGNAL: a client gone away is -EPIPE in the CQE, not a SIGPIPE.
        io_uring_prep_send(sqe, sl.wfd, sl.tx.data(), chunk, MSG_NOSIGNAL);
      } else {
        io_uring_prep_write(sqe, sl.wfd, sl.tx.data(), chunk, 0);
      }
      sqe->user_data = uring_tag(UringOp::kSend, s, sl.gen);
      ++sl.inflight;
      sl.sending = true;
      starting(o, start);
    }
    ready_.clear();
  }

  void on_send(uint32_t s, uint32_t gen, int res) {
    released(s);
    UringSlot& sl = slots_[s];
    if (!sl.open || sl.gen != gen) return;
    if (res == -EAGAIN) {
      // This kernel hands a full non-blocking descriptor back instead of
      // parking the send: wait until it can take bytes, then send again.
      io_uring_sqe* sqe = get_sqe();
      if (sqe == nullptr) return;
      io_uring_prep_poll_add(sqe, sl.wfd, POLLOUT);
      sqe->user_data = uring_tag(UringOp::kPollOut, s, sl.gen);
      ++sl.inflight;
      return;
    }
    sl.sending = false;
    if (res <= 0) {  // the client is gone
      close_slot(s);
      return;
    }
    sent(s, static_cast<size_t>(res));
    if (!sl.out.empty()) {
      make_ready(s);
    } else {
      close_when_done(s);
    }
  }

  void on_pollout(uint32_t s, uint32_t gen) {
    released(s);
    UringSlot& sl = slots_[s];
    if (!sl.open || sl.gen != gen) return;
    sl.sending = false;
    make_ready(s);
  }

  void on_accept(int res, bool more) {
    if (res >= 0) {
      const int one = 1;
      sys::setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      accepted(res, [this](int fd) { add_slot(fd, fd, false); });
    }
    if (more) return;
    if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
      // Out of descriptors or memory: try again later, not at once.
      io_uring_sqe* sqe = get_sqe();
      if (sqe == nullptr) return;
      accept_retry_ = {static_cast<int64_t>(kUringAcceptRetryNs / sys::kNsPerSecond),
                       static_cast<long long>(kUringAcceptRetryNs % sys::kNsPerSecond)};
      io_uring_prep_timeout(sqe, &accept_retry_, 0, 0);
      sqe->user_data = uring_tag(UringOp::kAcceptRetry);
      return;
    }
    arm_accept();
  }

  // A connection whose client has stopped sending is closed once every
  // response it asked for is out.
  void close_when_done(uint32_t s) {
    if (slots_[s].finished() && !slots_[s].sending) close_slot(s);
  }

  void close_slot(uint32_t s) {
    if (!shut_slot(s)) return;
    UringSlot& sl = slots_[s];
    if (sl.inflight > 0) {
      // Take back what the kernel holds for these descriptors before closing
      // them: a closed descriptor does not end an operation already armed.
      cancel_all(sl.rfd);
      if (sl.wfd != sl.rfd) cancel_all(sl.wfd);
      ring_.enter(0, 0);
    }
    sys::close(sl.rfd);
    if (sl.wfd != sl.rfd) sys::close(sl.wfd);
    sl.rfd = sl.wfd = -1;
    if (sl.inflight == 0) free_.push_back(s);
  }

  void cancel_all(int fd) {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    sqe->user_data = uring_tag(UringOp::kCancel);
  }

  sys::Ring ring_;
  sys::BufferRing buffers_;
  bool read_multishot_ = false;
  std::vector<uint32_t> ready_;  // slots with a response to send
  __kernel_timespec accept_retry_{};
  bool stop_ = false;
  bool fatal_ = false;
  std::string fatal_why_;
};

}  // namespace

int run_uring_peer(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns,
                   std::string* why) {
  auto peer = std::make_unique<UringPeer>(opts);  // the histogram is big: keep it off the stack
  if (const int code = peer->init(conns.size(), why); code != 0) return code;
  const int code = peer->run(conns, why);
  // A thread of a sharded peer leaves its figures with the group.
  if (opts.final_stats != nullptr || opts.shards != nullptr) {
    const PeerStats st = peer->stats();
    if (opts.final_stats != nullptr) *opts.final_stats = st;
  }
  return code;
}

}  // namespace iomodels::detail
