// Description: the raw syscall wrappers and their per-thread counters.
#include "sys/sys.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <vector>

#include "sys/time.h"

namespace iomodels::sys {
namespace detail {
namespace {

// Every live thread's block (an intrusive list: linking allocates nothing),
// plus what exited threads left behind.
struct CounterRegistry {
  std::mutex mu;
  ThreadCounters* live = nullptr;
  Counters retired;
  pthread_key_t key{};
};

void retire_counters(void* p);

CounterRegistry& registry() {
  // Leaked on purpose: threads may exit during static destruction.
  static auto* r = [] {
    auto* reg = new CounterRegistry;
    ::pthread_key_create(&reg->key, retire_counters);
    return reg;
  }();
  return *r;
}

Counters snapshot(const ThreadCounters& t) {
  return {t.syscalls.load(std::memory_order_relaxed), t.eagain.load(std::memory_order_relaxed),
          t.uring_enter.load(std::memory_order_relaxed), t.waits.load(std::memory_order_relaxed),
          t.events.load(std::memory_order_relaxed)};
}

// The key's destructor, when the thread exits: its counts join the retired
// total and its block leaves the list (the block itself is the thread's TLS).
void retire_counters(void* p) {
  auto* c = static_cast<ThreadCounters*>(p);
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.retired += snapshot(*c);
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (r.live == c) r.live = c->next;
  c->prev = c->next = nullptr;
  c->syscalls.store(0, std::memory_order_relaxed);
  c->eagain.store(0, std::memory_order_relaxed);
  c->uring_enter.store(0, std::memory_order_relaxed);
  c->waits.store(0, std::memory_order_relaxed);
  c->events.store(0, std::memory_order_relaxed);
  // A syscall wrapped after this (by another key's destructor) links it again.
  c->linked = false;
}

}  // namespace

void link_counters(ThreadCounters* c) {
  auto& r = registry();
  {
    std::lock_guard lock(r.mu);
    c->prev = nullptr;
    c->next = r.live;
    if (r.live != nullptr) r.live->prev = c;
    r.live = c;
    c->linked = true;
  }
  // The first keys are slots in the thread's own descriptor: no allocation.
  ::pthread_setspecific(r.key, c);
}

}  // namespace detail

Counters counters_total() {
  auto& r = detail::registry();
  std::lock_guard lock(r.mu);
  Counters sum = r.retired;
  for (const auto* t = r.live; t != nullptr; t = t->next) sum += detail::snapshot(*t);
  return sum;
}

namespace {

// What a wrapper does besides the call, in one word: kCount counts it,
// kObserve shows it to the observer.
constexpr unsigned kCount = 1;
constexpr unsigned kObserve = 2;
std::atomic<unsigned> g_mode{kCount};
std::atomic<SyscallObserver> g_observer{nullptr};

}  // namespace

void set_syscall_observer(SyscallObserver obs) {
  g_observer.store(obs);
  if (obs != nullptr)
    g_mode.fetch_or(kObserve);
  else
    g_mode.fetch_and(~kObserve);
}

void set_counting(bool on) {
  if (on)
    g_mode.fetch_or(kCount);
  else
    g_mode.fetch_and(~kCount);
}

bool counting() { return (g_mode.load(std::memory_order_relaxed) & kCount) != 0; }

namespace {

// Counts one result (-errno or >= 0) in this thread's counters.
inline void count(long neg_errno_or_result) {
  auto& c = detail::local_counters();
  detail::bump(c.syscalls);
  if (neg_errno_or_result == -EAGAIN || neg_errno_or_result == -EWOULDBLOCK) detail::bump(c.eagain);
}

// Turns (-1, errno) into -errno.
inline long result(long ret) { return ret < 0 ? -errno : ret; }

// One call: counted (unless counting is off when it returns: a call that
// slept across the switch is judged by the window it ends in, as the
// Recorder sees it), and shown to the observer (the timeline) when there is one.
template <typename F>
inline long call(const char* name, F&& f) {
  if ((g_mode.load(std::memory_order_relaxed) & kObserve) == 0) {
    const long r = result(f());
    if ((g_mode.load(std::memory_order_relaxed) & kCount) != 0) count(r);
    return r;
  }
  const SyscallObserver obs = g_observer.load(std::memory_order_relaxed);
  const uint64_t start = obs ? monotonic_ns() : 0;
  const long r = result(f());
  if ((g_mode.load(std::memory_order_relaxed) & kCount) != 0) count(r);
  if (obs) obs(name, start, monotonic_ns(), r);
  return r;
}

// Retries EINTR: each attempt is a real syscall and is counted.
template <typename F>
inline long retry(const char* name, F&& f) {
  long r;
  do {
    r = call(name, f);
  } while (r == -EINTR);
  return r;
}

}  // namespace

void count_call(long ret) {
  if ((g_mode.load(std::memory_order_relaxed) & kCount) != 0) count(ret);
}

void count_completions(uint64_t n) {
  if ((g_mode.load(std::memory_order_relaxed) & kCount) != 0)
    detail::bump(detail::local_counters().events, n);
}

namespace {

// A readiness wait returned `r`: one wait, and r descriptors ready.
long count_wait(long r) {
  if ((g_mode.load(std::memory_order_relaxed) & kCount) != 0) {
    detail::ThreadCounters& c = detail::local_counters();
    detail::bump(c.waits);
    if (r > 0) detail::bump(c.events, static_cast<uint64_t>(r));
  }
  return r;
}

}  // namespace

long read(int fd, void* buf, size_t n) {
  return retry("read", [&] { return ::read(fd, buf, n); });
}
long write(int fd, const void* buf, size_t n) {
  return retry("write", [&] { return ::write(fd, buf, n); });
}
long readv(int fd, const iovec* iov, int cnt) {
  return retry("readv", [&] { return ::readv(fd, iov, cnt); });
}
long writev(int fd, const iovec* iov, int cnt) {
  return retry("writev", [&] { return ::writev(fd, iov, cnt); });
}
long recv(int fd, void* buf, size_t n, int flags) {
  return retry("recv", [&] { return ::recv(fd, buf, n, flags); });
}
long send(int fd, const void* buf, size_t n, int flags) {
  // MSG_NOSIGNAL: a dead peer is an error to report (-EPIPE), not a SIGPIPE.
  return retry("send", [&] { return ::send(fd, buf, n, flags | MSG_NOSIGNAL); });
}
long pread(int fd, void* buf, size_t n, off_t off) {
  return retry("pread", [&] { return ::pread(fd, buf, n, off); });
}
long preadv2(int fd, const iovec* iov, int cnt, off_t off, int flags) {
  return retry("preadv2", [&] { return ::preadv2(fd, iov, cnt, off, flags); });
}

long poll(pollfd* fds, nfds_t n, int timeout_ms) {
  // A retried poll restarts its full timeout; callers bound waits in loops anyway.
  return count_wait(retry("poll", [&] { return ::poll(fds, n, timeout_ms); }));
}
long select(int nfds, fd_set* r, fd_set* w, fd_set* e, timeval* tv) {
  // Linux updates *tv with the time left, so a retry continues the same wait.
  // The sets are undefined after EINTR; callers rebuild them on every call.
  return count_wait(call("select", [&] { return ::select(nfds, r, w, e, tv); }));
}
long epoll_create1(int flags) {
  return call("epoll_create1", [&] { return ::epoll_create1(flags); });
}
long epoll_ctl(int epfd, int op, int fd, epoll_event* ev) {
  return call("epoll_ctl", [&] { return ::epoll_ctl(epfd, op, fd, ev); });
}
long epoll_wait(int epfd, epoll_event* evs, int max, int timeout_ms) {
  return count_wait(retry("epoll_wait", [&] { return ::epoll_wait(epfd, evs, max, timeout_ms); }));
}
long epoll_pwait2(int epfd, epoll_event* evs, int max, const timespec* timeout) {
  return count_wait(
      retry("epoll_pwait2", [&] { return ::epoll_pwait2(epfd, evs, max, timeout, nullptr); }));
}

long fcntl_setfl(int fd, int add_flags, int remove_flags) {
  const long fl = call("fcntl", [&] { return ::fcntl(fd, F_GETFL); });
  if (fl < 0) return fl;
  const long want = (fl | add_flags) & ~static_cast<long>(remove_flags);
  if (want == fl) return 0;
  return call("fcntl", [&] { return ::fcntl(fd, F_SETFL, want); });
}
long pipe2(int fds[2], int flags) {
  return call("pipe2", [&] { return ::pipe2(fds, flags); });
}
long socketpair(int domain, int type, int proto, int fds[2]) {
  return call("socketpair", [&] { return ::socketpair(domain, type, proto, fds); });
}
long socket(int domain, int type, int proto) {
  return call("socket", [&] { return ::socket(domain, type, proto); });
}
long bind(int fd, const sockaddr* a, socklen_t len) {
  return call("bind", [&] { return ::bind(fd, a, len); });
}
long listen(int fd, int backlog) {
  return call("listen", [&] { return ::listen(fd, backlog); });
}
long accept4(int fd, sockaddr* a, socklen_t* len, int flags) {
  return retry("accept4", [&] { return ::accept4(fd, a, len, flags); });
}
long connect(int fd, const sockaddr* a, socklen_t len) {
  // connect() must not be restarted after EINTR (it would fail with EALREADY);
  // the connection then completes asynchronously. Report it to the caller.
  return call("connect", [&] { return ::connect(fd, a, len); });
}
long setsockopt(int fd, int level, int opt, const void* v, socklen_t len) {
  return call("setsockopt", [&] { return ::setsockopt(fd, level, opt, v, len); });
}
long close(int fd) {
  return call("close", [&] { return ::close(fd); });
}

long sleep_until(const timespec& deadline) {
  long r;
  do {
    // clock_nanosleep returns the error number instead of setting errno.
    r = call("clock_nanosleep", [&] {
      const int e = ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr);
      errno = e;
      return e == 0 ? 0L : -1L;
    });
  } while (r == -EINTR);
  return r;
}

long futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, const timespec* rel_timeout) {
  // EINTR is returned, not retried: the caller re-checks its condition anyway.
  return call("futex_wait", [&] {
    return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected,
                     rel_timeout, nullptr, 0);
  });
}
long futex_wake(std::atomic<uint32_t>* addr, int count) {
  return call("futex_wake", [&] {
    return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, count,
                     nullptr, nullptr, 0);
  });
}

long uring_enter(io_uring* ring, unsigned to_submit, unsigned min_complete, unsigned flags,
                 const timespec* timeout, uint32_t min_wait_us) {
  const unsigned mode = g_mode.load(std::memory_order_relaxed);
  const SyscallObserver obs =
      (mode & kObserve) != 0 ? g_observer.load(std::memory_order_relaxed) : nullptr;
  // A registered ring is entered by its slot, not its fd.
  const int fd = (flags & IORING_ENTER_REGISTERED_RING) != 0 ? ring->enter_ring_fd : ring->ring_fd;
  long r;
  do {
    const uint64_t start = obs ? monotonic_ns() : 0;
    if (timeout != nullptr && min_complete > 0) {
      __kernel_timespec ts{timeout->tv_sec, timeout->tv_nsec};
      io_uring_getevents_arg arg{};
      arg.sigmask_sz = _NSIG / 8;
      arg.pad = min_wait_us;  // min_wait_usec in Linux 6.12's uapi; liburing 2.3 calls it pad
      arg.ts = reinterpret_cast<uint64_t>(&ts);
      r = ::io_uring_enter2(fd, to_submit, min_complete,
                            flags | IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                            reinterpret_cast<sigset_t*>(&arg), sizeof(arg));
    } else {
      r = ::io_uring_enter(fd, to_submit, min_complete, flags, nullptr);
    }
    // liburing's io_uring_enter returns -errno itself.
    if ((g_mode.load(std::memory_order_relaxed) & kCount) != 0) {
      detail::ThreadCounters& c = detail::local_counters();
      detail::bump(c.uring_enter);
      detail::bump(c.waits);
      count(r);
    }
    if (obs) obs("io_uring_enter", start, monotonic_ns(), r);
    // An interrupted wait may already have submitted; the caller re-counts pending work.
  } while (r == -EINTR && to_submit == 0);
  return r;
}

}  // namespace iomodels::sys
