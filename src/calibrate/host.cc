// Description: the data file's filesystem (statfs), as calibrate's report
// states it.
#include "calibrate/host.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <cstdio>

namespace iomodels::calibrate {

std::string filesystem_of(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return "unknown";
  if (fs.f_type == TMPFS_MAGIC) return "tmpfs";
  char buf[32];
  std::snprintf(buf, sizeof buf, "not tmpfs (f_type 0x%lx)", static_cast<unsigned long>(fs.f_type));
  return buf;
}

}  // namespace iomodels::calibrate
