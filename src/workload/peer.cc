// Description: the peer's epoll loop, the fallback where io_uring cannot
// serve (peer_uring.cc is the default), and run_peer_loop, which picks the
// loop. One epoll set for every connection and one deadline-ordered heap for
// every pending response: it reads requests, answers each after its drawn
// latency with the deterministic payload, and measures its own lateness and
// CPU (peer_core.h). Responses that fall due together leave in one io_uring
// batch where io_uring writes work (peer_batch.h), else by write(); a deadline
// nearer than this machine's sleep overshoot is awaited by polling.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <vector>

#include "sys/epoll_owner.h"
#include "sys/sys.h"
#include "sys/time.h"
#include "workload/peer_batch.h"
#include "workload/peer_core.h"

namespace iomodels {
namespace {

// Tokens in epoll_event.u64: small integers, not pointers.
constexpr uint64_t kTokenListen = 0;
constexpr uint64_t kTokenStop = 1;
constexpr uint64_t kTokenFirstSlot = 2;

// Big enough to take many queued requests in one read and to write a 64 KiB
// chunk of payload per syscall (a pipe's default capacity).
constexpr size_t kIoChunk = 64 * 1024;
// One epoll_wait serves up to this many ready fds.
constexpr int kMaxEvents = 512;
// When accept fails for lack of descriptors or memory, the listening socket
// is left alone this long rather than retried at once.
constexpr uint64_t kAcceptRetryNs = 50'000'000;
// One batch of due responses: at most this many writes and payload bytes.
constexpr unsigned kBatchWrites = 256;
constexpr size_t kBatchBytes = 256 * 1024;

struct Slot {
  int rfd = -1;
  int wfd = -1;
  uint32_t gen = 0;  // bumped on reuse, so a stale deadline is ignored
  bool open = false;
  bool control = false;
  bool read_done = false;  // end of file seen: close once every response is out
  uint32_t pending = 0;    // responses in the deadline heap
  bool throttled = false;  // not read while it owes too many responses (max_queued)
  detail::RequestAssembler in;
  detail::Hello hello;
  std::deque<detail::Out> out;
  uint64_t last_due_ns = 0;     // of its latest request: responses leave in request order
  uint64_t last_active_ns = 0;  // its latest byte in or out (idle_timeout_ns)
  detail::ExecCheck exec;       // a program under `run --exec`: what the peer checks
  uint32_t queued() const { return pending + static_cast<uint32_t>(out.size()); }
};

class Peer {
 public:
  explicit Peer(const PeerOptions& o)
      : opts_(o), core_(o, PeerLoop::kEpollWrite), rx_(kIoChunk), scratch_(kIoChunk) {}
  PeerStats stats() {
    return detail::stats_from_wire(core_.control(static_cast<uint64_t>(ControlCommand::kStats)));
  }

