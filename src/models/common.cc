// Description: the helpers every model shares.
#include "models/common.h"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "iomodels/parse.h"

namespace iomodels {

Status Exchange::mismatch(uint64_t offset, uint8_t got) const {
  char buf[160];
  std::snprintf(buf, sizeof buf, ": byte %llu of %u is 0x%02x, expected 0x%02x",
                static_cast<unsigned long long>(offset), size_, got,
                payload_byte(conn_.index, last_id_, offset));
  return Status::error(where() + buf);
}

namespace detail {

const Request& begin_request(const RunContext& ctx, Exchange& ex) {
  const uint64_t issued = ctx.scheduled_ns != 0 ? ctx.scheduled_ns : now_ns();
  const Request& rq = ex.begin(issued);
  if (Trace* t = Trace::active()) t->request_begin(request_token(ex), issued, "request");
  return rq;
}

Status send_request(const RunContext& ctx, Exchange& ex) {
  const Request& rq = begin_request(ctx, ex);
  const auto* p = reinterpret_cast<const uint8_t*>(&rq);
  size_t left = sizeof rq;
  while (left > 0) {
    const long n = sys::write(ex.wfd(), p, left);
    if (n > 0) {
      p += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    if (n == -EAGAIN) {
      pollfd pf{ex.wfd(), POLLOUT, 0};
      const long pr = sys::poll(&pf, 1, static_cast<int>(ctx.options.timeout_ns / 1'000'000));
      if (pr == 0) return timed_out(ctx, "room to send a request");
      if (pr < 0) return Status::from_errno(pr, ex.where() + ": poll");
      continue;
    }
    return read_failed(ctx, ex, n == 0 ? -EIO : n);
  }
  return {};
}

Status read_until_eagain(const RunContext& ctx, Exchange& ex, std::span<uint8_t> buf,
                         uint64_t* left, bool* done, bool* progressed) {
  while (!ex.complete()) {
    const long n = sys::read(ex.rfd(), buf.data(), std::min<size_t>(ex.remaining(), buf.size()));
    if (n == -EAGAIN) return {};  // the rest comes later
    if (n <= 0) return read_failed(ctx, ex, n);
    if (progressed != nullptr) *progressed = true;
    Status err;
    if (!ex.feed(buf.data(), static_cast<size_t>(n), &err)) return err;
  }
  finish(ctx, ex, now_ns());
  if (--*left == 0) {
    *done = true;
    return {};
  }
  return send_request(ctx, ex);
}

Status read_failed(const RunContext& ctx, const Exchange& ex, long r) {
  std::string what = r == 0 ? "the peer closed the connection" : errno_text(r);
  if (ctx.workload->watchdog_fired()) {
    what += " (the watchdog killed the peer: no request completed in " +
            format_duration(ctx.options.timeout_ns) + ")";
  }
  return Status::error(ex.where() + ": " + what);
}

Status timed_out(const RunContext& ctx, std::string_view waiting_for) {
  return Status::error("timed out after " + format_duration(ctx.options.timeout_ns) +
                       " waiting for " + std::string(waiting_for));
}

std::vector<Exchange> make_exchanges(const RunContext& ctx) {
  std::vector<Exchange> v(ctx.conns().size());
  for (size_t i = 0; i < v.size(); ++i) v[i].init(ctx.conns()[i], ctx.size(), ctx.options.verify);
  return v;
}

Status set_nonblocking(const RunContext& ctx, bool on) {
  for (const ClientConn& c : ctx.conns()) {
    for (int fd : {c.rfd, c.wfd}) {
      const long r = on ? sys::fcntl_setfl(fd, O_NONBLOCK, 0) : sys::fcntl_setfl(fd, 0, O_NONBLOCK);
      if (r < 0) return Status::from_errno(r, "fcntl(O_NONBLOCK)");
    }
  }
  return {};
}

}  // namespace detail
}  // namespace iomodels
