// Description: `iomodels bench`, the Google Benchmark frontend: registers the
// grid from its flags and hands every --benchmark_* flag to Google Benchmark.
#pragma once

#include <CLI/CLI.hpp>

namespace iomodels::bench {

CLI::App* add_bench(CLI::App& app);
int run_bench();

}  // namespace iomodels::bench
