// Description: raw syscall wrappers. Each returns the result or -errno, retries
// EINTR itself, returns EAGAIN as a value, and counts itself in per-thread
// counters that are summed over every thread when a run ends.
#pragma once

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

struct io_uring;

namespace iomodels::sys {

// Counts of calls made through this layer.
struct Counters {
  uint64_t syscalls = 0;     // every syscall made, EAGAIN and EINTR retries included
  uint64_t eagain = 0;       // calls that returned EAGAIN/EWOULDBLOCK
  uint64_t uring_enter = 0;  // io_uring_enter calls (also counted in syscalls)
  // The regime of a waiting loop: how many events each wait brought.
  // waits: poll, select and epoll_wait calls, and io_uring_enter calls;
  // events: the descriptors those readiness waits reported ready, and the
  // io_uring completions reaped (Ring::reap). events / waits is the events
  // per wait: 1 when every wake-up serves one connection, more when
  // connections in step share a wake-up.
  uint64_t waits = 0;
  uint64_t events = 0;

  Counters& operator+=(const Counters& o) {
    syscalls += o.syscalls;
    eagain += o.eagain;
    uring_enter += o.uring_enter;
    waits += o.waits;
    events += o.events;
    return *this;
  }
  friend Counters operator-(Counters a, const Counters& b) {
    a.syscalls -= b.syscalls;
    a.eagain -= b.eagain;
    a.uring_enter -= b.uring_enter;
    a.waits -= b.waits;
    a.events -= b.events;
    return a;
  }
};

// The sum over every thread that ever made a counted call, live or exited.
// Take it before and after a run and subtract.
Counters counters_total();

namespace detail {
// One block per thread. Only its own thread writes it (relaxed load + store, no
// locked instruction on the hot path); counters_total() reads it from another.
// Constant-initialised and without a destructor, so that neither a new
// thread's first syscall nor its exit allocates (a C++ thread_local with a
// destructor makes glibc allocate, and abort when it cannot): the block is
// linked into the registry without allocating, and a pthread key's
// destructor folds it into the retired total when its thread exits.
struct ThreadCounters {
  std::atomic<uint64_t> syscalls{0};
  std::atomic<uint64_t> eagain{0};
  std::atomic<uint64_t> uring_enter{0};
  std::atomic<uint64_t> waits{0};
  std::atomic<uint64_t> events{0};
  ThreadCounters* prev = nullptr;
  ThreadCounters* next = nullptr;
  bool linked = false;
};
void link_counters(ThreadCounters* c);
inline ThreadCounters& local_counters() {
  thread_local ThreadCounters counters;
  if (!counters.linked) [[unlikely]]
    link_counters(&counters);
  return counters;
}

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
}  // namespace detail

// Sees every wrapped call when set: (name, start ns, end ns, result or
// -errno), on the calling thread. The timeline (Trace) installs one; unset,
// a wrapper pays one relaxed load.
using SyscallObserver = void (*)(const char* name, uint64_t start_ns, uint64_t end_ns, long result);
void set_syscall_observer(SyscallObserver obs);

// Whether the wrappers count their calls (process-wide; on by default). Off,
// a wrapper is the bare call: counters_total() then stands still, and what a
// run counts is absent from its figures. Session::measure sets it for its
// window from RunOptions::counters, to measure what counting costs.
void set_counting(bool on);
bool counting();

// Records one syscall that returned `ret` (-errno, or >= 0), unless counting is off.
// For code that must call the kernel directly.
void count_call(long ret_or_neg_errno);
// Records `n` io_uring completions reaped (Counters::events), unless counting is off.
void count_completions(uint64_t n);

// --- I/O ---
long read(int fd, void* buf, size_t n);
long write(int fd, const void* buf, size_t n);
long readv(int fd, const iovec* iov, int cnt);
long writev(int fd, const iovec* iov, int cnt);
long recv(int fd, void* buf, size_t n, int flags);
long send(int fd, const void* buf, size_t n, int flags);
long pread(int fd, void* buf, size_t n, off_t off);
long preadv2(int fd, const iovec* iov, int cnt, off_t off, int flags);

// --- readiness ---
long poll(pollfd* fds, nfds_t n, int timeout_ms);
long select(int nfds, fd_set* r, fd_set* w, fd_set* e, timeval* tv);
long epoll_create1(int flags);
long epoll_ctl(int epfd, int op, int fd, epoll_event* ev);
long epoll_wait(int epfd, epoll_event* evs, int max, int timeout_ms);
// Nanosecond timeout (Linux 5.11+); nullptr waits forever.
long epoll_pwait2(int epfd, epoll_event* evs, int max, const timespec* timeout);

// --- descriptors ---
long fcntl_setfl(int fd, int add_flags, int remove_flags);
long pipe2(int fds[2], int flags);
long socketpair(int domain, int type, int proto, int fds[2]);
long socket(int domain, int type, int proto);
long bind(int fd, const sockaddr* a, socklen_t len);
long listen(int fd, int backlog);
long accept4(int fd, sockaddr* a, socklen_t* len, int flags);
long connect(int fd, const sockaddr* a, socklen_t len);
long setsockopt(int fd, int level, int opt, const void* v, socklen_t len);
long close(int fd);

// --- time and waiting ---
// Sleeps until the absolute CLOCK_MONOTONIC time; EINTR resumes the same deadline.
long sleep_until(const timespec& deadline);
long futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, const timespec* rel_timeout);
long futex_wake(std::atomic<uint32_t>* addr, int count);

// --- io_uring ---
// io_uring_enter with an optional timeout for min_complete (IORING_ENTER_EXT_ARG).
// `min_wait_us` (Linux 6.12+, IORING_FEAT_MIN_TIMEOUT; needs a timeout): once
// that long has passed, return as soon as any CQE is there, even if fewer than
// min_complete.
long uring_enter(io_uring* ring, unsigned to_submit, unsigned min_complete, unsigned flags,
                 const timespec* timeout, uint32_t min_wait_us = 0);

}  // namespace iomodels::sys
