// Description: the io_uring ring owner, the counted way into the kernel, and
// the probe of what io_uring can do here.
#include "sys/uring.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <vector>

#include "sys/sys.h"
#include "sys/time.h"

namespace iomodels::sys {

namespace {

// How long close() waits for an SQPOLL thread to exit; it takes about a
// millisecond, but a loaded machine may delay the kernel's exit work.
constexpr int kSqThreadExitWaitMs = 1000;

// The ids of this process's threads.
std::vector<int> thread_ids() {
  std::vector<int> tids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec))
    tids.push_back(std::atoi(e.path().filename().c_str()));
  return tids;
}

}  // namespace

void Ring::close() {
  if (!live_) return;
  io_uring_queue_exit(&ring_);  // unregisters a registered ring fd too
  live_ = false;
  ring_fd_registered_ = false;
  if (sq_thread_tid_ < 0) return;
  const std::string task = "/proc/self/task/" + std::to_string(sq_thread_tid_);
  for (int ms = 0; ms < kSqThreadExitWaitMs && ::access(task.c_str(), F_OK) == 0; ++ms)
    ::usleep(1000);
  sq_thread_tid_ = -1;
}

Status Ring::init(const RingOptions& opts) {
  if (live_) return Status::error("io_uring: ring already set up");
  // CQSIZE: every connection can have a receive and a failed send completing
  // at once; a CQ too small for them overflows into the kernel's slow backlog.
  // CLAMP: a large request is cut to the kernel's maximum, not refused.
  const unsigned base =
      IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | (opts.sqpoll ? IORING_SETUP_SQPOLL : 0u);
  // The cheapest task-work mode first. DEFER_TASKRUN runs completions only
  // when this thread enters the kernel to wait: no interrupts while it works,
  // and a waiter is woken only once enough completions are due. SQPOLL cannot
  // have it: its requests are issued by the kernel thread.
  const std::initializer_list<unsigned> sqpoll_modes = {IORING_SETUP_SINGLE_ISSUER, 0u};
  const std::initializer_list<unsigned> modes = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, 0u};
  // An explicit mode is that mode only.
  const unsigned explicit_mode =
      opts.task_run == TaskRun::kDefer  ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
      : opts.task_run == TaskRun::kCoop ? IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
                                        : 0u;
  if (opts.sqpoll && opts.task_run != TaskRun::kBest && opts.task_run != TaskRun::kNone)
    return Status::error("io_uring: SQPOLL cannot have COOP_TASKRUN or DEFER_TASKRUN");
  const std::initializer_list<unsigned> one_mode = {explicit_mode};
  const std::initializer_list<unsigned>& tried = opts.task_run != TaskRun::kBest ? one_mode
                                                 : opts.sqpoll                   ? sqpoll_modes
                                                                                 : modes;
  const std::vector<int> threads_before = opts.sqpoll ? thread_ids() : std::vector<int>{};
  int r = -EINVAL;
  for (unsigned mode : tried) {
    io_uring_params p{};
    p.flags = base | mode;
    p.cq_entries = opts.cq_entries != 0 ? opts.cq_entries : 2 * opts.sq_entries;
    p.sq_thread_idle = opts.sq_thread_idle_ms;
    r = io_uring_queue_init_params(opts.sq_entries, &ring_, &p);
    if (r == 0) {
      live_ = true;
      features_ = p.features;
      // Map SQ slot i to SQE i once, so publishing SQEs is just a tail store
      // (liburing 2.3 does this too; doing it here makes flush_sq not depend on it).
      for (unsigned i = 0; i < ring_.sq.ring_entries; ++i) ring_.sq.array[i] = i;
      // The SQ thread starts with the ring: the thread that was not there
      // before. (Not found by name: it names itself "iou-sqp-" only once it runs.)
      for (int tid : opts.sqpoll ? thread_ids() : std::vector<int>{})
        if (std::find(threads_before.begin(), threads_before.end(), tid) == threads_before.end())
          sq_thread_tid_ = tid;
      if (opts.register_ring_fd) {
        // Returns how many were registered (1); liburing then enters by slot.
        if (const int rr = io_uring_register_ring_fd(&ring_); rr != 1) {
          close();
          return rr == -EINVAL
                     ? Status::not_applicable("io_uring_register_ring_fd: " + errno_text(rr) +
                                              " (registered ring fds need Linux 5.18+)")
                     : Status::from_errno(rr < 0 ? rr : -EIO, "io_uring_register_ring_fd");
        }
        ring_fd_registered_ = true;
      }
      return {};
    }
    if (r != -EINVAL) break;  // EINVAL: this kernel lacks a flag; try the next mode
  }
  if (r == -EINVAL && opts.task_run != TaskRun::kBest && explicit_mode != 0)
    return Status::not_applicable(
        std::string("io_uring_setup: ") + errno_text(r) + " (this kernel refuses " +
        (opts.task_run == TaskRun::kDefer ? "SINGLE_ISSUER | DEFER_TASKRUN, Linux 6.1+"
                                          : "COOP_TASKRUN | TASKRUN_FLAG, Linux 5.19+") +
        ")");
  if (r == -EPERM)
    return Status::not_applicable("io_uring_setup: " + errno_text(r) +
                                  " (disabled by sysctl or seccomp, or SQPOLL not permitted)");
  return Status::from_errno(r, "io_uring_setup");
}

