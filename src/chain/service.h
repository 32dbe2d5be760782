// Description: services A, B and C of `iomodels chain`, each run as a
// process of its own (the hidden subcommand `iomodels chain-service`).
// A offers an open-loop stream of requests; in sync mode it calls B, which
// calls C, over loopback TCP; in queue mode A publishes to a JetStream
// stream, B consumes and publishes to the next, C consumes and acknowledges.
#pragma once

#include "chain/shared.h"

namespace iomodels::chain {

// Runs one service until it is done (A) or killed (B, C); the exit code.
int run_service(const ServiceOptions& o);

// Subjects, streams and durable consumers of a run's queues.
inline std::string subject_ab(const std::string& prefix) { return prefix + ".ab"; }
inline std::string subject_bc(const std::string& prefix) { return prefix + ".bc"; }
inline std::string stream_ab(const std::string& prefix) { return prefix + "_AB"; }
inline std::string stream_bc(const std::string& prefix) { return prefix + "_BC"; }
inline constexpr const char* kConsumerB = "B";
inline constexpr const char* kConsumerC = "C";

}  // namespace iomodels::chain
