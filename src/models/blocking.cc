// Description: `blocking` (sync · blocking). One thread; for each connection
// in turn it writes the request and then blocks in read() until the whole
// response is in. While it waits, the thread sleeps in the kernel: no CPU
// burnt, but nothing else gets done either, so N connections take N waits.
#include <algorithm>
#include <vector>

#include "models/common.h"

namespace iomodels {
namespace {

class Blocking final : public Model {
 public:
  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (Status s = detail::set_nonblocking(ctx, false); !s.ok()) return s;
    ex_ = detail::make_exchanges(ctx);
    buf_.resize(std::min<size_t>(ctx.size(), detail::kReadChunk));
    return {};
  }

  Status run(uint64_t rounds) override {
    for (uint64_t r = 0; r < rounds; ++r) {
      for (Exchange& ex : ex_) {
        if (Status s = detail::send_request(*ctx_, ex); !s.ok()) return s;
        while (!ex.complete()) {
          // The thread sleeps here until the peer answers.
          const long n = detail::read_response(ex, buf_.data(), buf_.size());
          if (n <= 0) return detail::read_failed(*ctx_, ex, n);
          Status err;
          if (!ex.feed(buf_.data(), static_cast<size_t>(n), &err)) return err;
        }
        if (Status s = detail::finish(*ctx_, ex); !s.ok()) return s;
      }
    }
    return {};
  }

 private:
  RunContext* ctx_ = nullptr;
  std::vector<Exchange> ex_;
  detail::IoBuffer buf_;
};

}  // namespace

extern const ModelInfo model_blocking{
    "blocking",
    Quadrant::kSyncBlocking,
    Mechanism::kBlockingRead,
    /*coroutine=*/false,
    "one thread; per connection in turn: write the request, block in read() until it is all in",
    [] { return std::unique_ptr<Model>(new Blocking); }};

}  // namespace iomodels
