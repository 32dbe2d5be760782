// Description: `uring-sqpoll` (async · non-blocking): the `uring` proactor
// with IORING_SETUP_SQPOLL. A kernel thread polls the submission queue, so
// submitting is a store to shared memory, not a syscall; the program enters
// the kernel only to wake that thread after it has idled to sleep
// (IORING_SQ_NEED_WAKEUP) or to wait when no completion is there yet. The
// price is that thread's CPU: it spins on a core while there is work and for
// kSqThreadIdleMs after. It belongs to this process (an io thread in its
// thread group since Linux 5.12), so getrusage(RUSAGE_SELF) counts it in the
// model's CPU: no syscalls saved for free.
#include <memory>

#include "models/uring_proactor.h"

namespace iomodels {

extern const ModelInfo model_uring_sqpoll{
    "uring-sqpoll",
    Quadrant::kAsyncNonblocking,
    Mechanism::kIoUring,
    /*coroutine=*/false,
    "io_uring proactor with SQPOLL: a kernel thread (CPU charged to the process) takes the SQEs",
    [] {
      return std::unique_ptr<Model>(new detail::UringProactor(
          sys::RingOptions{.sqpoll = true, .sq_thread_idle_ms = detail::kUringSqThreadIdleMs}));
    },
    detail::uring_unavailable};

}  // namespace iomodels
