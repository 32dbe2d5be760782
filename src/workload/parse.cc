// Description: the user-input parsers (durations, sizes, latency specs).
#include "workload/parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace iomodels {
namespace {

constexpr uint64_t kHourNs = 3600ull * 1'000'000'000ull;

// Splits "12.5ms" into a number and a unit; the number is digits with at most one dot.
bool split_number(std::string_view t, double* value, std::string_view* unit, std::string* why) {
  size_t i = 0;
  bool digits = false, dot = false;
  while (i < t.size()) {
    const char c = t[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++i;
  }
  if (!digits) {
    *why = "'" + std::string(t) + "' does not start with a non-negative number";
    return false;
  }
  if (i > 24) {
    *why = "'" + std::string(t) + "' is too long";
    return false;
  }
  const std::string num(t.substr(0, i));
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(v)) {
    *why = "'" + std::string(t) + "' is not a number";
    return false;
  }
  *value = v;
  *unit = t.substr(i);
  return true;
}

}  // namespace

bool parse_duration(std::string_view text, uint64_t* ns, std::string* why) {
  if (text == "0") {
    *ns = 0;
    return true;
  }
  double v;
  std::string_view unit;
  if (!split_number(text, &v, &unit, why)) return false;
  double scale;
  if (unit == "ns") {
    scale = 1;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "s") {
    scale = 1e9;
  } else {
    *why = unit.empty() ? "'" + std::string(text) + "' needs a unit: ns, us, ms or s"
                        : "'" + std::string(text) + "' has an unknown unit '" + std::string(unit) +
                              "' (use ns, us, ms or s)";
    return false;
  }
  const double total = v * scale;
  if (!(total <= static_cast<double>(kHourNs))) {
    *why = "'" + std::string(text) + "' is longer than the limit of 1 hour";
    return false;
  }
  // Nanoseconds are the resolution: 0.4ns is not silently 0, nor 1.5ns 2.
  // (A tolerance absorbs the binary rounding of decimal fractions: 0.1us.)
  if (std::fabs(total - std::round(total)) > std::max(1e-6, total * 1e-13)) {
    *why = "'" + std::string(text) + "' is not a whole number of nanoseconds";
    return false;
  }
  *ns = static_cast<uint64_t>(std::llround(total));
  return true;
}

bool parse_size(std::string_view text, uint64_t* bytes, std::string* why) {
  double v;
  std::string_view unit;
  if (!split_number(text, &v, &unit, why)) return false;
  double scale;
  if (unit.empty() || unit == "B" || unit == "b") {
    scale = 1;
  } else if (unit == "K" || unit == "k" || unit == "KiB" || unit == "KB" || unit == "kB") {
    scale = 1024.0;
  } else if (unit == "M" || unit == "MiB" || unit == "MB") {
    scale = 1024.0 * 1024;
  } else if (unit == "G" || unit == "GiB" || unit == "GB") {
    scale = 1024.0 * 1024 * 1024;
  } else if (unit == "T" || unit == "TiB" || unit == "TB") {
    scale = 1024.0 * 1024 * 1024 * 1024;
  } else {
    *why = "'" + std::string(text) + "' has an unknown unit '" + std::string(unit) +
           "' (use B, KiB, MiB, GiB or TiB)";
    return false;
  }
  const double total = v * scale;
  if (total != std::floor(total)) {
    *why = "'" + std::string(text) + "' is not a whole number of bytes";
    return false;
  }
  if (!(total < 1e15)) {
    *why = "'" + std::string(text) + "' is too large";
    return false;
  }
  if (total < 1) {
    *why = "'" + std::string(text) + "' must be at least 1 byte";
    return false;
  }
  *bytes = static_cast<uint64_t>(total);
  return true;
}

bool parse_count(std::string_view text, uint64_t lo, uint64_t hi, uint64_t* out, std::string* why) {
  uint64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    *why = "'" + std::string(text) + "' is not a whole number";
    return false;
  }
  if (v < lo || v > hi) {
    *why =
        "'" + std::string(text) + "' is outside " + std::to_string(lo) + ".." + std::to_string(hi);
    return false;
  }
  *out = v;
  return true;
}

