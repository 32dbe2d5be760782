// Description: the peer's batch writer: responses that fall due together
// leave in one io_uring_enter, one IORING_OP_WRITE each, instead of one
// write() each. Each write() that wakes a client lets the client preempt the
// peer on the way back to user space (measured on a 2-vCPU VM: ~20 us per
// response, and the next one waits); a batch gives the client the CPU once,
// after every response is out. Where io_uring is refused (seccomp, sysctl,
// an old kernel) init() says why and the peer writes with write().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sys/uring.h"

namespace iomodels::detail {

class BatchWriter {
 public:
  // Room for `max_writes` writes of together up to `arena_bytes` per batch.
  // False, with the reason, if io_uring cannot be used here.
  bool init(unsigned max_writes, size_t arena_bytes, std::string* why);
  bool live() const { return live_; }

  // A buffer of n bytes for one write to fd, to be filled before submit();
  // nullptr when the batch is full (submit first). `tag` comes back with the
  // result.
  uint8_t* add(int fd, size_t n, uint64_t tag);
  size_t size() const { return tags_.size(); }

  // Submits the batch in one io_uring_enter and collects every result: the
  // descriptors are non-blocking, so each write completes during the enter
  // (bytes written, -EAGAIN or an error). Calls done(tag, result) for each, in
  // the order added; result kNotWritten means the write was not made (io_uring
  // failed: the writer has closed itself, and the caller uses write()).
  static constexpr long kNotWritten = -1'000'000;
  template <typename F>
  void submit(F&& done) {
    if (tags_.empty()) return;
    run();
    for (size_t i = 0; i < tags_.size(); ++i) done(tags_[i], results_[i]);
    tags_.clear();
    used_ = 0;
  }

 private:
  void run();

  sys::Ring ring_;
  bool live_ = false;
  unsigned max_writes_ = 0;
  std::vector<uint8_t> arena_;
  size_t used_ = 0;
  std::vector<uint64_t> tags_;
  std::vector<long> results_;
};

}  // namespace iomodels::detail
