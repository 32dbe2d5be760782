// Description: a libFuzzer target for the peer's request parser: arbitrary
// bytes, cut into reads at arbitrary points, through the request assembler
// and the hello a token asks for. Beyond "no crash, no UB", it checks that
// requests come out whole and in order, however the reads were cut, and
// that with a token nothing is served before the right hello.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "peer/core.h"

using namespace iomodels;
using detail::Hello;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first byte: whether the peer has a token; the second: how the rest
  // is cut into reads.
  const std::string token = (data[0] & 1) != 0 ? "sesame" : "";
  uint32_t cut = data[1] | 1u;
  data += 2;
  size -= 2;

  detail::RequestAssembler in;
  Hello hello;
  size_t seen = 0;  // requests delivered so far
  bool acked = false, refused = false;
  auto on_request = [&](const Request& rq) {
    // Whole, and in order: request k is bytes [16k, 16k + 16) of the input.
    if (std::memcmp(&rq, data + seen * kRequestBytes, kRequestBytes) != 0) std::abort();
    ++seen;
    if (refused) std::abort();  // nothing after a refusal
    switch (hello.take(rq, token)) {
      case Hello::Verdict::kServe:
        if (!token.empty() && !acked) std::abort();  // served before the hello
        (void)detail::PeerCore::valid_size(rq.size);
        return true;
      case Hello::Verdict::kConsumed:
        return true;
      case Hello::Verdict::kAck:
        if (acked) std::abort();  // one hello per connection
        acked = true;
        return true;
      case Hello::Verdict::kRefuse:
        refused = true;
        return false;  // the loop closes the connection
    }
    std::abort();
  };
  size_t off = 0;
  while (off < size && !refused) {
    const size_t n = std::min<size_t>(size - off, cut % 61 + 1);
    cut = cut * 1103515245u + 12345u;
    if (!in.feed(data + off, n, on_request)) break;
    off += n;
  }
  if (!refused && seen != size / kRequestBytes) std::abort();  // every whole request came out
  return 0;
}
