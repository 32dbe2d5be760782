// Description: the peer's protocol, written once for both serving loops:
// requests taken out of a connection's bytes (hello, control, the checks of
// a program under --exec, the limits), each given its due time, and due
// responses handed to the loop to send. A loop derives from PeerProtocol
// and keeps only how it waits and moves bytes (epoll_peer.cc, uring_peer.cc).
#pragma once

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include "peer/core.h"
#include "sys/sys.h"
#include "sys/time.h"

namespace iomodels::detail {

// What both loops keep of a connection; each loop's slot type derives from
// it and adds what its way of moving bytes needs.
struct ConnState {
  int rfd = -1;
  int wfd = -1;
  uint32_t gen = 0;  // bumped on close: the old connection's deadlines are ignored
  bool open = false;
  bool control = false;
  bool read_done = false;  // end of file seen: close once every response is out
  bool throttled = false;  // not read while it owes too many responses (max_queued)
  uint32_t pending = 0;    // responses in the deadline heap
  RequestAssembler in;
  Hello hello;
  std::deque<Out> out;
  uint64_t last_due_ns = 0;     // of its latest request: responses leave in request order
  uint64_t last_active_ns = 0;  // its latest byte in or out (idle_timeout_ns)
  ExecCheck exec;               // a program under `run --exec`: what the peer checks
  // Bytes that came after the connection was throttled (the loop may have
  // received more than the limit had room for), parsed when it is read again.
  std::vector<uint8_t> held;

  uint32_t owed() const { return pending + static_cast<uint32_t>(out.size()); }
  // Its client stopped sending and every response it asked for is out.
  bool finished() const { return open && read_done && out.empty() && pending == 0; }
};

// The protocol over a loop's slots. `Loop` (CRTP) provides:
//   respond(s)        a response due now was queued on slot s while parsing
//   fell_due(s)       a response from the deadline heap was queued on slot s
//   before_spin()     send what is due before the opt-in spin to a deadline
//   stop_reading(s)   slot s was throttled: stop receiving from it
//   backlog_halved(s) throttled slot s may be read again: unthrottle(s), now or soon
//   read_again(s)     unthrottle(s) parsed what slot s held: receive again
//   close_slot(s)     close the connection (shut_slot() does the common part)
template <typename Loop, typename Slot>
class PeerProtocol {
 public:
  // The statistics since the last reset, as the control connection reports
  // them. A thread of a sharded peer leaves them with its group instead
  // (run_sharded sums them), and from now on is asked no more.
  PeerStats stats() {
    const auto cmd = static_cast<uint64_t>(ControlCommand::kStats);
    if (opts_.shards != nullptr) {
      auto f = std::make_unique<ShardFigures>();
      core_.take(cmd, f.get());
      opts_.shards->leave(opts_.shard, std::move(f));
      return {};
    }
    return stats_from_wire(core_.control(cmd));
  }

 protected:
  PeerProtocol(const PeerOptions& o, PeerLoop loop) : opts_(o), core_(o, loop) {}

  // A thread of a sharded peer (opts_.shards): from now on it answers
  // statistics requests that reach other threads, through its mailbox
  // (opts_.shards->mailbox(opts_.shard)), which the loop watches and then
  // calls take_mail().
  void join_shards() {
    if (opts_.shards == nullptr) return;
    opts_.shards->join(opts_.shard, [this](uint64_t cmd, ShardFigures* f) { core_.take(cmd, f); });
  }
  // The mailbox was readable: the accepted connections thread 0 handed
  // over, each given to add(fd), and a statistics request answered.
  template <typename F>
  void take_mail(F&& add) {
    // Admitted already, by the thread that accepted them.
    for (int fd : opts_.shards->on_mail(opts_.shard)) add(fd);
  }
  // An accepted connection: served here, or handed to the thread whose turn
  // it is. Round-robin at accept rather than every thread accepting from the
  // shared listener: the connections are then spread evenly and in order
  // (connection i of a run that connects one after another on thread i % N),
  // where a shared listener gives each to whichever thread wakes first.
  template <typename F>
  void accepted(int fd, F&& add) {
    if (!admit()) {
      sys::close(fd);
      return;
    }
    const uint32_t k = opts_.shards != nullptr ? opts_.shards->next_owner() : opts_.shard;
    if (k == opts_.shard) {
      add(fd);
    } else {
      opts_.shards->hand_over(k, fd);
    }
  }

  // What wait_before_due() returns when no response is waiting for its time.
  static constexpr uint64_t kNothingDue = UINT64_MAX;

