// Description: what machine a result came from: kernel, CPU, cores,
// mitigations (io_uring's abilities are probed in sys/uring.h), and how busy
// it is.
#pragma once

#include <cstdint>
#include <string>

namespace iomodels {

struct Environment {
  std::string kernel;   // uname -r
  std::string machine;  // uname -m
  std::string hostname;
  std::string cpu_model;    // /proc/cpuinfo "model name"
  int cores = 0;            // online CPUs
  std::string mitigations;  // summary of /sys/devices/system/cpu/vulnerabilities
  std::string version;      // iomodels version
};
const Environment& environment();

// The version of iomodels (from CMake's project version).
const char* iomodels_version();

// The 1-minute load average (/proc/loadavg), or -1 when it cannot be read.
double load_average();

// Above this 1-minute load average per online CPU the machine counts as busy:
// other work then takes CPU from a run, and its figures move with that load.
// (Half the CPUs: on 2 cores one runnable task elsewhere is enough to move
// a model's CPU per request by tens of percent.)
inline constexpr double kBusyLoadPerCpu = 0.5;

// True when `load` (a 1-minute load average; -1: unknown) is above
// kBusyLoadPerCpu × `cpus`.
bool machine_busy(double load, int cpus);

// The machine's busy CPU time so far, in seconds, over all CPUs: user, nice,
// system, irq, softirq and steal (time the hypervisor gave another guest is
// time this machine's work did not get), from the first line of /proc/stat;
// -1 when it cannot be read. Two readings around a piece of work, less the
// work's own CPU, give what the rest of the machine used meanwhile.
double machine_busy_cpu_s();

// This process's CPU time and that of the children it has reaped (a forked
// peer, a program run under --exec), in seconds: the own work to take from
// machine_busy_cpu_s's difference.
double process_tree_cpu_s();

}  // namespace iomodels
