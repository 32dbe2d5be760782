// Description: the io_uring completion loop shared by the `uring*` models.
#include "models/uring_proactor.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "models/common.h"

namespace iomodels::detail {

namespace {
constexpr size_t kMaxResponseMemory = size_t{1} << 30;
}  // namespace

Status UringProactor::setup(RunContext& ctx) {
  ctx_ = &ctx;
  // Blocking fds: io_uring waits for them itself (it polls internally); on an
  // O_NONBLOCK pipe a READ would complete with -EAGAIN instead.
  if (Status s = set_nonblocking(ctx, false); !s.ok()) return s;
  ex_ = make_exchanges(ctx);
  conns_.assign(ex_.size(), Conn{});
  server_ = ctx.workload->options().role == Role::kServer;
  chunk_ = std::max<uint32_t>(std::min(ctx.size(), kUringChunkBytes), sizeof(Request));
  const size_t n = ex_.size();
  send_bytes_ = server_ ? ctx.size() : static_cast<uint32_t>(sizeof(Request));
  if (server_ && n * send_bytes_ > kMaxResponseMemory)
    return Status::not_applicable(
        "the server role keeps a response buffer per connection in the ring's memory, and " +
        std::to_string(n) + " x " + std::to_string(send_bytes_) + " bytes is over 1 GiB");
  recv_base_ = (n * send_bytes_ + 4095) / 4096 * 4096;
  // Aligned (IoBuffer), and each receive buffer starts at a multiple of the
  // chunk, which --direct makes a multiple of 4 KiB: O_DIRECT reads need both.
  mem_.resize(recv_base_ + (own_recv_buffers() ? n * chunk_ : 0));

  if (Status s = ring_.init(ring_options_for(n, ring_options())); !s.ok()) return s;
  // Successful sends then post no CQE: a sweep's wait is woken by incoming
  // messages only. Were every response's send to post one, each request
  // would cost a second enter, the send's CQE ending the wait it was
  // submitted with (in the server role at 5,000 requests/s, 64 socketpair x
  // 4 KiB: 13.5 us of CPU per request against 11.1 with them skipped). The
  // server role awaits only each connection's last response of a run, so a
  // run ends when its responses are out, even where a kernel thread
  // (SQPOLL) submits them.
  skip_success_ = ring_.can_skip_success();
  for (Conn& c : conns_) c.await_send = !skip_success_;
  batch_wait_ = ring_.can_batch_wait() && batch_wait_wanted();
  if (is_file() && !ex_.empty()) file_reads_ = file_reads_text(ex_[0].rfd());
  return prepare();
}

std::vector<Model::Fact> UringProactor::facts() const { return uring_facts(ring_, file_reads_); }

Status UringProactor::run(uint64_t rounds) {
  if (!broken_.ok()) return broken_;
  if (rounds == 0) return {};
  active_ = ex_.size();
  for (uint32_t i = 0; i < ex_.size(); ++i) {
    conns_[i].left = rounds;
    if (Status s = start_request(i); !s.ok()) return broken_ = s;
    if (!conns_[i].early.empty()) {
      const std::vector<uint8_t> early = std::move(conns_[i].early);
      conns_[i].early.clear();
      if (Status s = take(i, early.data(), early.size()); !s.ok()) return broken_ = s;
    }
  }
  const uint64_t timeout = ctx_->options.timeout_ns;
  uint64_t last_progress = now_ns();
  // Receives the last sweep reaped: where the batch wait is wanted (the
  // ladder's batch-wait step), it is asked for only while they come in
  // bunches (kBatchFrom or more; sends' completions, which follow the loop's
  // own submissions, are not counted). Its timer wakes the thread once more
  // per enter, a cost that falls on every request where they come one by one.
  unsigned last_reaped = 0;
  constexpr unsigned kBatchFrom = 4;
  while (active_ > 0 || sends_awaited_ > 0) {
    const uint64_t waited = now_ns() - last_progress;
    if (waited >= timeout) return broken_ = timed_out(*ctx_, "io_uring completions");
    // The sweep's one syscall: submit everything queued and sleep until a
    // completion is there (a batch of them, if the kernel can bound the wait),
    // or the rest of the timeout is gone.
    const auto wait_nr = static_cast<unsigned>(
        batch_wait_ && last_reaped >= kBatchFrom ? std::max<uint64_t>(active_, 1) : 1);
    const long r = ring_.enter(wait_nr, timeout - waited, kUringBatchWaitUs);
    // ETIME, EINTR: loop and check the clock. EBUSY/EAGAIN: the kernel wants
    // the CQ reaped before it takes more.
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
      return broken_ = Status::from_errno(r, "io_uring_enter");
    unsigned reaped = 0;
    recvs_reaped_ = 0;
    Status s = ring_.reap([this](const io_uring_cqe& c) { return on_completion(c); }, &reaped);
    if (!s.ok()) return broken_ = s;
    if (reaped > 0) last_progress = now_ns();
    last_reaped = recvs_reaped_;
  }
  // The server role's last responses may be queued still (a send whose
  // success posts no CQE is not waited for): submit them.
  const long r = ring_.enter(0, 0);
  if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN)
    return broken_ = Status::from_errno(r, "io_uring_enter");
  return {};
}

