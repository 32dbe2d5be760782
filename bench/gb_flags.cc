// Description: Google Benchmark's flags read and checked before bench hands
// them on (bench/gb_flags.h).
#include "bench/gb_flags.h"

#include <benchmark/benchmark.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <regex>
#include <string_view>

#include "bench/grid.h"
#include "frontend/frontend.h"

namespace iomodels::bench {

using frontend::UsageError;

size_t count_selected(const std::vector<std::string>& names) {
  std::string filter = benchmark::GetBenchmarkFilter();
  bool negate = false;
  if (!filter.empty() && filter[0] == '-') {
    negate = true;
    filter.erase(0, 1);
  }
  if (filter.empty() || filter == "all") return negate ? 0 : names.size();
  try {
    const std::regex re(filter, std::regex::extended);
    size_t n = 0;
    for (const std::string& name : names)
      if (std::regex_search(name + bench::kNameSuffix, re) != negate) ++n;
    return n;
  } catch (const std::regex_error&) {
    return 0;  // Google Benchmark reports the bad filter itself.
  }
}

std::optional<std::string> gb_flag(const std::vector<std::string>& args, const std::string& name) {
  std::optional<std::string> value;
  const std::string flag = "--" + name;
  for (const std::string& a : args) {
    if (a == flag) value = "true";
    if (a.rfind(flag + "=", 0) == 0) value = a.substr(flag.size() + 1);
  }
  return value;
}

bool truthy(const std::optional<std::string>& v) {
  if (!v) return false;
  std::string lower;
  for (char c : *v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.size() == 1)
    return std::isalnum(static_cast<unsigned char>(lower[0])) && lower != "0" && lower != "f" &&
           lower != "n";
  return lower != "false" && lower != "no" && lower != "off";
}

void check_gb_flags(const std::vector<std::string>& args) {
  auto one_of = [&](const char* name, std::initializer_list<std::string_view> ok) {
    const auto v = gb_flag(args, name);
    if (!v) return;
    std::string list;
    for (std::string_view o : ok) {
      if (*v == o) return;
      list += (list.empty() ? "" : ", ") + std::string(o);
    }
    throw UsageError(std::string("--") + name + ": '" + *v + "' must be one of " + list);
  };
  one_of("benchmark_format", {"console", "json", "csv"});
  one_of("benchmark_out_format", {"console", "json", "csv"});
  one_of("benchmark_time_unit", {"ns", "us", "ms", "s"});
  auto whole = [&](const char* name, long lo, long hi) {
    const auto v = gb_flag(args, name);
    if (!v) return;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || errno != 0 || n < lo || n > hi)
      throw UsageError(std::string("--") + name + ": '" + *v + "' must be a whole number from " +
                       std::to_string(lo) + " to " + std::to_string(hi));
  };
  whole("benchmark_repetitions", 1, 1000);
  for (const char* name : {"benchmark_min_time", "benchmark_min_warmup_time"}) {
    const auto v = gb_flag(args, name);
    if (!v) continue;
    char* end = nullptr;
    const double s = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0' || !(s >= 0) || s > 3600)
      throw UsageError(std::string("--") + name + ": '" + *v +
                       "' must be a number of seconds from 0 to 3600 (e.g. 0.5)");
  }
  if (const auto v = gb_flag(args, "benchmark_out"); v && (v->empty() || *v == "true"))
    throw UsageError("--benchmark_out: needs a file name (--benchmark_out=FILE)");
}

}  // namespace iomodels::bench
