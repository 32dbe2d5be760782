// Description: `uring-ladder` (async · non-blocking): the `uring` proactor
// built up one io_uring feature at a time. RunOptions::ladder_steps says which
// steps are on (every one that applies, by default); `iomodels ladder` runs
// each step beside the one before it. Step 0 is the plainest proactor: no
// setup flags, one enter per sweep that waits for a single completion, a
// SEND and a RECV per request (WRITE and READ on pipes). Each step changes
// one thing the kernel or the loop does per request; docs/models.md says what.
#include "models/uring_ladder.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <bit>
#include <memory>
#include <vector>

#include "models/uring_proactor.h"

namespace iomodels {
namespace {

constexpr std::array<LadderStepInfo, static_cast<size_t>(LadderStep::kCount)> kSteps = {{
    {LadderStep::kBatchWait, "batch-wait", "wait for a batch of completions, bounded",
     "one enter reaps the completions that arrive within 50 us of the first, not one"},
    {LadderStep::kRingFd, "ring-fd", "the ring's fd registered",
     "each io_uring_enter names a slot: no fd table lookup and reference count per enter"},
    {LadderStep::kFixedFiles, "fixed-files", "the connections' fds registered",
     "each SQE names a slot: no fd lookup and reference count per operation"},
    {LadderStep::kMultishot, "multishot", "one multishot receive into provided buffers",
     "a receive is armed once per connection, not once per response: one SQE per request"},
    {LadderStep::kCoopTaskrun, "coop-taskrun", "COOP_TASKRUN | TASKRUN_FLAG",
     "completions' task work waits for the thread's next kernel entry: no interrupt"},
    {LadderStep::kDeferTaskrun, "defer-taskrun", "SINGLE_ISSUER | DEFER_TASKRUN",
     "task work runs only when the thread waits, all at once, and wakes it only when enough is "
     "due"},
    {LadderStep::kBundle, "bundle", "a receive fills several provided buffers",
     "bytes that arrived together come in one CQE, however many buffers they fill"},
    {LadderStep::kSendZc, "send-zc", "responses of 4 KiB or more sent zero-copy",
     "the kernel sends from the program's pages instead of copying them, at the price of a "
     "notification per send"},
    {LadderStep::kSqpoll, "sqpoll", "a kernel thread takes the SQEs",
     "submitting is a store to shared memory, not a syscall; the thread's CPU is the model's"},
}};

// Zero-copy only pays where a copy costs more than pinning pages and a
// second completion: io_uring's own guidance starts it at a few KiB.
constexpr uint32_t kSendZcMinBytes = 4096;

bool has(uint32_t mask, LadderStep s) { return (mask & ladder_bit(s)) != 0; }

class UringLadder final : public detail::UringProactor {
 public:
  UringLadder() : UringProactor(sys::RingOptions{}) {}
  // The ring (and its armed receives) must go before the buffers it writes into.
  ~UringLadder() override { ring().close(); }

  std::vector<Fact> facts() const override {
    std::vector<Fact> f = UringProactor::facts();
    f.push_back({"ladder_steps", ladder_steps_text(on_, ctx().workload->options())});
    return f;
  }

 protected:
  sys::RingOptions ring_options() const override {
    // The steps asked for that apply here; asked once, at set-up.
    on_ = ladder_in_force(ctx().options.ladder_steps, ctx().workload->options());
    sys::RingOptions o;
    o.register_ring_fd = has(on_, LadderStep::kRingFd);
    if (has(on_, LadderStep::kSqpoll)) {
      o.sqpoll = true;
      o.sq_thread_idle_ms = detail::kUringSqThreadIdleMs;
      o.task_run = sys::TaskRun::kBest;  // SINGLE_ISSUER, where the kernel takes it
    } else if (has(on_, LadderStep::kDeferTaskrun)) {
      o.task_run = sys::TaskRun::kDefer;
    } else if (has(on_, LadderStep::kCoopTaskrun)) {
      o.task_run = sys::TaskRun::kCoop;
    } else {
      o.task_run = sys::TaskRun::kNone;
    }
    return o;
  }

