// Description: the Recorder: process-wide deltas of time, CPU and syscalls.
#include "measure/recorder.h"

#include <sys/resource.h>
#include <time.h>

#include "sys/time.h"

namespace iomodels {
namespace {

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6; }

rusage self_usage() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru;
}

}  // namespace

// The clock sys times its own deadlines and observed calls with: one clock.
uint64_t now_ns() { return sys::monotonic_ns(); }

uint64_t process_cpu_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t thread_cpu_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

Measurement& Measurement::operator+=(const Measurement& o) {
  wall_s += o.wall_s;
  user_s += o.user_s;
  sys_s += o.sys_s;
  voluntary_ctx += o.voluntary_ctx;
  involuntary_ctx += o.involuntary_ctx;
  if (o.max_rss_kb > max_rss_kb) max_rss_kb = o.max_rss_kb;
  calls += o.calls;
  return *this;
}

void Recorder::start() {
  calls_ = sys::counters_total();
  const rusage ru = self_usage();
  user_s_ = seconds(ru.ru_utime);
  sys_s_ = seconds(ru.ru_stime);
  vcsw_ = static_cast<uint64_t>(ru.ru_nvcsw);
  ivcsw_ = static_cast<uint64_t>(ru.ru_nivcsw);
  wall_ns_ = now_ns();
}

Measurement Recorder::stop() const {
  const uint64_t end = now_ns();
  const rusage ru = self_usage();
  Measurement m;
  m.wall_s = static_cast<double>(end - wall_ns_) * 1e-9;
  m.user_s = seconds(ru.ru_utime) - user_s_;
  m.sys_s = seconds(ru.ru_stime) - sys_s_;
  m.voluntary_ctx = static_cast<uint64_t>(ru.ru_nvcsw) - vcsw_;
  m.involuntary_ctx = static_cast<uint64_t>(ru.ru_nivcsw) - ivcsw_;
  m.max_rss_kb = ru.ru_maxrss;
  m.calls = sys::counters_total() - calls_;
  return m;
}

}  // namespace iomodels