std::string Ring::describe() const {
  std::string s;
  const auto add = [&](unsigned flag, const char* name) {
    if ((ring_.flags & flag) == 0) return;
    if (!s.empty()) s += ", ";
    s += name;
  };
  add(IORING_SETUP_SQPOLL, "sqpoll");
  add(IORING_SETUP_SINGLE_ISSUER, "single_issuer");
  add(IORING_SETUP_DEFER_TASKRUN, "defer_taskrun");
  add(IORING_SETUP_COOP_TASKRUN, "coop_taskrun");
  add(IORING_SETUP_TASKRUN_FLAG, "taskrun_flag");
  return s.empty() ? "no setup flags" : s;
}

unsigned Ring::flush_sq() {
  io_uring_sq& sq = ring_.sq;
  const unsigned tail = sq.sqe_tail;
  if (sq.sqe_head != tail) {
    sq.sqe_head = tail;
    // Release: the kernel (or the SQPOLL thread) must see the SQEs before the tail.
    io_uring_smp_store_release(sq.ktail, tail);
  }
  return tail - io_uring_smp_load_acquire(sq.khead);
}

long Ring::enter(unsigned wait_nr, uint64_t timeout_ns, uint32_t min_wait_us) {
  const unsigned pending = flush_sq();
  unsigned to_submit = pending;
  unsigned flags = 0;
  if ((ring_.flags & IORING_SETUP_SQPOLL) != 0) {
    // The kernel thread takes the SQEs; the enter is only needed to wake it.
    to_submit = 0;
    if (pending > 0) {
      // Full barrier: the tail store must be visible before reading whether
      // the thread has gone to sleep (liburing's sq_ring_needs_enter).
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_NEED_WAKEUP) != 0)
        flags |= IORING_ENTER_SQ_WAKEUP;
    }
  }
  // A CQE already there is handled at once rather than waited beside.
  if (wait_nr > 0 && cq_ready() > 0) wait_nr = 0;
  if (wait_nr > 0) flags |= IORING_ENTER_GETEVENTS;
  if (to_submit == 0 && flags == 0) return 0;
  const timespec ts = to_timespec(timeout_ns);
  return sys::uring_enter(&ring_, to_submit, wait_nr, flags | enter_flags(),
                          wait_nr > 0 ? &ts : nullptr, wait_nr > 1 ? min_wait_us : 0);
}

io_uring_sqe* Ring::sqe(Status* err) {
  if (io_uring_sqe* s = io_uring_get_sqe(&ring_)) return s;
  // Full: submit what is queued, then take a slot. A few tries, because an
  // interrupted enter may have taken only some of them.
  for (int attempt = 0; attempt < 8; ++attempt) {
    long r;
    if ((ring_.flags & IORING_SETUP_SQPOLL) != 0) {
      flush_sq();
      std::atomic_thread_fence(std::memory_order_seq_cst);
      unsigned flags = IORING_ENTER_SQ_WAIT;  // sleep until the thread frees a slot
      if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_NEED_WAKEUP) != 0)
        flags |= IORING_ENTER_SQ_WAKEUP;
      r = sys::uring_enter(&ring_, 0, 0, flags | enter_flags(), nullptr);
    } else {
      r = enter(0, 0);
    }
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      *err = Status::from_errno(r, "io_uring_enter (submission queue full)");
      return nullptr;
    }
    if (io_uring_sqe* s = io_uring_get_sqe(&ring_)) return s;
  }
  *err = Status::error("io_uring: the submission queue stays full");
  return nullptr;
}

