// Description: `uring-fixed` (async · non-blocking): the `uring` proactor with
// registered files and registered buffers. io_uring_register_files gives the
// kernel every connection's fd once, so an SQE flagged IOSQE_FIXED_FILE names
// a slot and the kernel skips looking up (and reference-counting) the file
// per op; io_uring_register_buffers pins the send slots and receive buffers
// once, so READ_FIXED / WRITE_FIXED skip mapping user pages per op. RECV and
// SEND cannot take a registered buffer, but read() and write() work on
// sockets too, so every transport uses READ_FIXED / WRITE_FIXED.
#include <sys/uio.h>

#include <memory>
#include <vector>

#include "models/uring_proactor.h"

namespace iomodels {
namespace {

// io_memory() is registered as one buffer, index 0.
constexpr int kBufIndex = 0;

class UringFixed final : public detail::UringProactor {
 public:
  UringFixed() : UringProactor(sys::RingOptions{}) {}

 protected:
  Status prepare() override {
    if (Status s = detail::register_conn_files(ring(), ctx().conns(), &rslot_, &wslot_); !s.ok())
      return s;
    iovec iov{io_memory().data(), io_memory().size()};
    if (int r = io_uring_register_buffers(ring().get(), &iov, 1); r < 0) {
      if (r == -ENOMEM || r == -EPERM)
        return Status::not_applicable("io_uring_register_buffers: " + errno_text(r) +
                                      " (pinning the buffers exceeds RLIMIT_MEMLOCK)");
      return Status::from_errno(r, "io_uring_register_buffers");
    }
    return {};
  }

  void prep_send(io_uring_sqe* sqe, uint32_t i, const uint8_t* p, unsigned n) override {
    io_uring_prep_write_fixed(sqe, wslot_[i], p, n, 0, kBufIndex);
    sqe->flags |= IOSQE_FIXED_FILE;
  }

  void prep_recv(io_uring_sqe* sqe, uint32_t i, uint8_t* p, unsigned n, uint64_t off) override {
    io_uring_prep_read_fixed(sqe, rslot_[i], p, n, is_file() ? off : 0, kBufIndex);
    sqe->flags |= IOSQE_FIXED_FILE;
  }

 private:
  std::vector<int> rslot_, wslot_;  // each connection's registered-file slots
};

}  // namespace

extern const ModelInfo model_uring_fixed{
    "uring-fixed",
    Quadrant::kAsyncNonblocking,
    Mechanism::kIoUring,
    /*coroutine=*/false,
    "io_uring proactor with registered files and buffers (READ_FIXED / WRITE_FIXED)",
    [] { return std::unique_ptr<Model>(new UringFixed); },
    detail::uring_unavailable};

}  // namespace iomodels