  int run(std::vector<std::pair<int, int>>& conns, int control_fd, std::string* why) {
    // Timers fire at their deadline, not up to 50 us later (the default slack).
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    // Without io_uring (seccomp, sysctl, an old kernel) every response goes
    // by write().
    std::string no_batch;
    batch_.init(kBatchWrites, kBatchBytes, &no_batch);
    core_.set_loop(batch_.live() ? PeerLoop::kEpollBatch : PeerLoop::kEpollWrite);
    if (Status s = ep_.open(); !s.ok()) {
      *why = s.message();
      return 1;
    }
    // The set is still empty: these sleeps end by their timeout.
    for (int i = 0; i < detail::kStartupSleeps; ++i)
      timed_sleep(nullptr, 0, detail::kStartupSleepNs);
    for (auto& [r, w] : conns) add_slot(r, w, false);
    if (control_fd >= 0) add_slot(control_fd, control_fd, true);
    if (opts_.listen_fd >= 0) {
      // accept4 in a loop until EAGAIN: the listening socket must not block.
      sys::fcntl_setfl(opts_.listen_fd, O_NONBLOCK, 0);
      watch(opts_.listen_fd, EPOLLIN, kTokenListen);
    }
    if (opts_.stop_fd >= 0) watch(opts_.stop_fd, EPOLLIN, kTokenStop);
    core_.reset_window();

    std::vector<epoll_event> evs(kMaxEvents);
    for (;;) {
      long n;
      if (accept_paused_) {
        const uint64_t now = now_ns();
        if (now >= accept_resume_ns_) {
          accept_paused_ = false;
          watch(opts_.listen_fd, EPOLLIN, kTokenListen);
        }
      }
      if (heap_.empty() && !accept_paused_ && opts_.idle_timeout_ns == 0) {
        n = ep_.wait(evs.data(), kMaxEvents, nullptr);
      } else if (heap_.empty()) {
        const uint64_t now = now_ns();
        uint64_t wake = accept_paused_ ? accept_resume_ns_ : UINT64_MAX;
        if (opts_.idle_timeout_ns != 0) wake = std::min(wake, next_sweep_ns_);
        n = timed_sleep(evs.data(), kMaxEvents, wake > now ? wake - now : 0);
      } else {
        const uint64_t now = now_ns();
        const uint64_t due = heap_.top().due_ns;
        const uint64_t wake = due > opts_.spin_ns ? due - opts_.spin_ns : 0;
        uint64_t wait = wake > now ? wake - now : 0;
        // A sleep typically ends sleep_cost_ after its timeout: for a
        // deadline nearer than that, sleeping would only make the response
        // late (and every response due meanwhile with it), so the loop polls
        // (timeout 0), reading requests, until the deadline comes. This
        // bounded busy wait shows in the peer's CPU.
        if (wait < core_.sleep_cost().estimate()) wait = 0;
        n = timed_sleep(evs.data(), kMaxEvents, wait);
      }
      if (n < 0) {
        *why = "epoll_pwait2: " + errno_text(n);
        return 1;
      }
      // Due responses go first, and again between events: reading a burst of
      // requests takes a few microseconds each, and responses that fall due
      // meanwhile must not wait for the whole burst.
      for (long i = 0; i < n; ++i) {
        fire_due();
        const uint64_t tok = evs[i].data.u64;
        if (tok == kTokenStop) return 0;
        if (tok == kTokenListen) {
          accept_all();
          continue;
        }
        const uint32_t s = static_cast<uint32_t>(tok - kTokenFirstSlot);
        const uint32_t e = evs[i].events;
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
          on_readable(s, (e & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0);
        if (slots_[s].open && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) flush(s);
      }
      fire_due();
      resume_reading();
      sweep_idle();
      if (control_fd >= 0 && !slots_[control_slot_].open) return 0;  // the parent is done
    }
  }

 private:
  // epoll_pwait2 with a timeout of wait_ns; a sleep that ends by its timeout
  // teaches sleep_cost_ how late this machine wakes.
  long timed_sleep(epoll_event* evs, int max, uint64_t wait_ns) {
    const timespec ts = sys::to_timespec(wait_ns);
    const uint64_t target = now_ns() + wait_ns;
    epoll_event none;
    const long n = ep_.wait(evs ? evs : &none, evs ? max : 1, &ts);
    if (n == 0 && wait_ns > 0) {
      const uint64_t now = now_ns();
      core_.sleep_cost().add(now > target ? now - target : 0);
    }
    return n;
  }

  void watch(int fd, uint32_t events, uint64_t token) { ep_.add(fd, events, token); }

  void add_slot(int rfd, int wfd, bool control) {
    const uint32_t s = detail::take_slot(&slots_, &free_);
    Slot& sl = slots_[s];
    sl.rfd = rfd;
    sl.wfd = wfd;
    sl.open = true;
    sl.control = control;
    sl.in.clear();
    sl.out.clear();
    sl.read_done = false;
    sl.throttled = false;
    sl.pending = 0;
    sl.last_due_ns = 0;
    sl.last_active_ns = now_ns();
    sl.hello.reset();
    sl.exec = {};
    if (control) control_slot_ = s;
    if (!control) ++clients_;
    sys::fcntl_setfl(rfd, O_NONBLOCK, 0);
    if (wfd != rfd) sys::fcntl_setfl(wfd, O_NONBLOCK, 0);
    // Edge-triggered: each new arrival or new buffer space is one event, and
    // the loop reads/writes until the kernel says EAGAIN or a short count.
    if (rfd == wfd) {
      watch(rfd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, kTokenFirstSlot + s);
    } else {
      watch(rfd, EPOLLIN | EPOLLET, kTokenFirstSlot + s);
      watch(wfd, EPOLLOUT | EPOLLET, kTokenFirstSlot + s);
    }
  }

  void close_slot(uint32_t s) {
    Slot& sl = slots_[s];
    if (!sl.open) return;
    sys::close(sl.rfd);
    if (sl.wfd != sl.rfd) sys::close(sl.wfd);
    sl.open = false;
    sl.out.clear();
    ++sl.gen;
    if (!sl.control) --clients_;
    free_.push_back(s);
  }

  // Reads again the connections stopped for owing too many responses, once
  // half of what they owed is out (not from inside a write's completion:
  // reading may queue and send more).
  void resume_reading() {
    if (resume_.empty()) return;
    std::vector<uint32_t> now;
    now.swap(resume_);
    for (uint32_t s : now)
      if (slots_[s].open && slots_[s].throttled) {
        slots_[s].throttled = false;
        on_readable(s, true);  // edge-triggered: no new edge will say what is waiting
      }
  }

  void sweep_idle() {
    detail::close_idle(slots_, &core_, &next_sweep_ns_, [this](uint32_t s) { close_slot(s); });
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
        accept_resume_ns_ = now_ns() + kAcceptRetryNs;
        return;
      }
      if (fd < 0) return;  // EAGAIN: all taken
      if (opts_.max_connections != 0 && clients_ >= opts_.max_connections) {
        ++core_.refused;  // over the limit: closed at once, so the client sees EOF
        sys::close(static_cast<int>(fd));
        continue;
      }
      const int one = 1;
      sys::setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      add_slot(static_cast<int>(fd), static_cast<int>(fd), false);
    }
  }