Status UringProactor::start_request(uint32_t i) {
  const Request& rq = begin_request(*ctx_, ex_[i]);
  if (is_file()) return queue_recv(i);  // on a file the read is the request
  // The server role: the peer sends the request; receive it.
  if (server_) return conns_[i].recv_armed ? Status() : queue_recv(i);
  std::memcpy(send_slot(i), &rq, sizeof rq);
  conns_[i].sent = 0;
  if (Status s = queue_send(i); !s.ok()) return s;
  // A multishot receive stays armed from the last response.
  return conns_[i].recv_armed ? Status() : queue_recv(i);
}

Status UringProactor::queue_send(uint32_t i) {
  Status err;
  io_uring_sqe* sqe = ring_.sqe(&err);
  if (sqe == nullptr) return err;
  Conn& c = conns_[i];
  prep_send(sqe, i, send_slot(i) + c.sent, send_bytes_ - c.sent);
  io_uring_sqe_set_data64(sqe, token(i, Op::kSend));
  // The kernel takes no CQE_SKIP_SUCCESS on a zero-copy send (EINVAL).
  // Its buffer is held until its notification; the next response waits.
  if (sqe->opcode == IORING_OP_SEND_ZC) c.await_send = c.sending = true;
  if (skip_success_ && !c.await_send)
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;  // a failed or short send still posts one
  else
    ++sends_awaited_;
  return {};
}

Status UringProactor::queue_recv(uint32_t i) {
  Status err;
  io_uring_sqe* sqe = ring_.sqe(&err);
  if (sqe == nullptr) return err;
  const unsigned n = std::min(ex_[i].remaining(), chunk_);
  prep_recv(sqe, i, own_recv_buffers() ? recv_slot(i) : nullptr, n, ex_[i].next_offset());
  io_uring_sqe_set_data64(sqe, token(i, Op::kRecv));
  conns_[i].recv_armed = true;
  return {};
}

Status UringProactor::on_completion(const io_uring_cqe& cqe) {
  const auto i = static_cast<uint32_t>(cqe.user_data >> 1);
  if (i >= ex_.size())
    return Status::error("io_uring: a completion with an unknown token " +
                         std::to_string(cqe.user_data));
  return (cqe.user_data & 1) != 0 ? on_recv(i, cqe) : on_send(i, cqe);
}

Status UringProactor::on_send(uint32_t i, const io_uring_cqe& cqe) {
  Conn& c = conns_[i];
  if ((cqe.flags & IORING_CQE_F_NOTIF) != 0) {
    // A zero-copy send's buffer is the program's again.
    --sends_awaited_;
    --c.zc_held;
    return resume_respond(i);
  }
  // A send with CQE_SKIP_SUCCESS posts one only when it failed or fell short.
  if (c.await_send) --sends_awaited_;
  if ((cqe.flags & IORING_CQE_F_MORE) != 0) {
    // A zero-copy send: its notification is still to come.
    ++sends_awaited_;
    ++c.zc_held;
  }
  // EPIPE or ECONNRESET: the peer is gone.
  if (cqe.res <= 0) return read_failed(*ctx_, ex_[i], cqe.res == 0 ? -EIO : cqe.res);
  c.sent += static_cast<uint32_t>(cqe.res);
  if (c.sent > send_bytes_)
    return Status::error(ex_[i].where() + ": the kernel sent more bytes than given");
  if (c.sent < send_bytes_) return queue_send(i);  // short: send the rest
  c.sending = false;
  c.await_send = !skip_success_;
  return resume_respond(i);
}

