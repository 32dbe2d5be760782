// Description: Ring, the RAII owner of one io_uring (io_uring_queue_init_params
// paired with io_uring_queue_exit) and the one place the io_uring models enter
// the kernel, so every io_uring_enter is counted and none is hidden in liburing.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "iomodels/status.h"

namespace iomodels::detail {

struct RingOptions {
  unsigned sq_entries = 256;       // rounded up to a power of two by the kernel
  unsigned cq_entries = 0;         // 0 = twice sq_entries
  bool sqpoll = false;             // a kernel thread polls the SQ (IORING_SETUP_SQPOLL)
  unsigned sq_thread_idle_ms = 0;  // SQPOLL: the thread sleeps after this long idle
};

// Per receive: at most this much per connection, so 10,000 connections with
// large responses still fit in memory; a 1 MiB response takes 16 receives.
inline constexpr uint32_t kUringChunkBytes = 64 * 1024;

// Batch wait (Linux 6.12+): a sweep waits for every outstanding response but
// returns once this long has passed with at least one. While the peer is
// busy, responses pile up meanwhile and one enter reaps many; when they are
// slow, the first one after this wakes the loop as usual. It bounds the delay
// batching adds (plus this VM's timer slack of 50-100 us). Measured at 64
// socketpair connections, latency 0: 0.37 syscalls per request waiting for one
// CQE, 0.10 with this; 10 us gave 0.25-0.4 (the timer fires before a batch builds).
inline constexpr uint32_t kUringBatchWaitUs = 50;

// `base` with its queues sized for `connections`: the SQ holds a whole sweep
// (a send and a receive per connection) up to 2,048 connections, and the CQ
// has room for every connection's receive and a failed send at once.
RingOptions ring_options_for(size_t connections, RingOptions base = {});

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { close(); }

  // Creates the ring on the calling thread, which must be the thread that
  // submits (IORING_SETUP_SINGLE_ISSUER). Asks for the cheapest task-work mode
  // the kernel has: SINGLE_ISSUER | DEFER_TASKRUN, else COOP_TASKRUN |
  // TASKRUN_FLAG, else none, retrying on EINVAL. Untimed, so the calls are
  // not counted.
  Status init(const RingOptions& opts);

  // Tears the ring down (cancelling what is in flight); safe to repeat. For
  // owners whose buffers must outlive the ring. With SQPOLL it also waits
  // (up to a second) for the kernel's SQ thread to exit, which the kernel does
  // asynchronously: a model leaves no thread behind.
  void close();

  io_uring* get() { return &ring_; }
  // The IORING_SETUP_* flags in force, and a readable list of them.
  unsigned flags() const { return ring_.flags; }
  std::string describe() const;
  // IORING_FEAT_CQE_SKIP: a successful op flagged IOSQE_CQE_SKIP_SUCCESS posts no CQE.
  bool can_skip_success() const { return (features_ & IORING_FEAT_CQE_SKIP) != 0; }
  // IORING_FEAT_MIN_TIMEOUT (Linux 6.12+; liburing 2.3 predates it): a wait
  // can ask for many CQEs yet return once a minimum wait has passed with some.
  static constexpr unsigned kFeatMinTimeout = 1u << 15;
  bool can_batch_wait() const { return (features_ & kFeatMinTimeout) != 0; }

  // A free SQE. When the SQ is full, submits what is queued first (one
  // counted io_uring_enter); nullptr only if the kernel still takes nothing,
  // with the reason in *err.
  io_uring_sqe* sqe(Status* err);

  // The one way into the kernel. Publishes the queued SQEs and makes at most
  // one io_uring_enter: to submit them (not with SQPOLL, whose thread takes
  // them unless it sleeps: then IORING_ENTER_SQ_WAKEUP) and, when `wait_nr` >
  // 0 and no CQE is ready yet, to wait for that many, at most
  // `timeout_ns`; with `min_wait_us` (see can_batch_wait) it returns after
  // that long if at least one is there. Makes no syscall when there is nothing
  // to submit or wait for. Returns the enter's result (-ETIME: timed out,
  // -EINTR: interrupted; both harmless) or 0 when it made none.
  long enter(unsigned wait_nr, uint64_t timeout_ns, uint32_t min_wait_us = 0);

  // CQEs ready to reap now (no syscall).
  unsigned cq_ready() const { return io_uring_cq_ready(&ring_); }

  // Calls f(cqe) for every ready CQE and marks each seen; stops at the first
  // error f returns. No syscall.
  template <typename F>
  Status reap(F&& f, unsigned* reaped) {
    unsigned n = 0;
    unsigned head;
    io_uring_cqe* cqe;
    Status s;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      const io_uring_cqe copy = *cqe;
      ++n;
      s = f(copy);
      if (!s.ok()) break;
    }
    io_uring_cq_advance(&ring_, n);
    *reaped = n;
    return s;
  }

 private:
  // Publishes the SQEs filled since the last call (liburing 2.3's
  // __io_uring_flush_sq) and returns how many the kernel has not taken yet.
  unsigned flush_sq();

  io_uring ring_{};
  bool live_ = false;
  int sq_thread_tid_ = -1;  // SQPOLL: the kernel thread's id, to await its exit
  unsigned features_ = 0;
};

// The `unavailable` hook every io_uring model shares: empty, or why io_uring
// cannot run here (from the process-wide probe).
std::string uring_unavailable();

}  // namespace iomodels::detail
