// Description: the thread-per-core driver behind `epoll-tpc` and `uring-tpc`
// (src/models/tpc.cc): N event-loop threads, each owning a shard of the
// connections (dealt by index, or, in the server role on tcp, accepted from
// the loop's own SO_REUSEPORT listener) and running one single-threaded loop
// over it, pinned one CPU each when the run is placed. The loop is any single-loop model: the epoll
// reactor, the io_uring proactor.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "models/model.h"

namespace iomodels::detail {

// Makes one shard's loop. It is set up and run on its own thread only.
using MakeLoop = std::unique_ptr<Model> (*)();

// The driver; `loop_name` names the loop threads on a timeline ("epoll", "uring").
std::unique_ptr<Model> make_thread_per_core(MakeLoop make_loop, std::string_view loop_name);

// How many loops a run gets: RunOptions::threads, or (0) one per CPU of the
// model's placement, or per online CPU; never more than the connections.
uint32_t tpc_thread_count(const RunOptions& options, const std::vector<int>& cpus,
                          size_t connections);

}  // namespace iomodels::detail
