// Description: `epoll-et` (async · non-blocking, a reactor), the edge-triggered
// twin of `epoll` (the reactor is in src/models/epoll.cc). With EPOLLET the
// kernel reports a connection once per change, when new bytes arrive, not
// for as long as bytes are waiting. So the callback must read until read()
// says EAGAIN: whatever it leaves behind is never reported again, and the
// connection would stall until the timeout. The gain is fewer wake-ups and
// no re-reporting of fds that are still being read.
#include "models/common.h"
#include "models/epoll.h"

namespace iomodels {

extern const ModelInfo model_epoll_et{
    "epoll-et",
    Quadrant::kAsyncNonblocking,
    Mechanism::kEpoll,
    /*coroutine=*/false,
    "one thread, non-blocking fds, edge-triggered epoll; each callback reads until EAGAIN",
    [] { return detail::make_epoll_reactor(true); },
    nullptr,
    detail::epoll_not_applicable};

}  // namespace iomodels