bool parse_latency(std::string_view text, LatencySpec* out, std::string* why) {
  LatencySpec s;
  auto prefixed = [&](std::string_view p) {
    return text.size() > p.size() && text.substr(0, p.size()) == p;
  };
  if (prefixed("uniform:")) {
    const std::string_view range = text.substr(8);
    const size_t dash = range.find('-');
    if (dash == std::string_view::npos) {
      *why = "'" + std::string(text) + "' must look like uniform:A-B, e.g. uniform:100us-2ms";
      return false;
    }
    std::string part_why;
    if (dash == 0 || dash + 1 == range.size() ||
        !parse_duration(range.substr(0, dash), &s.a_ns, &part_why) ||
        !parse_duration(range.substr(dash + 1), &s.b_ns, &part_why)) {
      *why = "'" + std::string(text) + "' must look like uniform:A-B with A and B durations, " +
             "e.g. uniform:100us-2ms" + (part_why.empty() ? "" : " (" + part_why + ")");
      return false;
    }
    if (s.a_ns > s.b_ns) {
      *why = "'" + std::string(text) + "': the low bound is above the high bound";
      return false;
    }
    s.kind = LatencySpec::Kind::kUniform;
  } else if (prefixed("exp:")) {
    if (!parse_duration(text.substr(4), &s.a_ns, why)) return false;
    s.kind = s.a_ns == 0 ? LatencySpec::Kind::kZero : LatencySpec::Kind::kExp;
  } else {
    if (!parse_duration(text, &s.a_ns, why)) return false;
    s.kind = s.a_ns == 0 ? LatencySpec::Kind::kZero : LatencySpec::Kind::kFixed;
  }
  *out = s;
  return true;
}

bool parse_host_port(std::string_view text, std::string* host, uint16_t* port, std::string* why) {
  size_t colon;
  std::string h;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *why = "'" + std::string(text) + "' must look like [IPV6]:PORT";
      return false;
    }
    h = std::string(text.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      *why = "'" + std::string(text) + "' must look like HOST:PORT, e.g. 127.0.0.1:7000";
      return false;
    }
    h = std::string(text.substr(0, colon));
    // "::1" would otherwise read as host ":" and port 1.
    if (h.find(':') != std::string::npos) {
      *why = "'" + std::string(text) + "': an IPv6 address needs brackets, e.g. [::1]:7000";
      return false;
    }
  }
  uint64_t p;
  if (!parse_count(text.substr(colon + 1), 0, 65535, &p, why)) {
    *why = "port " + *why;
    return false;
  }
  *host = h;
  *port = static_cast<uint16_t>(p);
  return true;
}

bool parse_peer_list(std::string_view peers, const std::string& tokens,
                     std::vector<PeerAddress>* out, std::string* why) {
  std::vector<PeerAddress> list;
  for (size_t pos = 0; pos <= peers.size();) {
    const size_t comma = std::min(peers.find(',', pos), peers.size());
    PeerAddress a;
    a.text = std::string(peers.substr(pos, comma - pos));
    if (!parse_host_port(a.text, &a.host, &a.port, why)) return false;
    for (const PeerAddress& b : list) {
      if (b.text == a.text) {
        *why = "'" + a.text + "' is given twice";
        return false;
      }
    }
    list.push_back(std::move(a));
    pos = comma + 1;
  }
  // One token each only when there are exactly as many parts as peers; else
  // the same token (which may hold a comma) for all.
  std::vector<std::string> parts;
  for (size_t pos = 0; pos <= tokens.size();) {
    const size_t comma = std::min(tokens.find(',', pos), tokens.size());
    parts.emplace_back(tokens.substr(pos, comma - pos));
    pos = comma + 1;
  }
  const bool each = list.size() > 1 && parts.size() == list.size();
  for (size_t i = 0; i < list.size(); ++i) list[i].token = each ? parts[i] : tokens;
  if (out != nullptr) *out = std::move(list);
  return true;
}

std::string format_duration(uint64_t ns) {
  char buf[32];
  if (ns < 1000) {
    std::snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(ns));
  } else if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%gus", static_cast<double>(ns) / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%gms", static_cast<double>(ns) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(ns) / 1e9);
  }
  return buf;
}

}  // namespace iomodels
