// Description: Exchange, one connection's request/response cycle as the
// client sees it. Every model uses it, so framing, verification and latency
// are the same for all of them.
#pragma once

#include <cstdint>
#include <string>

#include "iomodels/histogram.h"
#include "iomodels/payload.h"
#include "iomodels/status.h"
#include "iomodels/workload.h"

namespace iomodels {

class Exchange {
 public:
  void init(const ClientConn& c, uint32_t size, bool verify) {
    conn_ = c;
    size_ = size;
    verify_ = verify;
  }

  // Starts the next request, issued at `issued_ns`; returns its 16 bytes.
  const Request& begin(uint64_t issued_ns) {
    req_ = Request{conn_.index, size_, ++last_id_};
    got_ = 0;
    issued_ns_ = issued_ns;
    return req_;
  }

  // Takes `n` received bytes of the response. Returns false (with the reason
  // in *err) on a wrong byte or more bytes than were asked for.
  bool feed(const uint8_t* p, size_t n, Status* err) {
    if (n > size_ - got_) {
      *err = Status::error(where() + ": " + std::to_string(n - (size_ - got_)) +
                           " bytes more than the " + std::to_string(size_) + " asked for");
      return false;
    }
    if (verify_) {
      const size_t bad = verify_payload(conn_.index, last_id_, got_, p, n);
      if (bad != n) {
        *err = mismatch(got_ + bad, p[bad]);
        return false;
      }
    }
    got_ += static_cast<uint32_t>(n);
    return true;
  }

  bool complete() const { return got_ == size_; }
  uint32_t remaining() const { return size_ - got_; }
  uint32_t received() const { return got_; }
  uint64_t issued_ns() const { return issued_ns_; }
  uint64_t id() const { return last_id_; }
  const ClientConn& conn() const { return conn_; }
  int rfd() const { return conn_.rfd; }
  int wfd() const { return conn_.wfd; }

  // The response was complete at `now`: its latency from issue to last byte.
  uint64_t latency_ns(uint64_t now) const { return now > issued_ns_ ? now - issued_ns_ : 0; }

  // For errors: "connection 3, request 17".
  std::string where() const {
    return "connection " + std::to_string(conn_.index) + ", request " + std::to_string(last_id_);
  }

 private:
  Status mismatch(uint64_t offset, uint8_t got) const;

  ClientConn conn_;
  Request req_{};
  uint32_t size_ = 0;
  uint32_t got_ = 0;
  uint64_t last_id_ = 0;
  uint64_t issued_ns_ = 0;
  bool verify_ = true;
};

}  // namespace iomodels
