// Description: the error an Exchange reports for a byte that is not the payload.
#include "workload/exchange.h"

#include <cstdio>

#include "workload/payload.h"

namespace iomodels {

Status Exchange::mismatch(uint64_t offset, uint8_t got) const {
  char buf[200];
  if (file()) {
    std::snprintf(buf, sizeof buf,
                  ": byte %llu of %u (file offset %llu) is 0x%02x, expected 0x%02x",
                  static_cast<unsigned long long>(offset), size_,
                  static_cast<unsigned long long>(offset_ + offset), got,
                  payload_byte(kFileDataConn, 0, offset_ + offset));
  } else {
    std::snprintf(buf, sizeof buf, ": byte %llu of %u is 0x%02x, expected 0x%02x",
                  static_cast<unsigned long long>(offset), size_, got,
                  payload_byte(conn_.index, last_id_, offset));
  }
  return Status::error(where() + buf);
}

}  // namespace iomodels
