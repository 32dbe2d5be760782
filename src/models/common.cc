// Description: the helpers every model shares.
#include "models/common.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "sys/epoll_owner.h"
#include "sys/fd.h"
#include "workload/parse.h"

namespace iomodels {

namespace detail {

const Request& begin_request(const RunContext& ctx, Exchange& ex) {
  Trace* t = ctx.options.trace_hooks ? Trace::active() : nullptr;
  // The issue time is read only when the histogram or a timeline needs it.
  const uint64_t issued = ctx.scheduled_ns != 0                   ? ctx.scheduled_ns
                          : ctx.options.histogram || t != nullptr ? now_ns()
                                                                  : 0;
  const Request& rq = ex.begin(issued);
  if (t != nullptr) t->request_begin(request_token(ex), issued, "request");
  return rq;
}

namespace {

// Writes n bytes whole; a non-blocking fd that is full waits in poll(),
// bounded by the timeout.
Status write_all(const RunContext& ctx, const Exchange& ex, const uint8_t* p, size_t left,
                 const char* what) {
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
      if (pr == 0) return timed_out(ctx, what);
      if (pr < 0) return Status::from_errno(pr, ex.where() + ": poll");
      continue;
    }
    return read_failed(ctx, ex, n == 0 ? -EIO : n);
  }
  return {};
}

}  // namespace

Status send_request(const RunContext& ctx, Exchange& ex) {
  const Request& rq = begin_request(ctx, ex);
  // On a file the read itself is the request; in the server role the peer
  // sends it.
  if (ex.file() || ex.server()) return {};
  return write_all(ctx, ex, reinterpret_cast<const uint8_t*>(&rq), sizeof rq,
                   "room to send a request");
}

Status send_response(const RunContext& ctx, Exchange& ex) {
  const std::span<const uint8_t> out = ex.make_response();
  return write_all(ctx, ex, out.data(), out.size(), "room to send a response");
}

Status read_until_eagain(const RunContext& ctx, Exchange& ex, std::span<uint8_t> buf,
                         uint64_t* left, bool* done, bool* progressed) {
  while (!ex.complete()) {
    const long n = read_response_nowait(ex, buf.data(), buf.size());
    if (n == -EAGAIN) return {};  // the rest comes later
    if (n <= 0) return read_failed(ctx, ex, n);
    if (progressed != nullptr) *progressed = true;
    Status err;
    if (!ex.feed(buf.data(), static_cast<size_t>(n), &err)) return err;
  }
  if (Status s = finish(ctx, ex); !s.ok()) return s;
  if (--*left == 0) {
    *done = true;
    return {};
  }
  return send_request(ctx, ex);
}

long read_response(const Exchange& ex, uint8_t* buf, size_t cap) {
  const size_t n = std::min<size_t>(ex.remaining(), cap);
  if (ex.file()) return sys::pread(ex.rfd(), buf, n, static_cast<off_t>(ex.next_offset()));
  return sys::read(ex.rfd(), buf, n);
}

long read_response_nowait(const Exchange& ex, uint8_t* buf, size_t cap) {
  const size_t n = std::min<size_t>(ex.remaining(), cap);
  if (ex.file()) {
    iovec iov{buf, n};
    return sys::preadv2(ex.rfd(), &iov, 1, static_cast<off_t>(ex.next_offset()), RWF_NOWAIT);
  }
  return sys::read(ex.rfd(), buf, n);
}

long try_nowait_read(int fd) {
  alignas(4096) static thread_local uint8_t buf[4096];
  iovec iov{buf, sizeof buf};
  return sys::preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
}

Status read_failed(const RunContext& ctx, const Exchange& ex, long r) {
  if (ex.file()) {
    // The file is ours and big enough for every read: EOF means it shrank.
    return Status::error(
        ex.where() + ": " +
        (r == 0 ? std::string("end of file (was the data file truncated?)")
                : "pread at offset " + std::to_string(ex.next_offset()) + ": " + errno_text(r)));
  }
  std::string what = r == 0 ? "the peer closed the connection" : errno_text(r);
  if (ctx.workload->watchdog_fired()) {
    what += " (the watchdog killed the peer: no request completed in " +
            format_duration(ctx.options.timeout_ns) + ")";
  }
  return Status::error(ex.where() + ": " + what);
}

namespace {

// A regular file in memory to ask the kernel about.
Fd probe_file() { return Fd(static_cast<int>(::memfd_create("iomodels-probe", MFD_CLOEXEC))); }

}  // namespace

std::string epoll_not_applicable(const WorkloadOptions& w) {
  if (w.transport != Transport::kFile) return {};
  static const std::string why = [] {
    Fd f = probe_file();
    sys::Epoll ep;
    long r = -EBADF;
    if (f && ep.open().ok()) r = ep.add(f.get(), EPOLLIN, 0);
    const std::string said =
        r == 0 ? std::string("it succeeded here, unexpectedly") : "here it says " + errno_text(r);
    return "a regular file has no readiness to wait for: epoll_ctl(EPOLL_CTL_ADD) refuses it "
           "with EPERM (" +
           said + "), and a read of it waits for the page cache or the disk, never for a peer";
  }();
  return why;
}

std::string poll_not_applicable(const WorkloadOptions& w) {
  if (w.transport != Transport::kFile) return {};
  static const std::string why = [] {
    Fd f = probe_file();
    pollfd pf{f.get(), POLLIN, 0};
    const long r = f ? sys::poll(&pf, 1, 0) : -EBADF;
    const std::string said = r == 1 && (pf.revents & POLLIN)
                                 ? "here poll() returned POLLIN at once"
                                 : "here poll() returned " + std::to_string(r);
    return "poll() and select() report a regular file always ready (" + said +
           "), and O_NONBLOCK has no effect on regular files: a read still waits for the disk";
  }();
  return why;
}

Status timed_out(const RunContext& ctx, std::string_view waiting_for) {
  return Status::error("timed out after " + format_duration(ctx.options.timeout_ns) +
                       " waiting for " + std::string(waiting_for));
}

std::vector<Exchange> make_exchanges(const RunContext& ctx) {
  std::vector<Exchange> v(ctx.conns().size());
  const WorkloadOptions& w = ctx.workload->options();
  const uint64_t file_bytes = w.transport == Transport::kFile ? w.file_bytes : 0;
  for (size_t i = 0; i < v.size(); ++i)
    v[i].init(ctx.conns()[i], ctx.size(), ctx.options.verify, file_bytes, w.seed,
              w.role == Role::kServer);
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
