// Description: the peer's epoll loop, the fallback where io_uring cannot
// serve (uring_peer.cc is the default). One epoll set for every connection;
// the protocol and the deadline heap are PeerProtocol's (protocol.h). This
// loop only waits and moves bytes: it reads requests with read(), and sends
// responses that fall due together in one io_uring batch where io_uring
// writes work (batch_writer.h), else by write(); a deadline nearer than this
// machine's sleep overshoot is awaited by polling.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "peer/batch_writer.h"
#include "peer/protocol.h"
#include "sys/epoll_owner.h"
#include "sys/sys.h"
#include "sys/time.h"

namespace iomodels::detail {
namespace {

// Tokens in epoll_event.u64: small integers, not pointers.
constexpr uint64_t kEpollTokenListen = 0;
constexpr uint64_t kEpollTokenStop = 1;
constexpr uint64_t kEpollTokenMail = 2;  // a sharded peer's mailbox (shards.h)
constexpr uint64_t kEpollTokenFirstSlot = 3;

// Big enough to take many queued requests in one read and to write a 64 KiB
// chunk of payload per syscall (a pipe's default capacity).
constexpr size_t kEpollIoChunk = 64 * 1024;
// One epoll_wait serves up to this many ready fds.
constexpr int kEpollMaxEvents = 512;
// When accept fails for lack of descriptors or memory, the listening socket
// is left alone this long rather than retried at once.
constexpr uint64_t kEpollAcceptRetryNs = 50'000'000;
// One batch of due responses: at most this many writes and payload bytes.
constexpr unsigned kEpollBatchWrites = 256;
constexpr size_t kEpollBatchBytes = 256 * 1024;

// The epoll loop needs nothing per connection beyond the protocol's state.
struct EpollSlot : ConnState {};

class EpollPeer : public PeerProtocol<EpollPeer, EpollSlot> {
 public:
  explicit EpollPeer(const PeerOptions& o)
      : PeerProtocol(o, PeerLoop::kEpollWrite), rx_(kEpollIoChunk), scratch_(kEpollIoChunk) {}

