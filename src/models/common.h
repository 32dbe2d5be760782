// Description: helpers every model shares: sending a request, turning a
// failed read into a clear error, and finishing a request.
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "measure/recorder.h"
#include "measure/trace.h"
#include "models/model.h"
#include "sys/sys.h"
#include "workload/exchange.h"

namespace iomodels::detail {

// Per read() of a model with one buffer per loop or worker: big enough that a
// 1 MiB response takes a handful of calls, small enough to stay in cache.
inline constexpr size_t kReadChunk = 256 * 1024;
// One epoll_wait hands back at most this many ready fds (epoll, coro-epoll).
inline constexpr int kMaxEvents = 256;

// A read buffer aligned to kFileAlign: O_DIRECT reads need aligned memory,
// and every model reads into one of these so that --direct works for all.
class IoBuffer {
 public:
  IoBuffer() = default;
  explicit IoBuffer(size_t n) { resize(n); }
  // A new zeroed buffer of n bytes (the old contents are gone).
  void resize(size_t n) {
    const size_t rounded = (n + kFileAlign - 1) / kFileAlign * kFileAlign;
    p_.reset(rounded ? static_cast<uint8_t*>(std::aligned_alloc(kFileAlign, rounded)) : nullptr);
    if (rounded != 0 && !p_) throw std::bad_alloc();
    if (rounded != 0) std::memset(p_.get(), 0, rounded);
    n_ = n;
  }
  uint8_t* data() const { return p_.get(); }
  size_t size() const { return n_; }
  operator std::span<uint8_t>() const { return {p_.get(), n_}; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> p_;
  size_t n_ = 0;
};

// A request's id on the timeline: unique across connections.
inline uint64_t request_token(const Exchange& ex) {
  return (static_cast<uint64_t>(ex.conn().index) << 40) | ex.id();
}

// Starts ex's next request, issued now or at ctx.scheduled_ns (open loop),
// and marks it on the timeline. Every model starts requests through here.
const Request& begin_request(const RunContext& ctx, Exchange& ex);

// Starts the next request (begin_request) and writes it whole (on the file
// transport there is nothing to write: the read is the request; in the
// server role the peer sends it, and the model waits to receive it). Requests are 16 bytes into a
// buffer that holds at most one other request, so the first write nearly always takes it all; a
// non-blocking fd that is full waits in poll(), bounded by the timeout.
Status send_request(const RunContext& ctx, Exchange& ex);

// Reads a non-blocking connection until EAGAIN or its response is whole. A
// whole response is finished and, while the connection has requests left
// (*left, counted down here), the next one is sent; *done says it has none
// left. *progressed (optional) says whether any byte arrived. The poll,
// select and polling models share this.
Status read_until_eagain(const RunContext& ctx, Exchange& ex, std::span<uint8_t> buf,
                         uint64_t* left, bool* done, bool* progressed = nullptr);

// Reads the next part of ex's response into buf (at most cap bytes): read()
// on a stream; on the file transport pread() at the response's next offset.
long read_response(const Exchange& ex, uint8_t* buf, size_t cap);
// The same without waiting: the stream's fd is O_NONBLOCK; a file, on which
// O_NONBLOCK does nothing, is read with preadv2(RWF_NOWAIT), which says
// EAGAIN when the data is not in the page cache yet.
long read_response_nowait(const Exchange& ex, uint8_t* buf, size_t cap);
// Set-up: whether a regular file can be read without waiting, asked with one
// 4 KiB preadv2(RWF_NOWAIT) at offset 0 into an aligned buffer (so an
// O_DIRECT file takes it too): bytes read, -EAGAIN (the read would wait), or
// -EOPNOTSUPP where the file's filesystem cannot be asked not to wait (tmpfs).
long try_nowait_read(int fd);

// Whether the workload is the file transport.
inline bool is_file(const RunContext& ctx) {
  return ctx.workload->options().transport == Transport::kFile;
}

// ModelInfo::not_applicable for the readiness models on the file transport.
// Both ask the kernel (on a memfd, a regular file in memory) and quote it:
// epoll_ctl refuses a regular file with EPERM; poll() and select() call it
// ready at once, and O_NONBLOCK changes nothing for it.
std::string epoll_not_applicable(const WorkloadOptions& w);
std::string poll_not_applicable(const WorkloadOptions& w);

// Why a read returned `r` (0 = EOF, or -errno): names the connection and
// says whether the watchdog killed the peer.
Status read_failed(const RunContext& ctx, const Exchange& ex, long r);

// The server role: writes the response to ex's request whole, with write()
// (a full non-blocking fd waits in poll(), bounded by the timeout).
Status send_response(const RunContext& ctx, Exchange& ex);

// The exchange is complete and, in the server role, its response sent: note
// the progress the watchdog looks for, record the latency (client role, when
// the histogram is on; in the server role the peer measures it) and end its
// slice on the timeline. The time is read only when the histogram or a
// timeline needs it. Worker threads that share ctx.latency pass shared = true.
inline void finish_sent(const RunContext& ctx, const Exchange& ex, bool shared = false) {
  // Always: without it the watchdog could not tell a slow run from a hung one.
  ctx.workload->note_progress();
  Trace* t = ctx.options.trace_hooks ? Trace::active() : nullptr;
  const bool record = ctx.options.histogram && !ex.server();
  if (!record && t == nullptr) return;
  const uint64_t now = now_ns();
  if (record) {
    if (shared)
      ctx.latency->record_shared(ex.latency_ns(now));
    else
      ctx.latency->record(ex.latency_ns(now));
  }
  if (t != nullptr) t->request_end(request_token(ex), now, "request");
}

// The incoming message is complete: in the server role, answer it with
// send_response; then finish_sent. Every model but the io_uring ones (which
// send through the ring) finishes through here.
[[nodiscard]] inline Status finish(const RunContext& ctx, Exchange& ex, bool shared = false) {
  if (ex.server()) {
    if (Status s = send_response(ctx, ex); !s.ok()) return s;
  }
  finish_sent(ctx, ex, shared);
  return {};
}

// The same from a worker thread that shares ctx.latency with others.
[[nodiscard]] inline Status finish_shared(const RunContext& ctx, Exchange& ex) {
  return finish(ctx, ex, true);
}

// One Exchange per connection.
std::vector<Exchange> make_exchanges(const RunContext& ctx);

// Sets or clears O_NONBLOCK on both fds of every connection (untimed set-up).
Status set_nonblocking(const RunContext& ctx, bool on);

// An error that says a bounded wait ran out.
Status timed_out(const RunContext& ctx, std::string_view waiting_for);

}  // namespace iomodels::detail
