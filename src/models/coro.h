// Description: the C++20 coroutine machinery behind `coro-epoll` and
// `coro-uring`: a Task (one coroutine per connection, lazily started, its
// Status handed to a TaskGroup when it ends), a frame cache so steady-state
// runs allocate nothing, and client_loop, the one request/response loop both
// backends run, written as if it were blocking code.
//
// A backend supplies a connection handle `Conn` with two awaitables:
//   co_await conn.send(p, n)  -> long: bytes taken, or -errno
//   co_await conn.recv(p, n)  -> long: bytes received, 0 at EOF, or -errno
// and a scheduler (its event loop) that resumes a suspended coroutine when its
// operation is done. The awaitables report errors as values: no exceptions.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <utility>
#include <vector>

#include "measure/recorder.h"
#include "measure/trace.h"
#include "models/common.h"
#include "models/model.h"
#include "workload/exchange.h"

namespace iomodels::detail {

// Coroutine frames of the last size freed are kept on a per-thread free list
// and reused, so after the first run() a model's coroutines cost no malloc.
void* coro_frame_alloc(size_t n);
void coro_frame_free(void* p, size_t n) noexcept;

// The coroutines of one run(): how many are still running and the first error.
struct TaskGroup {
  size_t running = 0;
  Status error;
};

// A coroutine that returns a Status. It starts suspended; start() runs it up
// to its first suspension; when it ends it reports to its group and stays
// suspended at its final point until the Task (its owner) destroys it.
class Task {
 public:
  struct promise_type {
    Status result;
    TaskGroup* group = nullptr;

    static void* operator new(size_t n) { return coro_frame_alloc(n); }
    static void operator delete(void* p, size_t n) noexcept { coro_frame_free(p, n); }

    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        promise_type& p = h.promise();
        --p.group->running;
        if (!p.result.ok() && p.group->error.ok()) p.group->error = std::move(p.result);
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void return_value(Status s) { result = std::move(s); }
    // Nothing in a connection's loop throws on purpose; a bad_alloc is fatal.
    void unhandled_exception() noexcept { std::terminate(); }
  };

  Task() = default;
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { destroy(); }

  // Runs the coroutine until it first waits (or ends), counted in `g`.
  void start(TaskGroup* g) {
    h_.promise().group = g;
    ++g->running;
    h_.resume();
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}
  // Destroying a suspended coroutine is safe: its locals are destroyed at the
  // suspension point. The backend must no longer hold its handle.
  void destroy() {
    if (h_) h_.destroy();
    h_ = {};
  }

  std::coroutine_handle<promise_type> h_;
};

// One connection's `rounds` requests, the way blocking code would write them.
// `buf` is where responses are received; every receive asks for all of it,
// so a response that arrives whole takes one receive, and a peer that sends
// more than it was asked for is caught by Exchange::feed.
template <typename Conn>
Task client_loop(const RunContext& ctx, Exchange& ex, Conn conn, std::span<uint8_t> buf,
                 uint64_t rounds) {
  for (uint64_t k = 0; k < rounds; ++k) {
    const Request& rq = begin_request(ctx, ex);
    const auto* p = reinterpret_cast<const uint8_t*>(&rq);
    // On the file transport the read is the request: nothing to send; in
    // the server role the peer sends it.
    for (size_t sent = ex.file() || ex.server() ? sizeof rq : 0; sent < sizeof rq;) {
      const long n = co_await conn.send(p + sent, sizeof rq - sent);
      if (n <= 0) co_return read_failed(ctx, ex, n == 0 ? -EIO : n);
      sent += static_cast<size_t>(n);
    }
    while (!ex.complete()) {
      // A file holds more than the response: ask for the rest of it only.
      const size_t want =
          ex.file() || ex.server() ? std::min<size_t>(ex.remaining(), buf.size()) : buf.size();
      const long n = co_await conn.recv(buf.data(), want);
      if (n <= 0) co_return read_failed(ctx, ex, n);
      Status err;
      if (!ex.feed(buf.data(), static_cast<size_t>(n), &err)) co_return err;
    }
    // The server role: the response, sent the way this backend sends.
    if (ex.server()) {
      const std::span<const uint8_t> out = ex.make_response();
      for (size_t sent = 0; sent < out.size();) {
        const long n = co_await conn.send(out.data() + sent, out.size() - sent);
        if (n <= 0) co_return read_failed(ctx, ex, n == 0 ? -EIO : n);
        sent += static_cast<size_t>(n);
      }
    }
    finish_sent(ctx, ex);
  }
  co_return Status();
}

}  // namespace iomodels::detail
