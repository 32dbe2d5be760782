// Description: `iomodels bench`, the Google Benchmark frontend: registers the
// grid from its flags and hands every --benchmark_* flag to Google Benchmark.
#pragma once

#include <memory>

#include "frontend/command.h"

namespace iomodels::bench {

std::unique_ptr<frontend::Command> make_bench_command();

}  // namespace iomodels::bench
