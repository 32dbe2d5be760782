// Description: the deterministic payload. Word k of a response is
// key(conn, id) ^ (k * G), where key is a full 64-bit mix of the connection
// and request and G an odd constant: every word of one response differs from
// every other (k * G is a bijection), so a byte that is lost, duplicated or
// shifted does not verify, and another response's key makes every word of
// it wrong. The per-word work is one multiply and one xor (the multiply
// strength-reduces to an add in the loops), so making and checking a 4 KiB
// response costs a small fraction of the syscalls that move it: the peer
// fills and every model verifies each byte, and neither should be what a
// measurement measures.
#include "peer/payload.h"

#include <cstring>

namespace iomodels {
namespace {

inline uint64_t payload_mix(uint64_t x) { return mix64(x); }

inline uint64_t payload_key(uint32_t conn, uint64_t id) {
  return payload_mix((static_cast<uint64_t>(conn) << 40) ^ id ^ 0x6a09e667f3bcc909ULL);
}

constexpr uint64_t kPayloadGolden =
    0x9e3779b97f4a7c15ULL;  // odd: w * kPayloadGolden is a bijection

inline uint64_t payload_word(uint64_t k, uint64_t w) { return k ^ (w * kPayloadGolden); }

}  // namespace

uint8_t payload_byte(uint32_t conn, uint64_t id, uint64_t offset) {
  const uint64_t w = payload_word(payload_key(conn, id), offset / 8);
  return static_cast<uint8_t>(w >> (8 * (offset % 8)));
}

void fill_payload(uint32_t conn, uint64_t id, uint64_t offset, uint8_t* dst, size_t n) {
  const uint64_t k = payload_key(conn, id);
  size_t i = 0;
  // Head up to a word boundary of the payload.
  while (i < n && (offset + i) % 8 != 0) {
    dst[i] = static_cast<uint8_t>(payload_word(k, (offset + i) / 8) >> (8 * ((offset + i) % 8)));
    ++i;
  }
  for (uint64_t m = (offset + i) / 8 * kPayloadGolden; i + 8 <= n; i += 8, m += kPayloadGolden) {
    const uint64_t w = k ^ m;
    std::memcpy(dst + i, &w, 8);  // little-endian byte order, as payload_byte
  }
  for (; i < n; ++i) {
    dst[i] = static_cast<uint8_t>(payload_word(k, (offset + i) / 8) >> (8 * ((offset + i) % 8)));
  }
}

size_t verify_payload(uint32_t conn, uint64_t id, uint64_t offset, const uint8_t* data, size_t n) {
  const uint64_t k = payload_key(conn, id);
  size_t i = 0;
  auto byte_at = [&](size_t j) {
    return static_cast<uint8_t>(payload_word(k, (offset + j) / 8) >> (8 * ((offset + j) % 8)));
  };
  while (i < n && (offset + i) % 8 != 0) {
    if (data[i] != byte_at(i)) return i;
    ++i;
  }
  for (uint64_t m = (offset + i) / 8 * kPayloadGolden; i + 8 <= n; i += 8, m += kPayloadGolden) {
    uint64_t got;
    std::memcpy(&got, data + i, 8);
    if (got != (k ^ m)) {
      for (size_t j = i; j < i + 8; ++j)
        if (data[j] != byte_at(j)) return j;
    }
  }
  for (; i < n; ++i)
    if (data[i] != byte_at(i)) return i;
  return n;
}

}  // namespace iomodels
