// Description: `uring` (async · non-blocking, a proactor on io_uring).
// Where epoll says "this fd is readable, now you read it", io_uring takes the
// read itself: the thread queues each connection's send (IORING_OP_SEND, or
// WRITE on a pipe) and receive (RECV, or READ) as SQEs in a ring shared with
// the kernel, tagged with an integer token (connection index and op), and
// later reaps a CQE per finished op carrying the token and the result. The
// loop makes exactly one io_uring_enter per sweep: it submits everything
// queued since the last one and waits for completions in the same call, so
// with many connections one syscall carries many requests. Each completion
// runs a callback: verify the bytes; when the response is whole, queue the
// next request, otherwise queue a receive for the rest.
#include <memory>

#include "models/uring_proactor.h"

namespace iomodels {

extern const ModelInfo model_uring{
    "uring",
    Quadrant::kAsyncNonblocking,
    Mechanism::kIoUring,
    /*coroutine=*/false,
    "io_uring proactor: sends and receives submitted as SQEs, one io_uring_enter per sweep "
    "submits and waits",
    [] { return std::unique_ptr<Model>(new detail::UringProactor(sys::RingOptions{})); },
    detail::uring_unavailable};

}  // namespace iomodels
