// Description: the hello that a client of a network-facing peer sends first
// on every connection, public because frontends check a token's length
// against it and test clients speak it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iomodels {

// One Request {kHelloConn, kHelloVersion, kHelloMagic} (payload.h), then the
// token in kHelloTokenBytes, zero-padded. The peer answers with the
// kHelloAckBytes of payload (kHelloConn, 0), or closes the connection.
inline constexpr uint32_t kHelloVersion = 1;
inline constexpr uint64_t kHelloMagic = 0x696f6d6f6468656cULL;  // "iomodhel"
inline constexpr size_t kHelloTokenBytes = 32;
inline constexpr uint32_t kHelloAckBytes = 16;

}  // namespace iomodels
