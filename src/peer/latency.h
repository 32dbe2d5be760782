// Description: the peer's response latency, a distribution it draws one
// think time per request from. Defined in this header alone, so that the
// input parsers above it (and their fuzz target) need no library to link.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace iomodels {

namespace detail {

// A duration as text, exact: LatencySpec::text() must parse back to the
// same nanoseconds (a display rounding to 6 significant digits would turn
// 1234567ns into 1.23457ms). 15 significant digits cover the 13 of an hour
// in nanoseconds.
inline std::string exact_duration(uint64_t ns) {
  char buf[48];
  if (ns < 1000) {
    std::snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(ns));
  } else if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.15gus", static_cast<double>(ns) / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.15gms", static_cast<double>(ns) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.15gs", static_cast<double>(ns) / 1e9);
  }
  return buf;
}

}  // namespace detail

// The peer's response latency: 0, fixed, uniform:A-B or exp:MEAN.
struct LatencySpec {
  enum class Kind { kZero, kFixed, kUniform, kExp };
  Kind kind = Kind::kZero;
  uint64_t a_ns = 0;  // fixed value, uniform low bound, or exponential mean
  uint64_t b_ns = 0;  // uniform high bound

  // Draws one latency; `u` is uniform in [0, 1).
  uint64_t sample(double u) const {
    switch (kind) {
      case Kind::kZero:
        return 0;
      case Kind::kFixed:
        return a_ns;
      case Kind::kUniform:
        return a_ns + static_cast<uint64_t>(u * static_cast<double>(b_ns - a_ns));
      case Kind::kExp:
        return static_cast<uint64_t>(-std::log1p(-u) * static_cast<double>(a_ns));
    }
    return 0;
  }
  // The largest latency it can draw (exp: its 99.99th percentile).
  uint64_t bound_ns() const {
    switch (kind) {
      case Kind::kZero:
        return 0;
      case Kind::kFixed:
        return a_ns;
      case Kind::kUniform:
        return b_ns;
      case Kind::kExp:
        return static_cast<uint64_t>(9.21 * static_cast<double>(a_ns));  // -ln(1e-4)
    }
    return 0;
  }
  // Canonical text, as accepted by parse_latency ("0", "1ms", "uniform:100us-2ms").
  std::string text() const {
    switch (kind) {
      case Kind::kZero:
        return "0";
      case Kind::kFixed:
        return detail::exact_duration(a_ns);
      case Kind::kUniform:
        return "uniform:" + detail::exact_duration(a_ns) + "-" + detail::exact_duration(b_ns);
      case Kind::kExp:
        return "exp:" + detail::exact_duration(a_ns);
    }
    return "0";
  }
  // Whole microseconds of the typical value, for benchmark names.
  uint64_t typical_us() const {
    return kind == Kind::kUniform ? (a_ns + b_ns) / 2000 : a_ns / 1000;
  }
  // The benchmark name's latency part: "lat_us:1000" for a constant (and 0),
  // then "/jitter:uniform:500-1500" (bounds in whole microseconds) or
  // "/jitter:exp" for a distribution, so that a constant and a jittered
  // latency of one typical value never share a name.
  std::string name_part() const {
    std::string s = "lat_us:" + std::to_string(typical_us());
    if (kind == Kind::kUniform)
      s += "/jitter:uniform:" + std::to_string(a_ns / 1000) + "-" + std::to_string(b_ns / 1000);
    else if (kind == Kind::kExp)
      s += "/jitter:exp";
    return s;
  }
};

}  // namespace iomodels
