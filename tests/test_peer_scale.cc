// Description: the peer at scale: each of its loops on every transport from one
// connection to the most a run may have, every byte verified. (Whole
// scenarios at 1,000 connections, every model on every transport, are the
// model matrix's.)
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "peer_util.h"
#include "util.h"
#include "workload/workload.h"

using namespace iomodels;

// Each of the peer's loops, on one transport, from one connection to the
// most a run may have (kMaxConnections): every byte of two rounds verified by a client that
// knows only the wire protocol, and the peer says which loop served.
void serve_at_scales(Transport t, PeerLoopChoice loop, std::initializer_list<uint32_t> scales) {
  std::string why;
  if (loop == PeerLoopChoice::kUring && !uring_peer_available(&why))
    test::skip("the io_uring peer: " + why);
  // With io_uring here the epoll loop still sends due responses in batches.
  const PeerLoop expected = loop == PeerLoopChoice::kUring ? PeerLoop::kUring
                            : uring_peer_available(&why)   ? PeerLoop::kEpollBatch
                                                           : PeerLoop::kEpollWrite;
  const uint64_t need = fds_needed(t, std::max(scales)) + 256;
  if (raise_fd_limit() < need)
    test::skip("RLIMIT_NOFILE's hard limit is below the " + std::to_string(need) + " descriptors " +
               std::to_string(std::max(scales)) + " " + std::string(transport_name(t)) +
               " connections need in this process");
  for (uint32_t conns : scales) {
    DYNAMIC_SECTION(conns << " connections") {
      auto w = test::make_workload(t, conns, 512, "0", loop);
      test::WireClient cl(*w);
      std::string err;
      for (int r = 0; r < 2; ++r) {
        INFO("round " << r << ": " << err);
        REQUIRE(cl.round(*w, 512, nullptr, &err));
      }
      PeerStats ps;
      REQUIRE(w->peer_stats(&ps, false).ok());
      CHECK(ps.loop == expected);
      CHECK(ps.requests == 2 * uint64_t{conns});
      CHECK(ps.protocol_errors == 0);
    }
  }
}

[[maybe_unused]] const bool kUringScale = test::register_per_transport(
    "the io_uring peer serves 1, 64 and 1000 connections: ", "[peer][heavy]", [](Transport t) {
      serve_at_scales(t, PeerLoopChoice::kUring, {1, 64, 1000});
    });
[[maybe_unused]] const bool kUringMax = test::register_per_transport(
    "the io_uring peer serves 10000 connections: ", "[peer][heavy]",
    [](Transport t) { serve_at_scales(t, PeerLoopChoice::kUring, {kMaxConnections}); });
[[maybe_unused]] const bool kEpollScale = test::register_per_transport(
    "the epoll peer serves 1, 64 and 1000 connections: ", "[peer][heavy]", [](Transport t) {
      serve_at_scales(t, PeerLoopChoice::kEpoll, {1, 64, 1000});
    });
[[maybe_unused]] const bool kEpollMax = test::register_per_transport(
    "the epoll peer serves 10000 connections: ", "[peer][heavy]",
    [](Transport t) { serve_at_scales(t, PeerLoopChoice::kEpoll, {kMaxConnections}); });
