// Description: the Workload's side of a peer's control connection, private to
// src/workload: the statistics request, the hello a remote peer asks for,
// and the statistics of several remote peers as one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "peer/peer.h"
#include "peer/wire.h"
#include "sys/status.h"

namespace iomodels::detail {

// Raw, uncounted, bounded exchange on the control connection: harness
// traffic, never charged to a model.
Status control_exchange(int fd, uint64_t cmd, PeerStatsWire* w);

// The hello a remote peer may require (peer/hello.h): the token, then its
// answer verified, so a refused connection is an error here, named, and not
// an end of file in the middle of a model's run.
Status say_hello(int fd, const std::string& token, const std::string& where);

// Several remote peers' statistics (`each`, from the peers at `where`) as
// one: counts, CPU and threads summed, the longest window, the worst
// lateness (the wire carries each peer's percentiles, not its histogram, so
// the merged p50 and p99 are the largest of the peers'), the busiest thread
// of any; `parts` lists what each reported.
PeerStats merge_remote_stats(const std::vector<PeerStats>& each,
                             const std::vector<std::string>& where);

}  // namespace iomodels::detail
