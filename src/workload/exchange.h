// Description: Exchange, one connection's request/response cycle as the
// model sees it. Every model uses it, so framing, verification and latency
// are the same for all of them. In the client role the model sends the
// 16-byte request and receives the response; in the server role it receives
// the request (checked: this connection, this size, the next id) and sends
// the response. Either way it waits for one incoming message per cycle, which
// feed() takes and complete() ends; the role decides only who speaks first.
// On the file transport a "request" is a read of size bytes at a random
// aligned offset of the data file, and the response is what that read returns.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "measure/histogram.h"
#include "peer/payload.h"
#include "sys/status.h"
#include "workload/workload.h"

namespace iomodels {

class Exchange {
 public:
  // `file_bytes` > 0: the file transport, reading a file of that size; the
  // offsets are drawn from `seed`, the same for every model.
  // `server`: the server role (the incoming message is the request).
  void init(const ClientConn& c, uint32_t size, bool verify, uint64_t file_bytes = 0,
            uint64_t seed = 0, bool server = false) {
    conn_ = c;
    size_ = size;
    server_ = server;
    in_size_ = server ? static_cast<uint32_t>(kRequestBytes) : size;
    verify_ = verify;
    file_slots_ = file_bytes >= size ? (file_bytes - size) / kFileAlign + 1 : 0;
    seed_ = seed;
  }

  // Starts the next request, issued at `issued_ns`; returns its 16 bytes
  // (on a file there is nothing to send: offset() says where to read; in
  // the server role they are what the peer is expected to send).
  const Request& begin(uint64_t issued_ns) {
    req_ = Request{conn_.index, size_, ++last_id_};
    got_ = 0;
    issued_ns_ = issued_ns;
    if (file_slots_ != 0) offset_ = file_offset(seed_, conn_.index, last_id_, file_slots_);
    return req_;
  }

  // The file transport: whether this is a read of a file, and where the
  // response starts in it (a multiple of kFileAlign).
  bool file() const { return file_slots_ != 0; }
  uint64_t offset() const { return offset_; }
  // Where the next byte of the response is in the file.
  uint64_t next_offset() const { return offset_ + got_; }

  // The offset of request `id` on connection `conn`: uniform over `slots`
  // aligned positions, deterministic (splitmix64 of seed, conn and id).
  static uint64_t file_offset(uint64_t seed, uint32_t conn, uint64_t id, uint64_t slots) {
    const uint64_t x = seed ^ (static_cast<uint64_t>(conn) << 40) ^ id;
    return (mix64(x + 0x9e3779b97f4a7c15ULL) % slots) * kFileAlign;
  }

  // Takes `n` received bytes of the incoming message (the response; in the
  // server role, the request). Returns false (with the reason in *err) on a
  // wrong byte or more bytes than were asked for.
  bool feed(const uint8_t* p, size_t n, Status* err) {
    if (n > in_size_ - got_) {
      *err = Status::error(where() + ": " + std::to_string(n - (in_size_ - got_)) +
                           " bytes more than the " + std::to_string(in_size_) + " expected");
      return false;
    }
    if (server_) return feed_request(p, n, err);
    if (verify_) {
      const size_t bad = file_slots_ != 0 ? verify_payload(kFileDataConn, 0, offset_ + got_, p, n)
                                          : verify_payload(conn_.index, last_id_, got_, p, n);
      if (bad != n) {
        *err = mismatch(got_ + bad, p[bad]);
        return false;
      }
    }
    got_ += static_cast<uint32_t>(n);
    return true;
  }

  bool complete() const { return got_ == in_size_; }
  uint32_t remaining() const { return in_size_ - got_; }
  // The server role: the model receives requests and sends responses.
  bool server() const { return server_; }
  // The server role: the response to the request just received, whole, in
  // a buffer this exchange owns until its next response (so an asynchronous
  // send may still be reading it after the model moved on).
  std::span<const uint8_t> make_response() {
    out_.resize(size_);
    fill_response(out_.data());
    return out_;
  }
  // The same into the caller's buffer of size() bytes.
  void fill_response(uint8_t* dst) const { fill_response_to(last_id_, dst); }
  // The response to this connection's request `id` (one answered late, after
  // the exchange has moved on to the next request).
  void fill_response_to(uint64_t id, uint8_t* dst) const {
    fill_payload(conn_.index, id, 0, dst, size_);
  }
  uint32_t size() const { return size_; }
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
  bool feed_request(const uint8_t* p, size_t n, Status* err);

  ClientConn conn_;
  Request req_{};
  uint32_t size_ = 0;
  uint32_t got_ = 0;
  uint64_t last_id_ = 0;
  uint64_t issued_ns_ = 0;
  uint64_t file_slots_ = 0;  // file transport: aligned offsets to draw from; 0 = a stream
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
  bool verify_ = true;
  bool server_ = false;
  uint32_t in_size_ = 0;      // bytes of the incoming message: size_, or a request's 16
  Request in_req_{};          // the server role: the request as it arrives
  std::vector<uint8_t> out_;  // the server role: the response being sent
};

}  // namespace iomodels