namespace {

// Tries one ring with `flags`; 0 or -errno.
int try_ring(unsigned flags) {
  io_uring ring;
  io_uring_params p{};
  p.flags = flags;
  const int r = io_uring_queue_init_params(4, &ring, &p);
  if (r < 0) return r;
  io_uring_queue_exit(&ring);
  return 0;
}

UringProbe probe() {
  UringProbe u;
  io_uring ring;
  io_uring_params p{};
  const int r = io_uring_queue_init_params(4, &ring, &p);
  if (r < 0) {
    u.reason = "io_uring_setup: " + errno_text(r);
    if (r == -EPERM)
      u.reason += " (disabled by sysctl kernel.io_uring_disabled or a seccomp filter)";
    else if (r == -ENOSYS)
      u.reason += " (this kernel has no io_uring)";
    else if (r == -ENOMEM)
      u.reason += " (RLIMIT_MEMLOCK too low for the ring)";
    return u;
  }
  u.available = true;
  u.features = p.features;
  if (io_uring_probe* pr = io_uring_get_probe_ring(&ring)) {
    u.read_multishot = io_uring_opcode_supported(pr, kOpReadMultishot) != 0;
    u.recv_multishot = io_uring_opcode_supported(pr, IORING_OP_PROVIDE_BUFFERS) != 0 &&
                       io_uring_opcode_supported(pr, IORING_OP_RECV) != 0;
    u.send_zc = io_uring_opcode_supported(pr, IORING_OP_SEND_ZC) != 0;
    io_uring_free_probe(pr);
  }
  u.ring_fd_register = io_uring_register_ring_fd(&ring) == 1;
  io_uring_queue_exit(&ring);
  u.single_issuer = try_ring(IORING_SETUP_SINGLE_ISSUER) == 0;
  u.sqpoll = try_ring(IORING_SETUP_SQPOLL) == 0;
  u.defer_taskrun = try_ring(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) == 0;
  u.coop_taskrun = try_ring(IORING_SETUP_COOP_TASKRUN) == 0;
  return u;
}

}  // namespace

std::string UringProbe::describe() const {
  if (!available) return "no: " + reason;
  std::string s = "yes (";
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (s.back() != '(') s += ", ";
    s += name;
  };
  add(single_issuer, "single_issuer");
  add(defer_taskrun, "defer_taskrun");
  add(coop_taskrun, "coop_taskrun");
  add(recv_multishot, "recv_multishot");
  add(read_multishot, "read_multishot");
  add((features & IORING_FEAT_NODROP) != 0, "nodrop");
  add((features & IORING_FEAT_EXT_ARG) != 0, "ext_arg");
  add(send_zc, "send_zc");
  add(bundle(), "bundle");
  add(ring_fd_register, "registered_ring_fd");
  add(sqpoll, "sqpoll");
  return s + ")";
}

const UringProbe& uring_probe() {
  static const UringProbe u = probe();
  return u;
}

BufferRing::~BufferRing() {
  if (br_ != nullptr) ::munmap(br_, br_bytes_);
}

Status BufferRing::init(Ring& ring, unsigned count, uint32_t buf_bytes, uint16_t group) {
  if (!std::has_single_bit(count))
    return Status::error("a provided buffer ring's size must be a power of two, not " +
                         std::to_string(count));
  count_ = count;
  buf_bytes_ = buf_bytes;
  group_ = group;
  pool_.assign(size_t{count_} * buf_bytes_, 0);
  br_bytes_ = size_t{count_} * sizeof(io_uring_buf);
  void* m = ::mmap(nullptr, br_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    br_ = nullptr;
    return Status::from_errno(-errno, "mmap (buffer ring)");
  }
  br_ = static_cast<io_uring_buf_ring*>(m);
  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(br_);
  reg.ring_entries = count_;
  reg.bgid = group_;
  if (int r = io_uring_register_buf_ring(ring.get(), &reg, 0); r < 0) {
    if (r == -EINVAL)
      return Status::not_applicable("io_uring_register_buf_ring: " + errno_text(r) +
                                    " (provided buffer rings need Linux 5.19+)");
    return Status::from_errno(r, "io_uring_register_buf_ring");
  }
  slot_of_.assign(count_, 0);
  id_at_.assign(count_, 0);
  tail_ = 0;
  for (unsigned b = 0; b < count_; ++b) recycle(static_cast<uint16_t>(b));
  return {};
}

void BufferRing::recycle(uint16_t id) {
  const unsigned slot = tail_++ & (count_ - 1);
  slot_of_[id] = static_cast<uint16_t>(slot);
  id_at_[slot] = id;
  io_uring_buf_ring_add(br_, buffer(id), buf_bytes_, id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace iomodels::sys
