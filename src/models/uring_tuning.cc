// Description: ring sizing for the io_uring models, and their `unavailable` hook.
#include "models/uring_tuning.h"

#include <algorithm>
#include <bit>

namespace iomodels::detail {
namespace {

// Beyond 4,096 SQEs a sweep submits in several enters.
constexpr unsigned kMaxSqEntries = 4096;
// The kernel's CQ limit (2 × IORING_MAX_ENTRIES).
constexpr unsigned kMaxCqEntries = 65536;

unsigned pow2_at_least(uint64_t n, unsigned lo, unsigned hi) {
  return static_cast<unsigned>(std::clamp<uint64_t>(std::bit_ceil(n), lo, hi));
}

}  // namespace

sys::RingOptions ring_options_for(size_t connections, sys::RingOptions base) {
  base.sq_entries = pow2_at_least(2 * connections, 8, kMaxSqEntries);
  base.cq_entries =
      pow2_at_least(std::max<uint64_t>(2 * connections, 2 * base.sq_entries), 16, kMaxCqEntries);
  return base;
}

std::string uring_unavailable() {
  const sys::UringProbe& u = sys::uring_probe();
  return u.available ? std::string() : u.reason;
}

}  // namespace iomodels::detail
