// Description: the data file's filesystem (statfs) and the load average
// (/proc/loadavg), as calibrate's report states them.
#include "calibrate/host.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <cstdio>
#include <fstream>

namespace iomodels::calibrate {

std::string filesystem_of(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return "unknown";
  if (fs.f_type == TMPFS_MAGIC) return "tmpfs";
  char buf[32];
  std::snprintf(buf, sizeof buf, "not tmpfs (f_type 0x%lx)", static_cast<unsigned long>(fs.f_type));
  return buf;
}

double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return f ? l : -1;
}

}  // namespace iomodels::calibrate
