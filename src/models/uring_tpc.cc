// Description: `uring-tpc` (async · non-blocking, thread-per-core). The
// `uring` proactor (src/models/uring_proactor.cc) once per thread: --threads N
// loops (default one per model CPU), each with its own io_uring over its own
// shard of the connections (connection i on loop i % N; in the server role
// on tcp, whatever its own SO_REUSEPORT listener accepts), pinned one CPU each
// when the run is placed. Each ring is created by the thread that submits to
// and waits on it, so it can be IORING_SETUP_SINGLE_ISSUER |
// IORING_SETUP_DEFER_TASKRUN: completions are run only when that thread
// enters the kernel to wait, never by interrupting another core. Where the
// kernel refuses those flags, Ring::init falls back (COOP_TASKRUN, then none)
// and the result's uring_setup says which were used. The shape of monoio and
// glommio: what it should save is the one ring's thread as the bottleneck;
// what it costs is a thread, a ring and a wake-up per loop per run, and
// smaller batches per io_uring_enter.
#include <memory>

#include "models/tpc.h"
#include "models/uring_proactor.h"

namespace iomodels {

extern const ModelInfo model_uring_tpc{
    "uring-tpc",
    Quadrant::kAsyncNonblocking,
    Mechanism::kIoUring,
    /*coroutine=*/false,
    "thread-per-core: --threads pinned threads, each with its own io_uring proactor "
    "(SINGLE_ISSUER | DEFER_TASKRUN) over its shard of the connections",
    [] {
      return detail::make_thread_per_core(
          [] { return std::unique_ptr<Model>(new detail::UringProactor(sys::RingOptions{})); },
          "uring");
    },
    detail::uring_unavailable,
    nullptr,
    /*thread_per_core=*/true};

}  // namespace iomodels
