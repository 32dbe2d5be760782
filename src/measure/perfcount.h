// Description: the kernel's own counters of another process tree, read from
// outside (perf_event_open in counting mode): CPU time, context switches and
// system calls of a program and every thread and child it makes, with the
// program unchanged and nothing stopped. How `run --exec` measures a program
// that is not iomodels'.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sys/fd.h"

namespace iomodels {

// One reading of a ProcessCounters.
struct CounterSample {
  uint64_t t_ns = 0;      // CLOCK_MONOTONIC when read
  uint64_t cpu_ns = 0;    // task-clock: CPU time of every task, user and system
  uint64_t ctx = 0;       // context switches
  uint64_t syscalls = 0;  // raw_syscalls:sys_enter hits (0 when !syscalls_counted())
};

// Counters attached to `pid` before it execs: they start counting at its
// exec (so nothing of the fork and set-up in between counts) and are
// inherited by every thread and child it creates after that. Reading them
// sums the live tasks and the exited ones.
class ProcessCounters {
 public:
  // Opens task-clock and context-switches, and, when `syscalls`, the
  // raw_syscalls:sys_enter tracepoint. false, with the reason in *why, when
  // the CPU counters cannot be opened (perf_event_paranoid, no
  // perf_event_open in a sandbox); the syscall counter's own refusal leaves
  // the others working and is in syscalls_why().
  bool open(pid_t pid, bool syscalls, std::string* why);
  bool syscalls_counted() const { return static_cast<bool>(syscalls_); }
  const std::string& syscalls_why() const { return syscalls_why_; }
  CounterSample read() const;

 private:
  Fd cpu_, ctx_, syscalls_;
  std::string syscalls_why_;
};

// The raw_syscalls:sys_enter tracepoint's id, read from tracefs. Where
// tracefs is not mounted, root reads it from a tracefs mounted in a private
// mount namespace of a short-lived child, so nothing on the system changes.
// 0, with the reason in *why, when it cannot be read.
uint64_t syscall_tracepoint_id(std::string* why);

}  // namespace iomodels
