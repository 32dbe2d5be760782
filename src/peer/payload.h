// Description: the wire protocol between a model and the peer: a 16-byte
// request, and a response payload that is a deterministic function of
// (connection, request id, offset), so every byte can be verified.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iomodels {

struct Request {
  uint32_t conn;  // the connection's index, or kControlConn
  uint32_t size;  // response bytes wanted, 1..kMaxResponseBytes
  uint64_t id;    // request id (for kControlConn: a ControlCommand)
};
static_assert(sizeof(Request) == 16);
inline constexpr size_t kRequestBytes = sizeof(Request);
inline constexpr uint32_t kMaxResponseBytes = 1u << 20;
inline constexpr uint32_t kMaxConnections = 10'000;

// A request on this "connection" asks the peer for its statistics instead.
inline constexpr uint32_t kControlConn = 0xFFFFFFFFu;
// The file transport's data file holds the payload of (kFileDataConn, 0):
// byte o of the file is payload byte o, so a read at the wrong offset fails
// verification as surely as a wrong byte.
inline constexpr uint32_t kFileDataConn = 0xFFFFFFFEu;
// The first request on a connection to a peer that asks for a token (hello.h).
inline constexpr uint32_t kHelloConn = 0xFFFFFFFDu;
enum class ControlCommand : uint64_t { kStats = 1, kStatsAndReset = 2 };

// splitmix64's finaliser: a good 64-bit mix in a few multiplications. The
// payload's words and the file transport's offsets are drawn with it.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Writes bytes [offset, offset + n) of the payload of (conn, id).
void fill_payload(uint32_t conn, uint64_t id, uint64_t offset, uint8_t* dst, size_t n);
// Compares `data` with bytes [offset, offset + n) of that payload; returns the
// index of the first wrong byte, or n when all are right.
size_t verify_payload(uint32_t conn, uint64_t id, uint64_t offset, const uint8_t* data, size_t n);
// The single expected byte at `offset` (for error messages).
uint8_t payload_byte(uint32_t conn, uint64_t id, uint64_t offset);

}  // namespace iomodels
