// Description: `uring-multishot` (async · non-blocking): the `uring` proactor
// with one multishot receive per connection, armed once and left armed. Each
// arriving chunk posts a CQE flagged IORING_CQE_F_MORE (still armed), its
// bytes in a buffer the kernel picked from a ring of provided buffers shared
// by all connections (io_uring_register_buf_ring); the callback verifies the
// bytes and hands the buffer back. So a request costs one SQE (its send), not
// two, and idle connections hold no buffer. Sockets use RECV with
// IORING_RECV_MULTISHOT; pipes use IORING_OP_READ_MULTISHOT (Linux 6.7+). A
// CQE without F_MORE (the kernel ended it, e.g. buffers ran out) re-arms.
#include <algorithm>
#include <bit>
#include <memory>
#include <vector>

#include "models/uring_proactor.h"

namespace iomodels {
namespace {

class UringMultishot final : public detail::UringProactor {
 public:
  UringMultishot() : UringProactor(sys::RingOptions{}) {}
  // The ring (and its armed receives) must go before the buffers it writes into.
  ~UringMultishot() override { ring().close(); }

 protected:
  bool own_recv_buffers() const override { return false; }

  Status prepare() override {
    if (std::string why = detail::multishot_why_not(ctx().workload->options()); !why.empty())
      return Status::not_applicable(why);
    return detail::init_provided_buffers(ring(), ctx().conns().size(), chunk_bytes(), &buffers_);
  }

  // Armed once; the kernel picks a buffer per chunk, so p and n are unused.
  void prep_recv(io_uring_sqe* sqe, uint32_t i, uint8_t* p, unsigned n, uint64_t off) override {
    (void)off;  // never a file (not applicable there)
    (void)p;
    (void)n;
    const int fd = ctx().conns()[i].rfd;
    if (is_socket()) {
      io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    } else {
      // READ_MULTISHOT: len 0 (the buffer's own length), offset 0 (a pipe has none).
      io_uring_prep_rw(sys::kOpReadMultishot, sqe, fd, nullptr, 0, 0);
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = detail::kUringBufferGroup;
  }

  const uint8_t* received(uint32_t i, const io_uring_cqe& cqe, unsigned k) override {
    (void)i;
    (void)k;  // one buffer per CQE: no bundles
    return buffers_.buffer(sys::BufferRing::id_of(cqe));
  }

  // Verified: the buffer goes back to the ring for any connection to use.
  void recycle(const io_uring_cqe& cqe) override { buffers_.recycle(cqe); }

 private:
  sys::BufferRing buffers_;
};

}  // namespace

extern const ModelInfo model_uring_multishot{
    "uring-multishot",
    Quadrant::kAsyncNonblocking,
    Mechanism::kIoUring,
    /*coroutine=*/false,
    "io_uring proactor with one multishot receive per connection into a ring of provided buffers",
    [] { return std::unique_ptr<Model>(new UringMultishot); },
    detail::uring_unavailable,
    detail::multishot_why_not};

}  // namespace iomodels
