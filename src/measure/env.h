// Description: what machine a result came from: kernel, CPU, cores,
// mitigations (io_uring's abilities are probed in sys/uring.h).
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

}  // namespace iomodels
