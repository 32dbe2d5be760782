// Description: Status's errno constructor and a thread-safe strerror.
#include "sys/status.h"

#include <cstring>

namespace iomodels {

std::string errno_text(long neg_errno) {
  char buf[128];
  // GNU strerror_r returns the message, possibly not in buf.
  return ::strerror_r(static_cast<int>(-neg_errno), buf, sizeof buf);
}

Status Status::from_errno(long neg_errno, std::string_view what) {
  return error(std::string(what) + ": " + errno_text(neg_errno));
}

}  // namespace iomodels
