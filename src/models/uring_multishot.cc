// Description: `uring-multishot` (async · non-blocking): the `uring` proactor
// with one multishot receive per connection, armed once and left armed. Each
// arriving chunk posts a CQE flagged IORING_CQE_F_MORE (still armed), its
// bytes in a buffer the kernel picked from a ring of provided buffers shared
// by all connections (io_uring_register_buf_ring); the callback verifies the
// bytes and hands the buffer back. So a request costs one SQE (its send), not
// two, and idle connections hold no buffer. Sockets use RECV with
// IORING_RECV_MULTISHOT; pipes use IORING_OP_READ_MULTISHOT (Linux 6.7+). A
// CQE without F_MORE (the kernel ended it, e.g. buffers ran out) re-arms.
#include <sys/mman.h>

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
  ~UringMultishot() override {
    ring().close();
    if (br_ != nullptr) ::munmap(br_, br_bytes_);
  }

 protected:
  bool own_recv_buffers() const override { return false; }

  Status prepare() override {
    if (std::string why = multishot_not_applicable(ctx().workload->options()); !why.empty())
      return Status::not_applicable(why);
    buf_bytes_ = chunk_bytes();
    count_ = static_cast<unsigned>(
        std::clamp<uint64_t>(std::bit_ceil(2 * ctx().conns().size()), kMinBuffers, kMaxBuffers));
    while (count_ > kMinBuffers && uint64_t{count_} * buf_bytes_ > kMaxPoolBytes) count_ /= 2;
    pool_.assign(size_t{count_} * buf_bytes_, 0);
    // liburing 2.3 has no io_uring_setup_buf_ring: map the ring (page-aligned,
    // shared with the kernel) and register it ourselves.
    br_bytes_ = size_t{count_} * sizeof(io_uring_buf);
    void* m =
        ::mmap(nullptr, br_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return Status::from_errno(-errno, "mmap (buffer ring)");
    br_ = static_cast<io_uring_buf_ring*>(m);
    io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(br_);
    reg.ring_entries = count_;
    reg.bgid = kGroup;
    if (int r = io_uring_register_buf_ring(ring().get(), &reg, 0); r < 0) {
      if (r == -EINVAL)
        return Status::not_applicable("io_uring_register_buf_ring: " + errno_text(r) +
                                      " (provided buffer rings need Linux 5.19+)");
      return Status::from_errno(r, "io_uring_register_buf_ring");
    }
    const int mask = io_uring_buf_ring_mask(count_);
    for (unsigned b = 0; b < count_; ++b)
      io_uring_buf_ring_add(br_, buffer(b), buf_bytes_, static_cast<uint16_t>(b), mask,
                            static_cast<int>(b));
    io_uring_buf_ring_advance(br_, static_cast<int>(count_));
    return {};
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
    return buffer(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  }

  // Verified: the buffer goes back to the ring for any connection to use.
  void recycle(const io_uring_cqe& cqe) override {
    if ((cqe.flags & IORING_CQE_F_BUFFER) == 0) return;
    const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    io_uring_buf_ring_add(br_, buffer(bid), buf_bytes_, bid, io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(br_, 1);
  }

 private:
  uint8_t* buffer(unsigned bid) { return pool_.data() + size_t{bid} * buf_bytes_; }

  std::vector<uint8_t> pool_;  // count_ buffers of buf_bytes_
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  unsigned count_ = 0;
  uint32_t buf_bytes_ = 0;
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
