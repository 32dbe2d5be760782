// Description: a knob for testing the comparisons only (compare, ab):
// IOMODELS_TEST_SLOWDOWN=MODEL:PERCENT makes one model burn that many percent
// more CPU per request, inside the measured window, so that a known
// regression exists to be found.
#pragma once

#include <cstdint>
#include <string>

namespace iomodels {

inline constexpr const char* kSlowdownEnv = "IOMODELS_TEST_SLOWDOWN";

struct TestSlowdown {
  std::string model;  // empty: none
  double percent = 0;
};

// Parses the variable's value ("epoll:10"); nullptr or "" is no slowdown.
// False, with the reason in *why, for anything but MODEL:PERCENT with a
// percentage in (0, 1000].
bool parse_test_slowdown(const char* value, TestSlowdown* out, std::string* why);

// Spins the calling thread for `percent` of `cpu_ns` (CPU the work just
// done took), so that the work's CPU grows by that share.
void burn_cpu_share(uint64_t cpu_ns, double percent);

}  // namespace iomodels