  bool batch_wait_wanted() const override { return has(on_, LadderStep::kBatchWait); }
  bool own_recv_buffers() const override { return !multishot(); }

  Status prepare() override {
    const WorkloadOptions& w = ctx().workload->options();
    zero_copy_ = has(on_, LadderStep::kSendZc) && w.role == Role::kServer &&
                 w.transport == Transport::kTcp && ctx().size() >= kSendZcMinBytes;
    if (has(on_, LadderStep::kFixedFiles)) {
      if (Status s = detail::register_conn_files(ring(), ctx().conns(), &rslot_, &wslot_); !s.ok())
        return s;
    }
    if (!multishot()) return {};
    return detail::init_provided_buffers(ring(), ctx().conns().size(), chunk_bytes(), &buffers_);
  }

  void prep_send(io_uring_sqe* sqe, uint32_t i, const uint8_t* p, unsigned n) override {
    const int fd = fixed() ? wslot_[i] : ctx().conns()[i].wfd;
    // MSG_WAITALL: a short send is retried by the kernel; MSG_NOSIGNAL: a
    // dead peer is -EPIPE, not SIGPIPE (as the uring model).
    if (zero_copy_ && n >= kSendZcMinBytes)
      io_uring_prep_send_zc(sqe, fd, p, n, MSG_WAITALL | MSG_NOSIGNAL, 0);
    else if (is_socket())
      io_uring_prep_send(sqe, fd, p, n, MSG_WAITALL | MSG_NOSIGNAL);
    else
      io_uring_prep_write(sqe, fd, p, n, 0);
    if (fixed()) sqe->flags |= IOSQE_FIXED_FILE;
  }

  void prep_recv(io_uring_sqe* sqe, uint32_t i, uint8_t* p, unsigned n, uint64_t off) override {
    const int fd = fixed() ? rslot_[i] : ctx().conns()[i].rfd;
    if (!multishot()) {
      if (is_socket())
        io_uring_prep_recv(sqe, fd, p, n, 0);
      else
        io_uring_prep_read(sqe, fd, p, n, is_file() ? off : 0);
    } else {
      // Armed once; the kernel picks a buffer (or, bundled, several) per chunk.
      if (is_socket())
        io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
      else
        io_uring_prep_rw(sys::kOpReadMultishot, sqe, fd, nullptr, 0, 0);
      if (has(on_, LadderStep::kBundle)) sqe->ioprio |= sys::kRecvSendBundle;
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = detail::kUringBufferGroup;
    }
    if (fixed()) sqe->flags |= IOSQE_FIXED_FILE;
  }

  const uint8_t* received(uint32_t i, const io_uring_cqe& cqe, unsigned k) override {
    if (!multishot()) return UringProactor::received(i, cqe, k);
    return buffers_.buffer(buffers_.id_after(sys::BufferRing::id_of(cqe), k));
  }
  size_t piece_bytes() const override { return multishot() ? buffers_.buf_bytes() : SIZE_MAX; }

  void recycle(const io_uring_cqe& cqe) override {
    if (!multishot() || (cqe.flags & IORING_CQE_F_BUFFER) == 0 || cqe.res <= 0) {
      if (multishot()) buffers_.recycle(cqe);
      return;
    }
    // Every buffer the CQE's bytes filled: one, or a bundle's several. Their
    // ids are read before any goes back (recycling refills slots).
    const uint16_t first = sys::BufferRing::id_of(cqe);
    const auto n = static_cast<unsigned>(
        (static_cast<uint64_t>(cqe.res) + buffers_.buf_bytes() - 1) / buffers_.buf_bytes());
    ids_.clear();
    for (unsigned k = 0; k < n; ++k) ids_.push_back(buffers_.id_after(first, k));
    for (uint16_t id : ids_) buffers_.recycle(id);
  }

 private:
  bool multishot() const { return has(on_, LadderStep::kMultishot); }
  bool fixed() const { return has(on_, LadderStep::kFixedFiles); }

