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

constexpr uint16_t kGroup = 0;  // the one buffer group
// Buffers: two per connection, so each connection's chunks of one sweep fit,
// within the kernel's 32768 ring entries and, for big chunks, 64 MiB of memory.
constexpr uint64_t kMaxPoolBytes = 64ull << 20;
constexpr unsigned kMinBuffers = 16;
constexpr unsigned kMaxBuffers = 32768;

std::string multishot_not_applicable(const WorkloadOptions& w) {
  if (w.transport == Transport::kFile)
    return "a multishot receive re-arms itself when the fd becomes readable again; a regular "
           "file is always readable and has no stream to follow (the kernel takes "
           "IORING_OP_READ_MULTISHOT only on pollable files)";
  const sys::UringProbe& u = sys::uring_probe();
  if (w.transport == Transport::kPipe && !u.read_multishot)
    return "a multishot read on a pipe needs IORING_OP_READ_MULTISHOT (Linux 6.7+), which this "
           "kernel lacks";
  if (w.transport != Transport::kPipe && !u.recv_multishot)
    return "this kernel lacks multishot receive with provided buffers";
  return {};
}

class UringMultishot final : public detail::UringProactor {
 public:
  UringMultishot() : UringProactor(sys::RingOptions{}) {}
  // The ring (and its armed receives) must go before the buffers it writes into.
  ~UringMultishot() override { ring().close(); }

 protected:
  bool own_recv_buffers() const override { return false; }

  Status prepare() override {
    if (std::string why = multishot_not_applicable(ctx().workload->options()); !why.empty())
      return Status::not_applicable(why);
    const uint32_t buf_bytes = chunk_bytes();
    auto count = static_cast<unsigned>(
        std::clamp<uint64_t>(std::bit_ceil(2 * ctx().conns().size()), kMinBuffers, kMaxBuffers));
    while (count > kMinBuffers && uint64_t{count} * buf_bytes > kMaxPoolBytes) count /= 2;
    return buffers_.init(ring(), count, buf_bytes, kGroup);
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
    sqe->buf_group = kGroup;
  }

  const uint8_t* received(uint32_t i, const io_uring_cqe& cqe) override {
    (void)i;
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
    multishot_not_applicable};

}  // namespace iomodels
