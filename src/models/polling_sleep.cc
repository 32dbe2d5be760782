// Description: `polling-sleep` (sync · non-blocking). The `polling` sweep
// (src/models/polling.cc): one thread, O_NONBLOCK fds, read() on every
// connection, EAGAIN = "not yet". But after every sweep it sleeps for
// --poll-interval (clock_nanosleep to an absolute deadline) before asking
// again. The core is mostly given back, at the price of latency: a
// reply that arrives just after a sweep waits for the interval plus the
// timer's own lateness before anyone looks.
#include "models/polling.h"

namespace iomodels {

extern const ModelInfo model_polling_sleep{
    "polling-sleep",
    Quadrant::kSyncNonblocking,
    Mechanism::kNonblockingRead,
    /*coroutine=*/false,
    "the polling sweep, but sleeping --poll-interval between sweeps",
    [] { return detail::make_polling(true); }};

}  // namespace iomodels
