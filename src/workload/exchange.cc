// Description: the error an Exchange reports for a byte that is not the payload.
#include "workload/exchange.h"

#include <cstdio>
#include <cstring>

#include "peer/payload.h"

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

bool Exchange::feed_request(const uint8_t* p, size_t n, Status* err) {
  std::memcpy(reinterpret_cast<uint8_t*>(&in_req_) + got_, p, n);
  got_ += static_cast<uint32_t>(n);
  if (got_ < in_size_ || !verify_) return true;
  if (in_req_.conn == req_.conn && in_req_.size == req_.size && in_req_.id == req_.id) return true;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                ": the peer sent request {conn %u, size %u, id %llu}, expected "
                "{conn %u, size %u, id %llu}",
                in_req_.conn, in_req_.size, static_cast<unsigned long long>(in_req_.id), req_.conn,
                req_.size, static_cast<unsigned long long>(req_.id));
  *err = Status::error(where() + buf);
  return false;
}

}  // namespace iomodels
