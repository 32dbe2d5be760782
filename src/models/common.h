// Description: helpers every model shares: sending a request, turning a
// failed read into a clear error, and finishing a request.
#pragma once

#include <span>
#include <vector>

#include "iomodels/exchange.h"
#include "iomodels/model.h"
#include "iomodels/recorder.h"
#include "iomodels/sys.h"
#include "iomodels/trace.h"

namespace iomodels::detail {

// A request's id on the timeline: unique across connections.
inline uint64_t request_token(const Exchange& ex) {
  return (static_cast<uint64_t>(ex.conn().index) << 40) | ex.id();
}

// Starts ex's next request, issued now or at ctx.scheduled_ns (open loop),
// and marks it on the timeline. Every model starts requests through here.
const Request& begin_request(const RunContext& ctx, Exchange& ex);

// Starts the next request (begin_request) and writes it whole. Requests are 16 bytes into a buffer
// that holds at most one other request, so the first write nearly always takes it all; a
// non-blocking fd that is full waits in poll(), bounded by the timeout.
Status send_request(const RunContext& ctx, Exchange& ex);

// Reads a non-blocking connection until EAGAIN or its response is whole. A
// whole response is finished and, while the connection has requests left
// (*left, counted down here), the next one is sent; *done says it has none
// left. *progressed (optional) says whether any byte arrived. The poll,
// select and polling models share this.
Status read_until_eagain(const RunContext& ctx, Exchange& ex, std::span<uint8_t> buf,
                         uint64_t* left, bool* done, bool* progressed = nullptr);

// Why a read returned `r` (0 = EOF, or -errno): names the connection and
// says whether the watchdog killed the peer.
Status read_failed(const RunContext& ctx, const Exchange& ex, long r);

// The response is complete: record its latency from the calling thread.
inline void finish(const RunContext& ctx, const Exchange& ex, uint64_t now) {
  ctx.latency->record(ex.latency_ns(now));
  ctx.workload->note_progress();
  if (Trace* t = Trace::active()) t->request_end(request_token(ex), now, "request");
}

// The same from a worker thread that shares ctx.latency with others.
inline void finish_shared(const RunContext& ctx, const Exchange& ex, uint64_t now) {
  ctx.latency->record_shared(ex.latency_ns(now));
  ctx.workload->note_progress();
  if (Trace* t = Trace::active()) t->request_end(request_token(ex), now, "request");
}

// One Exchange per connection.
std::vector<Exchange> make_exchanges(const RunContext& ctx);

// Sets or clears O_NONBLOCK on both fds of every connection (untimed set-up).
Status set_nonblocking(const RunContext& ctx, bool on);

// An error that says a bounded wait ran out.
Status timed_out(const RunContext& ctx, std::string_view waiting_for);

}  // namespace iomodels::detail
