// Description: io_uring at the syscall boundary: Ring, the RAII owner of one
// io_uring (io_uring_queue_init_params paired with io_uring_queue_exit) and the
// one place the models and the peer enter the kernel through it, so every
// io_uring_enter is counted and none is hidden in liburing; and the
// process-wide probe of what this kernel's io_uring can do.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sys/status.h"
#include "sys/sys.h"

namespace iomodels::sys {

// How completions' task work runs (the IORING_SETUP_* task-run flags).
enum class TaskRun {
  kBest,   // the cheapest the kernel takes: kDefer, else kCoop, else kNone
  kNone,   // no flag: task work interrupts the thread with an IPI-like signal
  kCoop,   // COOP_TASKRUN | TASKRUN_FLAG: no interrupt, run at the next transition
  kDefer,  // SINGLE_ISSUER | DEFER_TASKRUN: run only when the thread waits in enter
};

struct RingOptions {
  unsigned sq_entries = 256;       // rounded up to a power of two by the kernel
  unsigned cq_entries = 0;         // 0 = twice sq_entries
  bool sqpoll = false;             // a kernel thread polls the SQ (IORING_SETUP_SQPOLL)
  unsigned sq_thread_idle_ms = 0;  // SQPOLL: the thread sleeps after this long idle
  // Not kBest: exactly that mode, kNotApplicable where the kernel refuses it
  // (with SQPOLL only kNone or kBest: its thread issues the requests).
  TaskRun task_run = TaskRun::kBest;
  // Registers the ring's own fd (IORING_REGISTER_RING_FDS), so each enter
  // names a slot and skips the fd table lookup and reference count.
  bool register_ring_fd = false;
};

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
  // Each enter names the registered ring slot (RingOptions::register_ring_fd).
  bool ring_fd_registered() const { return ring_fd_registered_; }

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
    if (n > 0) count_completions(n);
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
  bool ring_fd_registered_ = false;
  // The enter flag that names the registered ring slot, or 0.
  unsigned enter_flags() const { return ring_fd_registered_ ? IORING_ENTER_REGISTERED_RING : 0u; }
};

// A ring of provided buffers (io_uring_register_buf_ring, Linux 5.19+) of
// `count` buffers of `buf_bytes` each: a receive flagged IOSQE_BUFFER_SELECT
// lets the kernel pick one per arriving chunk and name it in the CQE, and the
// owner hands it back when done. liburing 2.3 has no io_uring_setup_buf_ring,
// so the ring is mapped (page-aligned, shared with the kernel) and registered
// here. The io_uring that writes into the buffers must be closed before this
// is destroyed.
class BufferRing {
 public:
  BufferRing() = default;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing();

  // Registers the ring as buffer group `group` of `ring`, every buffer handed
  // to the kernel. kNotApplicable when the kernel lacks provided buffer rings.
  Status init(Ring& ring, unsigned count, uint32_t buf_bytes, uint16_t group);

  uint16_t group() const { return group_; }
  uint32_t buf_bytes() const { return buf_bytes_; }
  // The buffer a CQE flagged IORING_CQE_F_BUFFER names, and that name.
  static uint16_t id_of(const io_uring_cqe& cqe) {
    return static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  }
  uint8_t* buffer(uint16_t id) { return pool_.data() + size_t{id} * buf_bytes_; }
  // A bundle receive (IORING_RECVSEND_BUNDLE) fills several buffers in the
  // ring's order, naming only the first: the k-th buffer after `first`.
  uint16_t id_after(uint16_t first, unsigned k) const {
    return id_at_[(slot_of_[first] + k) & (count_ - 1)];
  }
  // Hands the buffer back to the kernel, for any receive of the group.
  void recycle(uint16_t id);
  // Hands back the buffer a CQE carries, if it carries one.
  void recycle(const io_uring_cqe& cqe) {
    if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) recycle(id_of(cqe));
  }

 private:
  std::vector<uint8_t> pool_;  // count_ buffers of buf_bytes_
  // Where each buffer was last handed to the kernel, and what each ring slot
  // holds: the kernel takes slots in order, so a bundle's buffers follow.
  std::vector<uint16_t> slot_of_, id_at_;
  unsigned tail_ = 0;  // slots ever filled (the ring's tail, unmasked)
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  unsigned count_ = 0;
  uint32_t buf_bytes_ = 0;
  uint16_t group_ = 0;
};

// Linux 6.7's IORING_OP_READ_MULTISHOT; liburing 2.3 predates it.
inline constexpr uint8_t kOpReadMultishot = 49;
// Linux 6.10's IORING_RECVSEND_BUNDLE (in sqe->ioprio); liburing 2.3 predates it.
inline constexpr uint16_t kRecvSendBundle = 1u << 4;

// What this kernel's io_uring can do, found by making rings (untimed).
struct UringProbe {
  bool available = false;
  std::string reason;             // why not, when unavailable (from the errno)
  uint32_t features = 0;          // io_uring_params.features
  bool single_issuer = false;     // IORING_SETUP_SINGLE_ISSUER accepted
  bool defer_taskrun = false;     // IORING_SETUP_DEFER_TASKRUN accepted
  bool coop_taskrun = false;      // IORING_SETUP_COOP_TASKRUN accepted
  bool read_multishot = false;    // IORING_OP_READ_MULTISHOT (Linux 6.7+)
  bool recv_multishot = false;    // multishot recv with provided buffers
  bool send_zc = false;           // IORING_OP_SEND_ZC (Linux 6.0+)
  bool ring_fd_register = false;  // IORING_REGISTER_RING_FDS (Linux 5.18+)
  bool sqpoll = false;            // IORING_SETUP_SQPOLL permitted here
  // IORING_FEAT_RECVSEND_BUNDLE (Linux 6.10+): a receive fills several provided buffers.
  static constexpr uint32_t kFeatRecvSendBundle = 1u << 14;
  bool bundle() const { return (features & kFeatRecvSendBundle) != 0; }
  std::string describe() const;  // "yes (single_issuer, defer_taskrun, ...)" or "no: reason"
};

// Probed once per process (a ring made and torn down), then cached.
const UringProbe& uring_probe();

}  // namespace iomodels::sys
