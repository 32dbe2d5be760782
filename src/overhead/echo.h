// Description: the peer's floor. The least a peer process can do per
// request on a transport: receive the 16-byte request and send its response
// back, with one io_uring in a forked process, nothing checked, timed or
// counted, and the same response bytes every time. Driven by a minimal
// client loop, its CPU per request beside the real peer's (driven by the
// same loop) says what the instrument costs above the kernel's own work.
#pragma once

#include "overhead/minimal.h"

namespace iomodels::overhead {

struct EchoResult {
  MinimalResult client;        // the minimal client loop against the echo
  double echo_us_per_req = 0;  // the echo process's CPU per request (its CPU clock)
};

// As measure_minimal, with the minimal echo in place of the peer: its own
// connections of o.workload's transport (pipe, socketpair or tcp on
// loopback), the echo forked on o.workload.peer_cpus, a warm-up round, then
// o.rounds rounds. Not applicable, with the reason, for the file transport,
// the server role or a think time (the echo answers at once), or where
// io_uring is refused.
Status measure_echo(const MinimalOptions& o, EchoResult* out);

}  // namespace iomodels::overhead
