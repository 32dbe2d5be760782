// Description: what machine a result came from: kernel, CPU, cores,
// mitigations, and whether (and with which features) io_uring works here.
#pragma once

#include <cstdint>
#include <string>

namespace iomodels {

struct UringProbe {
  bool available = false;
  std::string reason;            // why not, when unavailable (from the errno)
  uint32_t features = 0;         // io_uring_params.features
  bool single_issuer = false;    // IORING_SETUP_SINGLE_ISSUER accepted
  bool defer_taskrun = false;    // IORING_SETUP_DEFER_TASKRUN accepted
  bool coop_taskrun = false;     // IORING_SETUP_COOP_TASKRUN accepted
  bool read_multishot = false;   // IORING_OP_READ_MULTISHOT (Linux 6.7+)
  bool recv_multishot = false;   // multishot recv with provided buffers
  std::string describe() const;  // "yes (single_issuer, defer_taskrun, ...)" or "no: reason"
};

// Probed once per process (a ring made and torn down), then cached.
const UringProbe& uring_probe();

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

}  // namespace iomodels
