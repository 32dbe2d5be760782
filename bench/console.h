// Description: the console table of `iomodels bench`: Google Benchmark's
// console reporter with our per-request counters printed as plain decimals
// (cpu_us_per_req=4.10, p50_us=1536) instead of SI suffixes (4.09836,
// 1.536k, 700u), and a line after Google Benchmark's "Library was built as
// DEBUG" warning saying whose build that is. The JSON output is unchanged.
#pragma once

#include <benchmark/benchmark.h>

#include <memory>
#include <string>

namespace iomodels::bench {

// "0.0007", "4.10", "1536": three significant digits below 100, whole
// numbers from 100 on; no SI suffix, no exponent.
std::string plain_number(double v);

class PlainConsoleReporter final : public benchmark::ConsoleReporter {
 public:
  explicit PlainConsoleReporter(OutputOptions opts) : ConsoleReporter(opts) {}
  bool ReportContext(const Context& context) override;

 protected:
  void PrintRunData(const Run& run) override;
};

// `display` itself when it is not Google Benchmark's console reporter (JSON or
// CSV display), else a PlainConsoleReporter with its colour and tabular
// options; takes ownership of `display`.
benchmark::BenchmarkReporter* plain_console(benchmark::BenchmarkReporter* display);

}  // namespace iomodels::bench
