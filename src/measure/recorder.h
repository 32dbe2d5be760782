// Description: the Recorder takes the process-wide cost of a timed region:
// wall time, CPU user/system over every thread, context switches, peak RSS and
// the syscall counters of every thread.
#pragma once

#include <cstdint>

#include "sys/sys.h"

namespace iomodels {

// Monotonic nanoseconds (CLOCK_MONOTONIC): the clock of every latency.
uint64_t now_ns();
// CPU time of the whole process, all threads (CLOCK_PROCESS_CPUTIME_ID).
uint64_t process_cpu_ns();
// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID). For work of a
// known amount (a burn loop that must use so much CPU however often it is
// preempted), never for a measurement: a run's CPU is process-wide.
uint64_t thread_cpu_ns();

struct Measurement {
  double wall_s = 0;
  double user_s = 0;  // process-wide (getrusage(RUSAGE_SELF)): every thread
  double sys_s = 0;
  uint64_t voluntary_ctx = 0;
  uint64_t involuntary_ctx = 0;
  long max_rss_kb = 0;  // peak for the process's life, not a delta
  sys::Counters calls;

  double cpu_s() const { return user_s + sys_s; }
  double cpu_util() const { return wall_s > 0 ? cpu_s() / wall_s : 0; }
  uint64_t ctx() const { return voluntary_ctx + involuntary_ctx; }
  Measurement& operator+=(const Measurement& o);
};

class Recorder {
 public:
  void start();
  Measurement stop() const;

 private:
  uint64_t wall_ns_ = 0;
  double user_s_ = 0, sys_s_ = 0;
  uint64_t vcsw_ = 0, ivcsw_ = 0;
  sys::Counters calls_;
};

}  // namespace iomodels
