// Description: Google Benchmark's own flags as bench sees them before
// handing them on: a flag's value among the arguments, a boolean read as
// Google Benchmark reads it, the values it would misread refused with a
// UsageError naming the flag, and how many benchmarks its filter selects.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace iomodels::bench {

// The benchmarks Google Benchmark will run under its --benchmark_filter
// (a leading '-' negates it), for the progress line's "i of N".
size_t count_selected(const std::vector<std::string>& names);

// The value of Google Benchmark's flag --<name> among `args` (the last one
// wins, as there); a bare boolean flag is "true".
std::optional<std::string> gb_flag(const std::vector<std::string>& args, const std::string& name);

// A boolean flag's value as Google Benchmark reads it: false only for 0, f,
// n, false, no or off (in any case).
bool truthy(const std::optional<std::string>& v);

// Google Benchmark's own handling of a bad value is to print its usage and
// exit 0, or to misbehave later (a negative repetition count): the values
// it would misread are checked here, each a frontend::UsageError naming the flag.
void check_gb_flags(const std::vector<std::string>& args);

}  // namespace iomodels::bench