Status UringProactor::resume_respond(uint32_t i) {
  Conn& c = conns_[i];
  if (!c.respond_waiting || c.sending || c.zc_held > 0) return {};
  c.respond_waiting = false;
  return send_response(i, c.respond_id, c.respond_last);
}

Status UringProactor::respond(uint32_t i) {
  // Called before finished(): left counts this request still.
  return send_response(i, ex_[i].id(), conns_[i].left == 1);
}

Status UringProactor::send_response(uint32_t i, uint64_t id, bool last) {
  // The response goes out through the ring with the next enter. The peer
  // sends this connection's next request only once it has the whole
  // response; yet the last send's completion may be reaped after that
  // request (its CQE posted late, as with SQPOLL), and a zero-copy send may
  // hold the slot's pages a little longer still: the slot is rewritten, and
  // the count of bytes sent restarted, only once both are in. Meanwhile the
  // exchange moves on to the next request, so the response waits by its id.
  Conn& c = conns_[i];
  if (c.sending || c.zc_held > 0) {
    c.respond_waiting = true;
    c.respond_id = id;
    c.respond_last = last;
    return {};
  }
  ex_[i].fill_response_to(id, send_slot(i));
  c.sent = 0;
  // Without a CQE on success there is nothing to wait for: the peer sends
  // the next request only once it has this response whole, so by then the
  // kernel is done with the slot.
  c.await_send = !skip_success_ || last;
  c.sending = c.await_send;
  return queue_send(i);
}

Status UringProactor::finished(uint32_t i) {
  finish_sent(*ctx_, ex_[i]);
  if (--conns_[i].left == 0) {
    --active_;
    return {};
  }
  return start_request(i);
}

Status UringProactor::on_recv(uint32_t i, const io_uring_cqe& cqe) {
  Conn& c = conns_[i];
  Exchange& ex = ex_[i];
  ++recvs_reaped_;
  // Without IORING_CQE_F_MORE the receive is over (one-shot, or a multishot one ended).
  c.recv_armed = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (cqe.res == -ENOBUFS) {
    // The provided buffers ran out and the kernel ended the multishot
    // receive. This sweep's buffers go back before the re-arm is submitted.
    return c.recv_armed ? Status() : queue_recv(i);
  }
  if (cqe.res <= 0) return read_failed(*ctx_, ex, cqe.res);  // EOF, ECONNRESET, ...
  Status s;
  size_t left = static_cast<size_t>(cqe.res);
  for (unsigned k = 0; left > 0 && s.ok(); ++k) {
    const uint8_t* p = received(i, cqe, k);
    const size_t n = std::min(left, piece_bytes());
    left -= n;
    if (c.left == 0)
      c.early.insert(c.early.end(), p, p + n);  // done with this run: kept for the next
    else
      s = take(i, p, n);
  }
  recycle(cqe);
  return s;
}

Status UringProactor::take(uint32_t i, const uint8_t* p, size_t n) {
  Conn& c = conns_[i];
  Exchange& ex = ex_[i];
  Status err;
  if (!ex.feed(p, n, &err)) return err;
  if (ex.complete()) {
    if (server_) {
      if (Status s = respond(i); !s.ok()) return s;
    }
    return finished(i);
  }
  return c.recv_armed ? Status() : queue_recv(i);  // a partial response: receive the rest
}

void UringProactor::prep_send(io_uring_sqe* sqe, uint32_t i, const uint8_t* p, unsigned n) {
  const int fd = ex_[i].wfd();
  if (is_socket())
    // MSG_WAITALL: the kernel retries a short send itself instead of
    // reporting it as a success (which CQE_SKIP_SUCCESS would hide).
    // MSG_NOSIGNAL: a dead peer is -EPIPE in the CQE, not a SIGPIPE.
    io_uring_prep_send(sqe, fd, p, n, MSG_WAITALL | MSG_NOSIGNAL);
  else
    io_uring_prep_write(sqe, fd, p, n, 0);  // a pipe ignores the offset
}

void UringProactor::prep_recv(io_uring_sqe* sqe, uint32_t i, uint8_t* p, unsigned n, uint64_t off) {
  const int fd = ex_[i].rfd();
  if (is_socket())
    io_uring_prep_recv(sqe, fd, p, n, 0);
  else
    io_uring_prep_read(sqe, fd, p, n, is_file() ? off : 0);  // a pipe ignores the offset
}

}  // namespace iomodels::detail