  // A slot for a connection, its state fresh; both descriptors non-blocking
  // (a loop waits for readiness or lets io_uring park the operation, and a
  // direct write of a control answer can never stall the loop).
  uint32_t open_slot(int rfd, int wfd, bool control) {
    const uint32_t s = take_slot(&slots_, &free_);
    ConnState& c = slots_[s];
    c.rfd = rfd;
    c.wfd = wfd;
    c.open = true;
    c.control = control;
    c.read_done = c.throttled = false;
    c.pending = 0;
    c.in.clear();
    c.hello.reset();
    c.out.clear();
    c.held.clear();
    c.last_due_ns = 0;
    c.last_active_ns = now_ns();
    c.exec = {};
    if (control) {
      control_slot_ = s;
    } else {
      ++clients_;
      if (opts_.shards != nullptr) ++opts_.shards->clients;
    }
    sys::fcntl_setfl(rfd, O_NONBLOCK, 0);
    if (wfd != rfd) sys::fcntl_setfl(wfd, O_NONBLOCK, 0);
    return s;
  }

  // The part of closing that is the protocol's: false if it was closed.
  // The loop then closes the descriptors and frees the slot when it may.
  bool shut_slot(uint32_t s) {
    ConnState& c = slots_[s];
    if (!c.open) return false;
    c.open = false;
    c.out.clear();
    c.held.clear();
    ++c.gen;
    if (!c.control) {
      --clients_;
      if (opts_.shards != nullptr) --opts_.shards->clients;
    }
    return true;
  }

  // Whether an accepted connection may stay: beyond max_connections it is
  // counted and the caller closes it at once, so the client sees EOF.
  bool admit() {
    const uint32_t open = opts_.shards != nullptr ? opts_.shards->clients.load() : clients_;
    if (opts_.max_connections == 0 || open < opts_.max_connections) return true;
    ++core_.refused;
    return false;
  }

  // Whether the parent's control socket has closed: the local peer's end.
  bool parent_gone() const { return opts_.control_fd >= 0 && !slots_[control_slot_].open; }

  // Takes whole requests out of n bytes received on slot s. False when the
  // slot was closed or throttled: then the bytes after the request that
  // throttled it are held for unthrottle().
  bool parse(uint32_t s, const uint8_t* p, size_t n) {
    const uint64_t now = now_ns();
    const size_t used =
        slots_[s].in.feed_until(p, n, [&](const Request& rq) { return take_request(s, rq, now); });
    Slot& sl = slots_[s];
    if (sl.open && used < n) sl.held.insert(sl.held.end(), p + used, p + n);
    return sl.open && !sl.throttled;
  }

  // Throttles slot s when it owes max_queued responses: its requests then
  // wait in the kernel's buffer (and the client blocks), not in this
  // process's memory. True if it is throttled.
  bool throttle_if_owed(uint32_t s) {
    Slot& sl = slots_[s];
    if (sl.throttled) return true;
    if (sl.control || core_.may_read(sl.owed())) return false;
    sl.throttled = true;
    ++core_.throttled;
    loop().stop_reading(s);
    return true;
  }

  // Reads slot s again, once half its backlog is out: first the bytes it
  // held (which may throttle it again), then whatever the kernel has.
  void unthrottle(uint32_t s) {
    Slot& sl = slots_[s];
    if (!sl.open || !sl.throttled) return;
    sl.throttled = false;
    if (!sl.held.empty()) {
      std::vector<uint8_t> held;
      held.swap(sl.held);
      if (!parse(s, held.data(), held.size())) return;
    }
    loop().read_again(s);
  }

  // How long the loop may wait for arrivals before the nearest deadline
  // (less the opt-in spin), or kNothingDue.
  uint64_t wait_before_due() {
    if (heap_.empty()) return kNothingDue;
    const uint64_t now = now_ns();
    const uint64_t due = heap_.top().due_ns;
    const uint64_t wake = due > opts_.peer_spin_ns ? due - opts_.peer_spin_ns : 0;
    const uint64_t wait = wake > now ? wake - now : 0;
    // A sleep typically ends sleep_cost after its timeout: for a deadline
    // nearer than that, sleeping would only make the response late (and
    // every response due meanwhile with it), so the loop polls (timeout 0),
    // taking arrivals, until it comes. This bounded busy wait shows in the
    // peer's CPU.
    return wait < core_.sleep_cost().estimate() ? 0 : wait;
  }

  // A wait meant to end at `target` ended at now without an event: how late
  // this machine wakes, for wait_before_due().
  void overslept(uint64_t target) {
    const uint64_t now = now_ns();
    core_.sleep_cost().add(now > target ? now - target : 0);
  }

