// Description: the peer's batch writer (batch_writer.h): one ring, one
// arena of payload, one io_uring_enter per batch of due responses.
#include "peer/batch_writer.h"

#include <algorithm>
#include <cerrno>

namespace iomodels::detail {
namespace {

// A wait for the batch's results ends after this long and is repeated: the
// writes are non-blocking and complete during the submit, so it never
// expires in practice.
constexpr uint64_t kBatchWaitNs = 1'000'000'000;
// Enters in a row that submit nothing and reap nothing before the writer
// gives up (only when nothing is in flight, so no buffer is still in use).
constexpr int kBatchMaxIdleEnters = 100;

}  // namespace

bool BatchWriter::init(unsigned max_writes, size_t arena_bytes, std::string* why) {
  sys::RingOptions o;
  o.sq_entries = max_writes;
  o.cq_entries = 2 * max_writes;
  const Status s = ring_.init(o);
  if (!s.ok()) {
    *why = s.message();
    return false;
  }
  // The kernel may round the SQ up; the batch never needs more than asked.
  max_writes_ = max_writes;
  arena_.resize(arena_bytes);
  tags_.reserve(max_writes);
  results_.resize(max_writes);
  live_ = true;
  return true;
}

uint8_t* BatchWriter::add(int fd, size_t n, uint64_t tag) {
  if (!live_ || tags_.size() >= max_writes_ || n > arena_.size() - used_) return nullptr;
  Status err;
  io_uring_sqe* sqe = ring_.sqe(&err);
  if (sqe == nullptr) return nullptr;
  uint8_t* buf = arena_.data() + used_;
  used_ += n;
  // The descriptor is O_NONBLOCK, so io_uring does not park the write: a full
  // socket or pipe completes it at once with -EAGAIN, like write().
  io_uring_prep_write(sqe, fd, buf, static_cast<unsigned>(n), 0);
  sqe->user_data = tags_.size();
  tags_.push_back(tag);
  return buf;
}

void BatchWriter::run() {
  const size_t n = tags_.size();
  std::fill_n(results_.begin(), n, kNotWritten);
  size_t submitted = 0, reaped = 0;
  int idle = 0;
  while (reaped < n) {
    const long r = ring_.enter(static_cast<unsigned>(n - reaped), kBatchWaitNs);
    if (r > 0) submitted += static_cast<size_t>(r);
    unsigned got = 0;
    ring_.reap(
        [&](const io_uring_cqe& cqe) {
          if (cqe.user_data < n) results_[cqe.user_data] = cqe.res;
          return Status{};
        },
        &got);
    reaped += got;
    if (r > 0 || got > 0) {
      idle = 0;
      continue;
    }
    const bool transient = r == 0 || r == -EINTR || r == -ETIME || r == -EAGAIN || r == -EBUSY;
    if (submitted == reaped && (!transient || ++idle >= kBatchMaxIdleEnters)) {
      // Nothing in flight and the kernel takes nothing more: stop using
      // io_uring. Closing the ring drops the SQEs it did not take, so those
      // writes never happen; they report kNotWritten and go by write().
      ring_.close();
      live_ = false;
      return;
    }
  }
}

}  // namespace iomodels::detail
