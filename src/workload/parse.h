// Description: parsers for the values users type: durations ("250us", "1.5ms",
// "0"), sizes ("4096", "4KiB", "1M"), latency distributions ("exp:1ms") and
// counts. Each returns false and a one-line reason on bad input; none throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "peer/latency.h"

namespace iomodels {

// Durations: a non-negative decimal number with a unit ns, us, ms or s; "0"
// alone needs no unit. At most one hour.
bool parse_duration(std::string_view text, uint64_t* ns, std::string* why);
// Sizes: a positive integer with an optional unit B, K/KiB, M/MiB, G/GiB
// (binary multiples; "k" and "KB" are accepted as KiB too).
bool parse_size(std::string_view text, uint64_t* bytes, std::string* why);
bool parse_latency(std::string_view text, LatencySpec* out, std::string* why);
// A positive integer in [lo, hi].
bool parse_count(std::string_view text, uint64_t lo, uint64_t hi, uint64_t* out, std::string* why);
// "HOST:PORT" (IPv4 or [IPv6]); port 0..65535 (0 = any, for listening).
bool parse_host_port(std::string_view text, std::string* host, uint16_t* port, std::string* why);

// One remote peer of a run: where it listens and the token it asks for.
struct PeerAddress {
  std::string text;  // as given: "HOST:PORT"
  std::string host;
  uint16_t port = 0;
  std::string token;
};
// "A:PORT,B:PORT,...": one or more peers, each HOST:PORT (port 1..65535),
// no two the same. `tokens` is one token for every peer, or, with several
// peers, one per peer when it holds exactly as many comma-separated parts.
// `out` may be null (validation only).
bool parse_peer_list(std::string_view peers, const std::string& tokens,
                     std::vector<PeerAddress>* out, std::string* why);

// "1.50 ms", "250 us": a short human rendering of nanoseconds.
std::string format_duration(uint64_t ns);

}  // namespace iomodels
