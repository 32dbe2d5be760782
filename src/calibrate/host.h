// Description: what calibrate reports about the machine it ran on: the data
// file's filesystem (the load average is measure/env.h's).
#pragma once

#include <string>

namespace iomodels::calibrate {

// "tmpfs", "not tmpfs (f_type 0x...)" or "unknown".
std::string filesystem_of(const std::string& path);

}  // namespace iomodels::calibrate