  // `hangup`: the event also said the other side stopped sending, so the
  // reads go on to the end of file, which no later edge would report.
  void on_readable(uint32_t s, bool hangup) {
    for (;;) {
      Slot& sl = slots_[s];
      if (sl.read_done || sl.throttled) return;
      // A connection that owes max_queued responses is not read until half
      // are out: its requests wait in the kernel's buffer (and the client
      // blocks), not in this process's memory. Each read takes at most what
      // the limit has room for.
      size_t want = rx_.size();
      if (opts_.max_queued != 0 && !sl.control) {
        if (!core_.may_read(sl.queued())) {
          sl.throttled = true;
          ++core_.throttled;
          return;
        }
        want = std::min<size_t>(want, size_t{opts_.max_queued - sl.queued()} * kRequestBytes);
      }
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
    const Slot& sl = slots_[s];
    if (sl.open && sl.read_done && sl.out.empty() && sl.pending == 0) close_slot(s);
  }

  // Takes whole requests out of the byte stream; false if the slot was closed.
  bool parse(uint32_t s, const uint8_t* p, size_t n) {
    const uint64_t now = now_ns();
    return slots_[s].in.feed(p, n, [&](const Request& rq) {
      switch (slots_[s].hello.take(rq, opts_.token)) {
        case detail::Hello::Verdict::kServe:
          break;
        case detail::Hello::Verdict::kConsumed:
          return true;
        case detail::Hello::Verdict::kAck:
          slots_[s].out.push_back(
              detail::Out{now, 0, kHelloConn, detail::kHelloAckBytes, 0, false});
          flush(s);
          return slots_[s].open;
        case detail::Hello::Verdict::kRefuse:
          ++core_.bad_token;
          close_slot(s);
          return false;
      }
      if (rq.conn == kControlConn && (slots_[s].control || !core_.exec_on())) {
        core_.answer_control(slots_[s].wfd, rq.id);
        return true;
      }
      Slot& sl = slots_[s];
      if (core_.exec_on()) {
        core_.exec_request(&sl.exec, rq, now);
        if (rq.conn == kControlConn) return true;  // counted; not served
      }
      if (!detail::PeerCore::valid_size(rq.size)) {
        core_.protocol_error();
        close_slot(s);
        return false;
      }
      const uint64_t due = core_.due(now, &sl.last_due_ns);
      if (due <= now) {
        sl.out.push_back(detail::Out{due, rq.id, rq.conn, rq.size, 0, false});
        flush(s);
        return slots_[s].open;
      }
      ++sl.pending;
      heap_.push(detail::Due{due, s, sl.gen, rq.conn, rq.size, rq.id, next_seq_++});
      return true;
    });
  }

  // Writes queued responses until done or the kernel's buffer is full.
  void flush(uint32_t s) {
    Slot& sl = slots_[s];
    while (!sl.out.empty()) {
      const detail::Out& o = sl.out.front();
      const uint64_t start = o.started ? 0 : now_ns();
      const size_t chunk = std::min<size_t>(o.size - o.offset, kIoChunk);
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
    Slot& sl = slots_[s];
    detail::Out& o = sl.out.front();
    if (!o.started && n > 0) {
      core_.started(o.conn_index, start, o.due_ns);
      o.started = true;
    }
    if (n > 0 && opts_.idle_timeout_ns != 0) sl.last_active_ns = now_ns();
    o.offset += static_cast<uint32_t>(n);
    if (o.offset == o.size) {
      core_.served(o.conn_index);
      if (core_.exec_on() && o.conn_index != kHelloConn) core_.exec_done(&sl.exec);
      sl.out.pop_front();
      if (sl.throttled && core_.may_resume(sl.queued())) resume_.push_back(s);
      if (sl.out.empty()) close_when_done(s);
    }
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
      const Slot& sl = slots_[s];
      if (!sl.open || sl.out.empty()) continue;
      const detail::Out& o = sl.out.front();
      const size_t chunk = std::min<size_t>(o.size - o.offset, kIoChunk);
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
      Slot& sl = slots_[s];
      if (!sl.open || sl.out.empty()) return;
      if (res == detail::BatchWriter::kNotWritten) {  // io_uring gave up: write()
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

  void fire_due() {
    while (!heap_.empty()) {
      const detail::Due d = heap_.top();
      uint64_t now = now_ns();
      if (d.due_ns > now) {
        if (d.due_ns - now > opts_.spin_ns) break;
        send_ready();                           // what is due goes out before the spin
        while (now < d.due_ns) now = now_ns();  // the opt-in spin: precision for a core
      }
      heap_.pop();
      Slot& sl = slots_[d.slot];
      if (!sl.open || sl.gen != d.gen) continue;
      --sl.pending;
      sl.out.push_back(detail::Out{d.due_ns, d.id, d.conn_index, d.size, 0, false});
      // A slot with responses still queued is waiting for EPOLLOUT.
      if (sl.out.size() == 1) ready_.push_back(d.slot);
    }
    send_ready();
  }

  PeerOptions opts_;
  detail::PeerCore core_;
  sys::Epoll ep_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  uint32_t control_slot_ = 0;
  detail::DueHeap heap_;
  uint64_t next_seq_ = 0;
  std::vector<uint32_t> ready_;  // slots with a response just fallen due
  detail::BatchWriter batch_;
  uint32_t clients_ = 0;          // open connections, the control socket not counted
  std::vector<uint32_t> resume_;  // throttled slots that may be read again
  uint64_t next_sweep_ns_ = 0;    // the next look for idle connections
  bool accept_paused_ = false;    // out of descriptors: the listening socket is left alone
  uint64_t accept_resume_ns_ = 0;
  // Received requests, parsed in place. Separate from scratch_, which flush()
  // fills with payload while parse() may still be reading later requests.
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> scratch_;  // outgoing payload
};

}  // namespace

int run_peer_loop(const PeerOptions& opts, std::vector<std::pair<int, int>> conns,
                  std::string* why) {
  // Every client holds a descriptor here: take what the hard limit allows.
  raise_fd_limit();
  if (opts.loop != PeerLoopChoice::kEpoll) {
    std::string no_uring;
    const int code = detail::run_uring_peer(opts, conns, &no_uring);
    if (code >= 0) {
      if (code != 0) *why = no_uring;
      return code;
    }
    if (opts.loop == PeerLoopChoice::kUring) {
      *why = "the io_uring loop cannot run here: " + no_uring;
      return 1;
    }
  }
  auto peer = std::make_unique<Peer>(opts);  // the histogram is big: keep it off the stack
  const int code = peer->run(conns, opts.control_fd, why);
  if (opts.final_stats != nullptr) *opts.final_stats = peer->stats();
  return code;
}

}  // namespace iomodels
