// Description: ring sizing for the io_uring models, and their `unavailable` hook.
#include "models/uring_tuning.h"

#include <algorithm>
#include <bit>
#include <cerrno>

#include "models/common.h"

namespace iomodels::detail {
namespace {

// Beyond 4,096 SQEs a sweep submits in several enters.
constexpr unsigned kMaxSqEntries = 4096;
// The kernel's CQ limit (2 × IORING_MAX_ENTRIES).
constexpr unsigned kMaxCqEntries = 65536;

unsigned pow2_at_least(uint64_t n, unsigned lo, unsigned hi) {
  return static_cast<unsigned>(std::clamp<uint64_t>(std::bit_ceil(n), lo, hi));
}

constexpr uint64_t kMaxPoolBytes = 64ull << 20;
constexpr unsigned kMinBuffers = 16;
constexpr unsigned kMaxBuffers = 32768;

}  // namespace

Status init_provided_buffers(sys::Ring& ring, size_t connections, uint32_t buf_bytes,
                             sys::BufferRing* buffers) {
  auto count = static_cast<unsigned>(
      std::clamp<uint64_t>(std::bit_ceil(uint64_t{2} * connections), kMinBuffers, kMaxBuffers));
  while (count > kMinBuffers && uint64_t{count} * buf_bytes > kMaxPoolBytes) count /= 2;
  return buffers->init(ring, count, buf_bytes, kUringBufferGroup);
}

Status register_conn_files(sys::Ring& ring, std::span<const ClientConn> conns,
                           std::vector<int>* rslot, std::vector<int>* wslot) {
  std::vector<int> fds;
  for (const ClientConn& c : conns) {
    rslot->push_back(static_cast<int>(fds.size()));
    fds.push_back(c.rfd);
    if (c.wfd != c.rfd) fds.push_back(c.wfd);
    wslot->push_back(static_cast<int>(fds.size()) - 1);
  }
  if (int r = io_uring_register_files(ring.get(), fds.data(), static_cast<unsigned>(fds.size()));
      r < 0)
    return Status::from_errno(r, "io_uring_register_files");
  return {};
}

sys::RingOptions ring_options_for(size_t connections, sys::RingOptions base) {
  base.sq_entries = pow2_at_least(2 * connections, 8, kMaxSqEntries);
  base.cq_entries =
      pow2_at_least(std::max<uint64_t>(2 * connections, 2 * base.sq_entries), 16, kMaxCqEntries);
  return base;
}

std::string multishot_why_not(const WorkloadOptions& w) {
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

std::string file_reads_text(int fd) {
  const long r = try_nowait_read(fd);
  if (r >= 0 || r == -EAGAIN)
    return "inline: the file takes non-blocking reads (RWF_NOWAIT), so a read of cached data "
           "completes inside io_uring_enter";
  if (r == -EOPNOTSUPP)
    return "io-wq: the file's filesystem takes no non-blocking reads (preadv2 RWF_NOWAIT: "
           "EOPNOTSUPP, as tmpfs), so the kernel hands every read to an io-wq worker thread "
           "and wakes the loop when it is done";
  return "unknown: preadv2 RWF_NOWAIT failed: " + errno_text(r);
}

std::vector<Model::Fact> uring_facts(const sys::Ring& ring, const std::string& file_reads) {
  std::vector<Model::Fact> f{{"uring_setup", ring.describe()}};
  if (!file_reads.empty()) f.push_back({"file_reads", file_reads});
  return f;
}

std::string uring_unavailable() {
  const sys::UringProbe& u = sys::uring_probe();
  return u.available ? std::string() : u.reason;
}

}  // namespace iomodels::detail