  int run(std::vector<std::pair<int, int>>& conns, std::string* why) {
    // Timers fire at their deadline, not up to 50 us later (the default slack).
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    // Without io_uring (seccomp, sysctl, an old kernel) every response goes
    // by write().
    std::string no_batch;
    batch_.init(kEpollBatchWrites, kEpollBatchBytes, &no_batch);
    core_.set_loop(batch_.live() ? PeerLoop::kEpollBatch : PeerLoop::kEpollWrite);
    if (Status s = ep_.open(); !s.ok()) {
      *why = s.message();
      return 1;
    }
    // The set is still empty: these sleeps end by their timeout.
    for (int i = 0; i < kStartupSleeps; ++i) timed_sleep(nullptr, 0, kStartupSleepNs);
    for (auto& [r, w] : conns) add_slot(r, w, false);
    if (opts_.control_fd >= 0) add_slot(opts_.control_fd, opts_.control_fd, true);
    if (opts_.listen_fd >= 0) {
      // accept4 in a loop until EAGAIN: the listening socket must not block.
      sys::fcntl_setfl(opts_.listen_fd, O_NONBLOCK, 0);
      ep_.add(opts_.listen_fd, EPOLLIN, kEpollTokenListen);
    }
    if (opts_.stop_fd >= 0) ep_.add(opts_.stop_fd, EPOLLIN, kEpollTokenStop);
    if (opts_.shards != nullptr) {
      ep_.add(opts_.shards->mailbox(opts_.shard), EPOLLIN, kEpollTokenMail);
      join_shards();
    }
    core_.reset_window();

    std::vector<epoll_event> evs(kEpollMaxEvents);
    for (;;) {
      if (accept_paused_ && now_ns() >= accept_resume_ns_) {
        accept_paused_ = false;
        ep_.add(opts_.listen_fd, EPOLLIN, kEpollTokenListen);
      }
      uint64_t wait = wait_before_due();
      long n;
      if (wait == kNothingDue && !accept_paused_ && opts_.idle_timeout_ns == 0) {
        n = ep_.wait(evs.data(), kEpollMaxEvents, nullptr);
      } else {
        if (wait == kNothingDue) {
          const uint64_t now = now_ns();
          uint64_t wake = accept_paused_ ? accept_resume_ns_ : UINT64_MAX;
          if (opts_.idle_timeout_ns != 0) wake = std::min(wake, next_sweep_ns_);
          wait = wake > now ? wake - now : 0;
        }
        n = timed_sleep(evs.data(), kEpollMaxEvents, wait);
      }
      if (n < 0) {
        *why = "epoll_pwait2: " + errno_text(n);
        return 1;
      }
      // Due responses go first, and again between events: reading a burst of
      // requests takes a few microseconds each, and responses that fall due
      // meanwhile must not wait for the whole burst.
      for (long i = 0; i < n; ++i) {
        send_due();
        const uint64_t tok = evs[i].data.u64;
        if (tok == kEpollTokenStop) return 0;
        if (tok == kEpollTokenListen) {
          accept_all();
          continue;
        }
        if (tok == kEpollTokenMail) {
          take_mail([this](int fd) { add_slot(fd, fd, false); });
          continue;
        }
        const uint32_t s = static_cast<uint32_t>(tok - kEpollTokenFirstSlot);
        const uint32_t e = evs[i].events;
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
          on_readable(s, (e & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0);
        if (slots_[s].open && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) flush(s);
      }
      send_due();
      resume_reading();
      sweep_idle();
      if (parent_gone()) return 0;
    }
  }

 private:
  friend class PeerProtocol<EpollPeer, EpollSlot>;

  // epoll_pwait2 with a timeout of wait_ns; a sleep that ends by its timeout
  // teaches the sleep-cost estimate how late this machine wakes.
  long timed_sleep(epoll_event* evs, int max, uint64_t wait_ns) {
    const timespec ts = sys::to_timespec(wait_ns);
    const uint64_t target = now_ns() + wait_ns;
    epoll_event none;
    const long n = ep_.wait(evs ? evs : &none, evs ? max : 1, &ts);
    if (n == 0 && wait_ns > 0) overslept(target);
    return n;
  }

  void add_slot(int rfd, int wfd, bool control) {
    const uint32_t s = open_slot(rfd, wfd, control);
    // Edge-triggered: each new arrival or new buffer space is one event, and
    // the loop reads/writes until the kernel says EAGAIN or a short count.
    if (rfd == wfd) {
      ep_.add(rfd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, kEpollTokenFirstSlot + s);
    } else {
      ep_.add(rfd, EPOLLIN | EPOLLET, kEpollTokenFirstSlot + s);
      ep_.add(wfd, EPOLLOUT | EPOLLET, kEpollTokenFirstSlot + s);
    }
  }

  void close_slot(uint32_t s) {
    if (!shut_slot(s)) return;
    const EpollSlot& sl = slots_[s];
    sys::close(sl.rfd);
    if (sl.wfd != sl.rfd) sys::close(sl.wfd);
    free_.push_back(s);
  }

  // --- what PeerProtocol asks of a loop ---
  void respond(uint32_t s) { flush(s); }
  // A slot with responses still queued is waiting for EPOLLOUT.
  void fell_due(uint32_t s) {
    if (slots_[s].out.size() == 1) ready_.push_back(s);
  }
  void before_spin() { send_ready(); }
  // Reads are sized to the limit's room (on_readable), so nothing is in flight.
  void stop_reading(uint32_t) {}
  // Not from inside a write's completion: reading may queue and send more.
  void backlog_halved(uint32_t s) { resume_.push_back(s); }
  // Edge-triggered: no new edge will say what is waiting.
  void read_again(uint32_t s) { on_readable(s, true); }

  void send_due() {
    fire_due();
    send_ready();
  }

  // Reads again the connections stopped for owing too many responses.
  void resume_reading() {
    if (resume_.empty()) return;
    std::vector<uint32_t> now;
    now.swap(resume_);
    for (uint32_t s : now) unthrottle(s);
  }

  void accept_all() {
    for (;;) {
      const long fd = sys::accept4(opts_.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
        // Out of descriptors or memory. The listening socket stays readable,
        // so level-triggered epoll would report it again at once and the
        // loop would spin: leave it out of the set for a while instead.
        ep_.remove(opts_.listen_fd);
        accept_paused_ = true;
        accept_resume_ns_ = now_ns() + kEpollAcceptRetryNs;
        return;
      }
      if (fd < 0) return;  // EAGAIN: all taken
      const int one = 1;
      sys::setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      accepted(static_cast<int>(fd), [this](int c) { add_slot(c, c, false); });
    }
  }

  // `hangup`: the event also said the other side stopped sending, so the
  // reads go on to the end of file, which no later edge would report.
  void on_readable(uint32_t s, bool hangup) {
    for (;;) {
      EpollSlot& sl = slots_[s];
      if (sl.read_done || !sl.open || throttle_if_owed(s)) return;
      // Each read takes at most what the limit on owed responses has room
      // for, so throttled requests wait in the kernel's buffer.
      size_t want = rx_.size();
      if (opts_.max_queued != 0 && !sl.control)
        want = std::min<size_t>(want, size_t{opts_.max_queued - sl.owed()} * kRequestBytes);
      const long n = sys::read(sl.rfd, rx_.data(), want);
      if (n == -EAGAIN) return;
      if (n > 0 && opts_.idle_timeout_ns != 0) sl.last_active_ns = now_ns();
      if (n == 0 && !sl.control) {  // end of file: answer what was asked, then close
        sl.read_done = true;
        close_when_done(s);
        return;
      }
      if (n <= 0) {  // an error, or the parent's control socket closed
        close_slot(s);
        return;
      }
      if (!parse(s, rx_.data(), static_cast<size_t>(n))) return;
      // A short read drained the stream (pipes and stream sockets return what
      // is queued, up to the buffer), so skip the read that would say EAGAIN.
      // Seqpacket control messages come one per read; they are never batched.
      if (static_cast<size_t>(n) < want && !hangup) return;
    }
  }

  // A connection whose client has stopped sending is closed once every
  // response it asked for is out.
  void close_when_done(uint32_t s) {
    if (slots_[s].finished()) close_slot(s);
  }

  // Writes queued responses until done or the kernel's buffer is full.
  void flush(uint32_t s) {
    EpollSlot& sl = slots_[s];
    while (!sl.out.empty()) {
      const Out& o = sl.out.front();
      const uint64_t start = o.started ? 0 : now_ns();
      const size_t chunk = std::min<size_t>(o.size - o.offset, kEpollIoChunk);
      fill_payload(o.conn_index, o.id, o.offset, scratch_.data(), chunk);
      const long n = sys::write(sl.wfd, scratch_.data(), chunk);
      if (n == -EAGAIN) return;  // EPOLLOUT (edge) will call again
      if (n < 0) {
        close_slot(s);
        return;
      }
      wrote(s, start, static_cast<size_t>(n));
    }
  }

  // n bytes of the slot's first response went out by a write started at
  // `start`. Its lateness is taken at its first write that sends bytes: one
  // that found the buffer full (EAGAIN) did not send it.
  void wrote(uint32_t s, uint64_t start, size_t n) {
    if (n == 0) return;
    starting(slots_[s].out.front(), start);
    sent(s, n);
    if (slots_[s].out.empty()) close_when_done(s);
  }

  // Sends the first queued response of every slot in ready_: in one io_uring
  // batch when there are several, else (or without io_uring) by write().
  void send_ready() {
    if (ready_.empty()) return;
    if (ready_.size() == 1 || !batch_.live()) {
      for (uint32_t s : ready_) flush(s);
      ready_.clear();
      return;
    }
    for (uint32_t s : ready_) {
      const EpollSlot& sl = slots_[s];
      if (!sl.open || sl.out.empty()) continue;
      const Out& o = sl.out.front();
      const size_t chunk = std::min<size_t>(o.size - o.offset, kEpollIoChunk);
      uint8_t* buf = batch_.add(sl.wfd, chunk, s);
      if (buf == nullptr) {  // the batch is full: send it, start the next
        submit_batch();
        buf = batch_.add(sl.wfd, chunk, s);
      }
      if (buf == nullptr) {
        flush(s);
        continue;
      }
      fill_payload(o.conn_index, o.id, o.offset, buf, chunk);
    }
    submit_batch();
    ready_.clear();
  }

  void submit_batch() {
    // Every write of the batch starts within the coming io_uring_enter.
    const uint64_t start = now_ns();
    batch_.submit([&](uint64_t tag, long res) {
      const auto s = static_cast<uint32_t>(tag);
      EpollSlot& sl = slots_[s];
      if (!sl.open || sl.out.empty()) return;
      if (res == BatchWriter::kNotWritten) {  // io_uring gave up: write()
        flush(s);
        return;
      }
      if (res == -EAGAIN) return;  // EPOLLOUT (edge) will call flush()
      if (res < 0) {
        close_slot(s);
        return;
      }
      wrote(s, start, static_cast<size_t>(res));
      // The rest of a large response, or responses queued behind this one.
      if (!sl.out.empty()) flush(s);
    });
  }

  sys::Epoll ep_;
  std::vector<uint32_t> ready_;  // slots with a response just fallen due
  BatchWriter batch_;
  std::vector<uint32_t> resume_;  // throttled slots that may be read again
  bool accept_paused_ = false;    // out of descriptors: the listening socket is left alone
  uint64_t accept_resume_ns_ = 0;
  // Received requests, parsed in place. Separate from scratch_, which flush()
  // fills with payload while parse() may still be reading later requests.
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> scratch_;  // outgoing payload
};

}  // namespace

int run_epoll_peer(const PeerOptions& opts, std::vector<std::pair<int, int>>& conns,
                   std::string* why) {
  auto peer = std::make_unique<EpollPeer>(opts);  // the histogram is big: keep it off the stack
  const int code = peer->run(conns, why);
  // A thread of a sharded peer leaves its figures with the group.
  if (opts.final_stats != nullptr || opts.shards != nullptr) {
    const PeerStats st = peer->stats();
    if (opts.final_stats != nullptr) *opts.final_stats = st;
  }
  return code;
}

}  // namespace iomodels::detail