  mutable uint32_t on_ = 0;  // the steps in force (ring_options() decides them)
  bool zero_copy_ = false;
  std::vector<int> rslot_, wslot_;  // each connection's registered-file slots
  sys::BufferRing buffers_;
  std::vector<uint16_t> ids_;  // scratch: a CQE's buffers
};

}  // namespace

std::span<const LadderStepInfo> ladder_steps() { return kSteps; }

const LadderStepInfo* find_ladder_step(std::string_view name) {
  for (const LadderStepInfo& s : kSteps)
    if (s.name == name) return &s;
  return nullptr;
}

std::string ladder_step_skipped(LadderStep step, const WorkloadOptions& w) {
  const sys::UringProbe& u = sys::uring_probe();
  if (!u.available) return u.reason;
  const bool socket = w.transport == Transport::kSocketpair || w.transport == Transport::kTcp;
  switch (step) {
    case LadderStep::kBatchWait:
      return (u.features & sys::Ring::kFeatMinTimeout) != 0
                 ? ""
                 : "this kernel cannot bound a batch wait (IORING_FEAT_MIN_TIMEOUT, Linux 6.12+)";
    case LadderStep::kRingFd:
      return u.ring_fd_register ? "" : "this kernel cannot register a ring fd (Linux 5.18+)";
    case LadderStep::kFixedFiles:
      return "";
    case LadderStep::kMultishot:
      return detail::multishot_why_not(w);
    case LadderStep::kCoopTaskrun:
      return u.coop_taskrun ? "" : "this kernel refuses COOP_TASKRUN (Linux 5.19+)";
    case LadderStep::kDeferTaskrun:
      return u.defer_taskrun ? "" : "this kernel refuses DEFER_TASKRUN (Linux 6.1+)";
    case LadderStep::kBundle:
      if (!socket)
        return "bundles are for socket receives; a pipe's multishot read takes one buffer a CQE";
      if (!detail::multishot_why_not(w).empty()) return "needs the multishot step";
      return u.bundle() ? "" : "this kernel lacks IORING_FEAT_RECVSEND_BUNDLE (Linux 6.10+)";
    case LadderStep::kSendZc:
      if (w.role != Role::kServer)
        return "the client role sends 16-byte requests: nothing worth sending zero-copy";
      if (w.transport != Transport::kTcp)
        return "zero-copy send is for TCP (and UDP) sockets; Unix sockets and pipes copy";
      if (w.size < kSendZcMinBytes)
        return "responses under 4 KiB are copied (cheaper than pinning)";
      return u.send_zc ? "" : "this kernel lacks IORING_OP_SEND_ZC (Linux 6.0+)";
    case LadderStep::kSqpoll:
      return u.sqpoll ? "" : "SQPOLL is not permitted here";
    case LadderStep::kCount:
      break;
  }
  return "not a step";
}

uint32_t ladder_in_force(uint32_t mask, const WorkloadOptions& w) {
  uint32_t on = 0;
  for (const LadderStepInfo& st : kSteps)
    if (has(mask, st.step) && ladder_step_skipped(st.step, w).empty()) on |= ladder_bit(st.step);
  if (has(on, LadderStep::kSqpoll))
    on &= ~(ladder_bit(LadderStep::kCoopTaskrun) | ladder_bit(LadderStep::kDeferTaskrun));
  if (has(on, LadderStep::kDeferTaskrun)) on &= ~ladder_bit(LadderStep::kCoopTaskrun);
  return on;
}

std::string ladder_steps_text(uint32_t mask, const WorkloadOptions& w) {
  std::string s;
  const uint32_t on = ladder_in_force(mask, w);
  for (const LadderStepInfo& st : kSteps)
    if (has(on, st.step)) s += (s.empty() ? "" : ", ") + std::string(st.name);
  return s.empty() ? "none (a plain proactor)" : s;
}

extern const ModelInfo model_uring_ladder{
    "uring-ladder",
    Quadrant::kAsyncNonblocking,
    Mechanism::kIoUring,
    /*coroutine=*/false,
    "io_uring proactor with the feature ladder's steps (iomodels ladder); every step that "
    "applies, by default",
    [] { return std::unique_ptr<Model>(new UringLadder); },
    detail::uring_unavailable};

}  // namespace iomodels
