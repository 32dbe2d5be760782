// Description: a libFuzzer target for the parsers of user input (durations,
// sizes, counts, latency specs, HOST:PORT). Beyond "no crash, no UB", it
// checks invariants: accepted values are in range, and a latency's canonical
// text parses back to the same distribution.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "workload/parse.h"

using namespace iomodels;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;

  uint64_t ns = 0;
  if (parse_duration(text, &ns, &why)) {
    if (ns > 3600ull * 1'000'000'000ull) std::abort();  // the documented one-hour limit
  } else if (why.empty()) {
    std::abort();  // every rejection says why
  }

  uint64_t bytes = 0;
  why.clear();
  if (parse_size(text, &bytes, &why)) {
    if (bytes < 1) std::abort();
  } else if (why.empty()) {
    std::abort();
  }

  uint64_t n = 0;
  if (parse_count(text, 1, 10'000, &n, &why) && (n < 1 || n > 10'000)) std::abort();

  LatencySpec spec;
  if (parse_latency(text, &spec, &why)) {
    LatencySpec again;
    if (!parse_latency(spec.text(), &again, &why)) std::abort();
    if (again.kind != spec.kind) std::abort();
    // The canonical text keeps 6 significant digits.
    auto close = [](uint64_t a, uint64_t b) {
      const uint64_t d = a > b ? a - b : b - a;
      return d <= 1 + std::max(a, b) / 100'000;
    };
    if (!close(again.a_ns, spec.a_ns) || !close(again.b_ns, spec.b_ns)) std::abort();
    for (double u : {0.0, 0.5, 0.999999}) {
      const uint64_t s = spec.sample(u);
      if (spec.kind == LatencySpec::Kind::kUniform && (s < spec.a_ns || s > spec.b_ns))
        std::abort();
    }
  }

  std::string host;
  uint16_t port = 0;
  (void)parse_host_port(text, &host, &port, &why);
  return 0;
}