  // Queues every response whose time has come on its slot (Loop::fell_due).
  void fire_due() {
    while (!heap_.empty()) {
      const Due d = heap_.top();
      uint64_t now = now_ns();
      if (d.due_ns > now) {
        if (d.due_ns - now > opts_.peer_spin_ns) break;
        loop().before_spin();
        while (now < d.due_ns) now = now_ns();  // the opt-in spin: precision for a core
      }
      heap_.pop();
      Slot& sl = slots_[d.slot];
      if (!sl.open || sl.gen != d.gen) continue;
      --sl.pending;
      sl.out.push_back(Out{d.due_ns, d.id, d.conn_index, d.size, 0, false});
      loop().fell_due(d.slot);
    }
  }

  // A send of the response `o` starts at `start`: its lateness is taken at
  // its first send.
  void starting(Out& o, uint64_t start) {
    if (o.started) return;
    core_.started(o.conn_index, start, o.due_ns);
    o.started = true;
  }

  // n bytes (n > 0) of slot s's first response are out. A complete response
  // is counted and may let a throttled slot be read again.
  void sent(uint32_t s, size_t n) {
    Slot& sl = slots_[s];
    Out& o = sl.out.front();
    if (opts_.idle_timeout_ns != 0) sl.last_active_ns = now_ns();
    o.offset += static_cast<uint32_t>(n);
    if (o.offset != o.size) return;
    core_.served(o.conn_index);
    if (core_.exec_on() && o.conn_index != kHelloConn) core_.exec_done(&sl.exec);
    sl.out.pop_front();
    if (sl.throttled && core_.may_resume(sl.owed())) loop().backlog_halved(s);
  }

  // Closes the client connections with no byte in or out for the idle
  // timeout, counting them; looks at most once a second.
  void sweep_idle() {
    const uint64_t idle = opts_.idle_timeout_ns;
    if (idle == 0) return;
    const uint64_t now = now_ns();
    if (now < next_sweep_ns_) return;
    next_sweep_ns_ = now + std::min<uint64_t>(idle, 1'000'000'000);
    for (uint32_t s = 0; s < slots_.size(); ++s) {
      const Slot& sl = slots_[s];
      if (sl.open && !sl.control && now - sl.last_active_ns >= idle) {
        ++core_.idle_closed;
        loop().close_slot(s);
      }
    }
  }

  const PeerOptions opts_;
  PeerCore core_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;  // slots the loop has freed for reuse
  uint32_t control_slot_ = 0;
  uint32_t clients_ = 0;  // open connections, the control socket not counted
  DueHeap heap_;
  uint64_t next_seq_ = 0;
  uint64_t next_sweep_ns_ = 0;  // the next look for idle connections

 private:
  Loop& loop() { return static_cast<Loop&>(*this); }

  // One request of slot s, arrived at `now`; false stops the parse.
  bool take_request(uint32_t s, const Request& rq, uint64_t now) {
    Slot& sl = slots_[s];
    switch (sl.hello.take(rq, opts_.token)) {
      case Hello::Verdict::kServe:
        break;
      case Hello::Verdict::kConsumed:
        return true;
      case Hello::Verdict::kAck:
        sl.out.push_back(Out{now, 0, kHelloConn, kHelloAckBytes, 0, false});
        loop().respond(s);
        return sl.open;
      case Hello::Verdict::kRefuse:
        ++core_.bad_token;
        loop().close_slot(s);
        return false;
    }
    if (rq.conn == kControlConn && (sl.control || !core_.exec_on())) {
      auto f = std::make_unique<ShardFigures>();
      if (opts_.shards != nullptr) {
        opts_.shards->gather(opts_.shard, rq.id, f.get());
      } else {
        core_.take(rq.id, f.get());
      }
      core_.answer_control(sl.wfd, *f);
      return true;
    }
    if (core_.exec_on() && !core_.exec_request(&sl.exec, rq, now)) {
      // A program under --exec that breaks a rule is not answered: the
      // connection is closed (what it had queued dropped), and the program
      // sees the end of file instead of a response it did not earn.
      core_.exec_refused();
      loop().close_slot(s);
      return false;
    }
    if (!PeerCore::valid_size(rq.size)) {
      core_.protocol_error();
      loop().close_slot(s);
      return false;
    }
    const uint64_t due = core_.due(now, &sl.last_due_ns);
    if (due <= now) {
      sl.out.push_back(Out{due, rq.id, rq.conn, rq.size, 0, false});
      loop().respond(s);
      if (!sl.open) return false;
    } else {
      ++sl.pending;
      heap_.push(Due{due, s, sl.gen, rq.conn, rq.size, rq.id, next_seq_++});
    }
    return !throttle_if_owed(s);
  }
};

}  // namespace iomodels::detail
