// Description: what calibrate reports about the machine it ran on: the data
// file's filesystem and the load average.
#pragma once

#include <string>

namespace iomodels::calibrate {

// "tmpfs", "not tmpfs (f_type 0x...)" or "unknown".
std::string filesystem_of(const std::string& path);

// The 1-minute load average (/proc/loadavg), or -1.
double load_average();

}  // namespace iomodels::calibrate
