// Description: a peer sharded over threads (--peer-threads): each thread runs
// its own serving loop (or load generator) over a shard of the connections,
// and a ShardGroup joins them: the accepted connections handed round-robin
// from thread 0, a statistics request answered by one thread with every
// thread's figures summed (each thread counts its own, and is asked for them
// through its mailbox), and one stop for all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "measure/histogram.h"
#include "peer/peer.h"
#include "peer/wire.h"
#include "sys/fd.h"

namespace iomodels::detail {

// What one thread of the peer counted since its last reset, or the sum of
// several threads' (add): counts summed, histograms merged, the window's
// wall time and the process's CPU the longest reading, the busiest thread's
// own CPU the largest.
struct ShardFigures {
  uint32_t threads = 0;         // whose figures are in here
  uint64_t wall_ns = 0;         // the window
  uint64_t process_cpu_ns = 0;  // the whole process's CPU in the window
  uint64_t busiest_cpu_ns = 0;  // the busiest thread's own CPU in the window
  uint64_t requests = 0, protocol_errors = 0;
  uint64_t refused = 0, bad_token = 0, idle_closed = 0, throttled = 0, held_over = 0;
  uint64_t poll_horizon_ns = 0;  // the largest of the threads' sleep-cost estimates
  uint64_t loop = 0;             // a PeerLoop: how the threads move bytes
  Histogram lateness;            // ns: a response's (a request's, generator) send - due
  // A program under --exec: what the peer checked (ExecPeerStats).
  uint64_t first_request_ns = 0, last_response_ns = 0;
  uint64_t complete_conns = 0, early = 0, wrong_conn = 0, wrong_size = 0, wrong_id = 0;
  uint64_t extra = 0, refused_conns = 0;
  Histogram turnaround;
  // The load generator (GeneratorStats).
  uint64_t sent = 0, bad_bytes = 0, behind = 0, sched_span_ns = 0;
  uint64_t closed = 0;  // connections the generator closed, since it started
  Histogram corrected, uncorrected;

  void add(const ShardFigures& o);
};

class ShardGroup {
 public:
  // A thread's answer to a statistics request (ControlCommand), its figures
  // added to *f; called on that thread only.
  using Answer = std::function<void(uint64_t cmd, ShardFigures* f)>;

  // `threads` threads serving `connections` connections in all (the load
  // generator's schedule divides the load by them; --exec's indices).
  ShardGroup(uint32_t threads, uint32_t connections);
  ~ShardGroup();
  ShardGroup(const ShardGroup&) = delete;
  ShardGroup& operator=(const ShardGroup&) = delete;

  uint32_t size() const { return n_; }
  uint32_t connections() const { return connections_; }
  // Readable (never read) once the group stops: every thread's stop_fd.
  int stop_fd() const { return stop_.get(); }
  void stop();
  // Readable when thread k has mail: a connection handed to it, or a
  // statistics request. Its loop waits for it and then calls on_mail(k).
  int mailbox(uint32_t k) const { return members_[k].mailbox.get(); }

  // Thread k serves from now on, answering with `a`.
  void join(uint32_t k, Answer a);
  // Thread k has stopped: it is never asked again; `final` (may be null) is
  // what it counted since its last reset.
  void leave(uint32_t k, std::unique_ptr<ShardFigures> final);
  // The threads' final figures summed (after every thread has left).
  std::unique_ptr<ShardFigures> finals();

  // Accepted connections go round-robin: the thread the next one goes to.
  uint32_t next_owner() { return next_owner_++ % n_; }
  // Gives the connection `fd` to thread k (it serves it from its next mail).
  void hand_over(uint32_t k, int fd);
  // Thread k's mail: the connections handed to it since, and, if another
  // thread asked for its figures, the answer given.
  std::vector<int> on_mail(uint32_t k);

  // A statistics request reached thread `self`: every thread's figures
  // (its own through its Answer) summed into *f; with kStatsAndReset each
  // starts a new window. Other threads answer from their loops; one request
  // is gathered at a time, and a thread waiting for its turn answers what
  // the request before it asks of it.
  void gather(uint32_t self, uint64_t cmd, ShardFigures* f);

  // Client connections open over every thread (max_connections).
  std::atomic<uint32_t> clients{0};
  // --exec: claims connection index `conn` for one connection of the
  // program; false if it is out of range or was claimed already.
  bool claim(uint64_t conn);

 private:
  struct Member {
    Fd mailbox;  // an eventfd
    Answer answer;
    bool gone = false;
    uint64_t asked = 0;  // 1 + the command asked of it; 0: none
    bool answered = false;
    std::unique_ptr<ShardFigures> figures;  // its answer
    std::unique_ptr<ShardFigures> final;
    std::vector<int> inbox;  // connections handed to it
  };
  void wake(uint32_t k);
  // Answers the request asked of thread k, if any; `lock` held on entry and exit.
  void serve(uint32_t k, std::unique_lock<std::mutex>& lock);

  const uint32_t n_;
  const uint32_t connections_;
  Fd stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Member> members_;
  bool gathering_ = false;
  std::atomic<uint32_t> next_owner_{0};
  std::unique_ptr<std::atomic<bool>[]> claimed_;
};

// The loop one thread runs: the serving loop (client role) or the load
// generator (server role).
using ShardLoop = int (*)(const PeerOptions&, std::vector<std::pair<int, int>>&, std::string*);

// Runs `loop` on opts.peer_threads threads (> 1), connection i on thread
// i % N, each thread pinned to peer_cpus[k % size] when they are given.
// Thread 0 takes the control and listening sockets; a stop (opts.stop_fd, a
// thread returning) stops them all. Returns the first nonzero exit code.
int run_sharded(const PeerOptions& opts, std::vector<std::pair<int, int>> conns, ShardLoop loop,
                std::string* why);

// The figures as the control connection carries them.
PeerStatsWire stats_wire(const ShardFigures& f, uint64_t spin_ns);

}  // namespace iomodels::detail
