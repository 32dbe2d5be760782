// Description: UringProactor, the completion loop behind every `uring*` model.
// It submits each connection's send and receive as SQEs tagged with an integer
// token, makes one io_uring_enter per sweep (submit and wait together), and
// runs a callback per completion. The models differ only in how the ring is
// set up and how a send or a receive is prepared; those are the hooks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/common.h"
#include "models/model.h"
#include "models/uring_tuning.h"

namespace iomodels::detail {

class UringProactor : public Model {
 public:
  explicit UringProactor(const sys::RingOptions& ring_opts) : ring_opts_(ring_opts) {}

  Status setup(RunContext& ctx) final;
  Status run(uint64_t rounds) final;
  // "uring_setup": the IORING_SETUP_* flags the kernel took (Ring::init asks
  // for SINGLE_ISSUER | DEFER_TASKRUN first and falls back when refused).
  // "file_reads" (the file transport): whether reads complete inside the
  // enter or go to io-wq workers (file_reads_text).
  std::vector<Fact> facts() const override;

 protected:
  // --- hooks (the defaults are the plain `uring` model) ---

  // The ring's options, asked once at set-up (ctx() is there by then); the
  // default is the constructor's.
  virtual sys::RingOptions ring_options() const { return ring_opts_; }
  // After the ring exists: register files, buffers, buffer rings.
  virtual Status prepare() { return {}; }
  // Send n request bytes at p on connection i (SEND for sockets, WRITE for pipes).
  virtual void prep_send(io_uring_sqe* sqe, uint32_t i, const uint8_t* p, unsigned n);
  // Receive up to n bytes into p on connection i (RECV for sockets, READ for
  // pipes; READ at file offset `off` on the file transport).
  virtual void prep_recv(io_uring_sqe* sqe, uint32_t i, uint8_t* p, unsigned n, uint64_t off);
  // Where a receive completion's bytes are: its k-th piece (a bundle fills
  // several provided buffers, each piece_bytes() long but the last), and
  // giving its buffers back once they are verified (provided buffers). The
  // default is one piece in the connection's own buffer.
  virtual const uint8_t* received(uint32_t i, const io_uring_cqe& cqe, unsigned k) {
    (void)cqe;
    (void)k;
    return recv_slot(i);
  }
  virtual size_t piece_bytes() const { return SIZE_MAX; }
  virtual void recycle(const io_uring_cqe& cqe) { (void)cqe; }
  // Whether a sweep may wait for a batch of completions where the kernel can
  // bound the wait (Ring::can_batch_wait). Off but for the feature ladder's
  // step: it saves enters and costs CPU, its timer waking the thread once
  // more per enter. On this VM (iomodels ladder, 14 cells of both roles,
  // both regimes, 64 B to 64 KiB) it was never cheaper and was dearer in 4
  // (1.09-1.41x), for 0.37 -> 0.10 syscalls per request at latency 0.
  virtual bool batch_wait_wanted() const { return false; }
  // Whether each connection needs its own receive buffer (not with provided buffers).
  virtual bool own_recv_buffers() const { return true; }

  // --- for the hooks ---
  const RunContext& ctx() const { return *ctx_; }
  sys::Ring& ring() { return ring_; }
  bool is_socket() const {
    const Transport t = ctx_->workload->options().transport;
    return t == Transport::kSocketpair || t == Transport::kTcp;
  }
  bool is_file() const { return ctx_->workload->options().transport == Transport::kFile; }
  // Bytes per receive: min(response size, 64 KiB); a larger response takes several.
  uint32_t chunk_bytes() const { return chunk_; }
  // Connection i's send slot (its request; in the server role its response)
  // and its receive buffer, both inside io_memory().
  uint8_t* send_slot(uint32_t i) { return mem_.data() + size_t{i} * send_bytes_; }
  uint8_t* recv_slot(uint32_t i) { return mem_.data() + recv_base_ + size_t{i} * chunk_; }
  // All buffers the kernel reads or writes (what uring-fixed registers).
  std::span<uint8_t> io_memory() { return mem_; }

 private:
  // What user_data carries: the connection's index and which op completed.
  enum class Op : uint64_t { kSend = 0, kRecv = 1 };
  static uint64_t token(uint32_t i, Op op) {
    return (uint64_t{i} << 1) | static_cast<uint64_t>(op);
  }

  struct Conn {
    uint64_t left = 0;        // requests still to complete in this run
    uint32_t sent = 0;        // bytes of the send slot the kernel has taken
    bool recv_armed = false;  // a receive is in flight (or a multishot one stays armed)
    // Zero-copy sends (SEND_ZC) whose buffer the kernel still holds: each
    // posts a notification (IORING_CQE_F_NOTIF) once it lets go. A response
    // due meanwhile waits for it (respond_waiting), as the slot is reused.
    uint32_t zc_held = 0;
    bool respond_waiting = false;
    // The server role: a response's sends are in flight (their CQEs not all
    // reaped); the next response waits for them (respond_waiting).
    bool sending = false;
    // This response's sends post a CQE on success too, and the run waits for
    // it: the run's last response on a connection (a run ends when its
    // responses are out), a zero-copy send, or every one where the kernel
    // cannot skip them.
    bool await_send = false;
    uint64_t respond_id = 0;    // the request a waiting response answers
    bool respond_last = false;  // ... and whether it is the run's last
    // The server role: bytes a multishot receive delivered after this
    // connection was done with its run (the peer's next request), taken at
    // the next run's start.
    std::vector<uint8_t> early;
  };

  Status start_request(uint32_t i);
  Status respond(uint32_t i);
  // A response that waited (respond_waiting) goes out once nothing holds the slot.
  Status resume_respond(uint32_t i);
  // The response to request `id` of connection i, now or once the slot is free.
  // `last`: the connection's last response of this run.
  Status send_response(uint32_t i, uint64_t id, bool last);
  Status finished(uint32_t i);
  Status queue_send(uint32_t i);
  Status queue_recv(uint32_t i);
  Status on_completion(const io_uring_cqe& cqe);
  Status on_send(uint32_t i, const io_uring_cqe& cqe);
  Status on_recv(uint32_t i, const io_uring_cqe& cqe);
  // Received bytes of connection i's incoming message, verified; a whole
  // message completes the exchange (and, in the server role, sends the response).
  Status take(uint32_t i, const uint8_t* p, size_t n);

  const sys::RingOptions ring_opts_;
  RunContext* ctx_ = nullptr;
  IoBuffer mem_;  // declared before ring_: the ring goes first
  sys::Ring ring_;
  std::vector<Exchange> ex_;
  std::vector<Conn> conns_;
  size_t recv_base_ = 0;
  uint32_t send_bytes_ = 0;  // a send slot: a request's 16 bytes, or a response
  bool server_ = false;      // the server role: receive the request, send the response
  uint32_t chunk_ = 0;
  bool skip_success_ = false;
  bool batch_wait_ = false;
  unsigned recvs_reaped_ = 0;   // receive completions of the sweep being reaped
  uint64_t sends_awaited_ = 0;  // sends whose CQE is still to come
  uint64_t active_ = 0;         // connections with requests left in this run
  std::string file_reads_;      // the file transport: file_reads_text of its file
  Status broken_;               // a failed run leaves ops in flight: no further runs
};

}  // namespace iomodels::detail
