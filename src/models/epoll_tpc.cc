// Description: `epoll-tpc` (async · non-blocking, thread-per-core). The
// `epoll` reactor (src/models/epoll.cc), level-triggered, once per thread:
// --threads N loops (default one per model CPU), each with its own epoll
// instance watching its own shard of the connections (connection i on loop
// i % N; in the server role on tcp, whatever its own SO_REUSEPORT listener
// accepts), pinned one CPU each when the run is placed. Nothing is shared
// between loops but the peer: no lock, no fd watched twice, a readiness event
// always handled on the core that asked. What it should save over one loop is
// the wait for the single thread when one core is busy; what it costs is a
// thread, an epoll instance and a wake-up per loop per run, and fewer events
// per wait, since each loop sees only its share of the responses.
#include "models/common.h"
#include "models/epoll.h"
#include "models/tpc.h"

namespace iomodels {

extern const ModelInfo model_epoll_tpc{
    "epoll-tpc",
    Quadrant::kAsyncNonblocking,
    Mechanism::kEpoll,
    /*coroutine=*/false,
    "thread-per-core: --threads pinned threads, each with its own level-triggered epoll "
    "reactor over its shard of the connections",
    [] {
      return detail::make_thread_per_core([] { return detail::make_epoll_reactor(false); },
                                          "epoll");
    },
    nullptr,
    detail::epoll_not_applicable,
    /*thread_per_core=*/true};

}  // namespace iomodels
