// Description: the monotonic clock sys uses itself, and nanoseconds to the
// kernel's time structs for the calls that take a timespec (futex,
// epoll_pwait2, io_uring_enter, clock_nanosleep) or a timeval (select).
#pragma once

#include <sys/time.h>
#include <time.h>

#include <cstdint>

namespace iomodels::sys {

inline constexpr uint64_t kNsPerSecond = 1'000'000'000;

// CLOCK_MONOTONIC in nanoseconds, for sys's own use (a syscall observer's
// timestamps, a reap's deadline). Above sys, measure's now_ns() is the clock;
// it reads this same one, so their times and deadlines mix.
inline uint64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSecond + static_cast<uint64_t>(ts.tv_nsec);
}

inline timespec to_timespec(uint64_t ns) {
  return {static_cast<time_t>(ns / kNsPerSecond), static_cast<long>(ns % kNsPerSecond)};
}

inline timeval to_timeval(uint64_t ns) {
  return {static_cast<time_t>(ns / kNsPerSecond),
          static_cast<suseconds_t>(ns % kNsPerSecond / 1000)};
}

}  // namespace iomodels::sys
