// Description: IOMODELS_TEST_SLOWDOWN parsed, and the CPU it burns.
#include "run/slowdown.h"

#include <cstdlib>

#include "measure/recorder.h"

namespace iomodels {

bool parse_test_slowdown(const char* value, TestSlowdown* out, std::string* why) {
  *out = {};
  if (value == nullptr || *value == 0) return true;
  const std::string v = value;
  const size_t colon = v.rfind(':');
  char* end = nullptr;
  const double pct = colon == std::string::npos ? 0 : std::strtod(v.c_str() + colon + 1, &end);
  if (colon == std::string::npos || colon == 0 || end == v.c_str() + colon + 1 || *end != 0 ||
      !(pct > 0 && pct <= 1000)) {
    *why = "'" + v + "' must be MODEL:PERCENT, a percentage in (0, 1000]";
    return false;
  }
  out->model = v.substr(0, colon);
  out->percent = pct;
  return true;
}

void burn_cpu_share(uint64_t cpu_ns, double percent) {
  const auto extra_ns = static_cast<uint64_t>(static_cast<double>(cpu_ns) * percent / 100);
  const uint64_t end = thread_cpu_ns() + extra_ns;
  while (thread_cpu_ns() < end) {
  }
}

}  // namespace iomodels
