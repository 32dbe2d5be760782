// Description: the console table of `iomodels bench` with plain decimal
// counters, and the explanation of Google Benchmark's DEBUG build warning.
#include "bench/console.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace iomodels::bench {

std::string plain_number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  const double a = std::fabs(v);
  int decimals = 0;
  if (a > 0 && a < 100) decimals = std::min(9, 2 - static_cast<int>(std::floor(std::log10(a))));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

bool PlainConsoleReporter::ReportContext(const Context& context) {
  // Google Benchmark prints its context (and the DEBUG warning) to the error
  // stream: captured, passed on, and explained after the warning.
  std::ostream& err = GetErrorStream();
  std::ostringstream captured;
  SetErrorStream(&captured);
  const bool ok = ConsoleReporter::ReportContext(context);
  SetErrorStream(&err);
  const std::string text = captured.str();
  err << text;
  if (text.find("Library was built as DEBUG") != std::string::npos)
    err << "(that warning is about Debian's libbenchmark package, built without NDEBUG, "
           "not about iomodels' own build; iomodels measures its figures itself)\n";
  err.flush();
  return ok;
}

void PlainConsoleReporter::PrintRunData(const Run& run) {
  if ((output_options_ & OO_Tabular) != 0 || run.counters.empty())
    return ConsoleReporter::PrintRunData(run);
  // The counters are printed by us, before the label, which Google Benchmark
  // prints last on the line.
  Run copy = run;
  const bool percent =
      run.run_type == Run::RT_Aggregate && run.aggregate_unit == benchmark::kPercentage;
  std::string counters;
  for (const auto& [name, c] : run.counters) {
    if (!counters.empty()) counters += ' ';
    counters += name + '=';
    if (percent) {
      counters += plain_number(c.value * 100) + '%';
    } else {
      counters += plain_number(c.value);
      if ((c.flags & benchmark::Counter::kIsRate) != 0) counters += "/s";
    }
  }
  copy.counters.clear();
  copy.report_label = counters + (run.report_label.empty() ? "" : " " + run.report_label);
  ConsoleReporter::PrintRunData(copy);
}

namespace {
// Reads the options of an existing console reporter (a protected member,
// reached through a member pointer of this derived type).
struct OptionsOf : benchmark::ConsoleReporter {
  static OutputOptions of(const benchmark::ConsoleReporter& r) {
    return r.*(&OptionsOf::output_options_);
  }
};
}  // namespace

benchmark::BenchmarkReporter* plain_console(benchmark::BenchmarkReporter* display) {
  auto* console = dynamic_cast<benchmark::ConsoleReporter*>(display);
  if (console == nullptr) return display;
  auto* plain = new PlainConsoleReporter(OptionsOf::of(*console));
  delete display;
  return plain;
}

}  // namespace iomodels::bench
