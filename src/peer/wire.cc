// Description: the peer's statistics from the binary layout its control
// connection carries (wire.h).
#include "peer/wire.h"

#include <algorithm>

namespace iomodels {

PeerStats detail::stats_from_wire(const PeerStatsWire& w) {
  PeerStats st;
  st.requests = w.requests;
  st.wall_ns = w.wall_ns;
  st.cpu_ns = w.cpu_ns;
  st.late_p50_ns = w.late_p50_ns;
  st.late_p99_ns = w.late_p99_ns;
  st.late_max_ns = w.late_max_ns;
  st.spin_ns = w.spin_ns;
  st.protocol_errors = w.protocol_errors;
  st.refused = w.refused;
  st.bad_token = w.bad_token;
  st.idle_closed = w.idle_closed;
  st.throttled = w.throttled;
  st.held_over = w.held_over;
  st.threads = static_cast<uint32_t>(std::clamp<uint64_t>(w.threads, 1, kMaxPeerThreads));
  st.busiest_cpu_ns = w.busiest_cpu_ns;
  st.poll_horizon_ns = w.poll_horizon_ns;
  st.loop = w.loop <= static_cast<uint64_t>(PeerLoop::kUring) ? static_cast<PeerLoop>(w.loop)
                                                              : PeerLoop::kEpollWrite;
  return st;
}

}  // namespace iomodels
