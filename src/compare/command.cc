// Description: `iomodels compare`: loading the two files, the table, the
// geometric-mean summary and the --fail-on gate.
#include "compare/command.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "frontend/frontend.h"
#include "measure/stats.h"

namespace iomodels::compare {

using frontend::UsageError;
using stats::mann_whitney_p;
using stats::median;

namespace {

constexpr double kAlpha = 0.05;        // significance level of a change
constexpr size_t kFewRepetitions = 5;  // fewer a side: the test has little power
constexpr off_t kMaxFileBytes = 64 << 20;

struct Flags {
  std::string old_path, new_path;
  std::vector<std::string> fail_on;
};

struct Gate {
  std::string figure;
  double pct;
};

// Google Benchmark writes NaN (a cv aggregate of a figure that is zero in every
// repetition), which is not JSON: outside strings it becomes null.
std::string nan_as_null(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (text.compare(i, 4, "-NaN") == 0) {
      out += "null";
      i += 3;
    } else if (text.compare(i, 3, "NaN") == 0) {
      out += "null";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

bool finite_number(const nlohmann::json& v) {
  return v.is_number() && std::isfinite(v.get<double>());
}

std::string scalar_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::vector<Gate> parse_gates(const Flags& flags) {
  std::vector<Gate> gates;
  for (const std::string& g : flags.fail_on) {
    const size_t colon = g.find(':');
    const std::string fig = g.substr(0, colon);
    bool known = false;
    for (const Figure& f : figures()) known = known || fig == f.name;
    if (colon == std::string::npos || !known)
      throw UsageError("--fail-on: '" + g +
                       "' is not FIGURE:PERCENT with FIGURE one of "
                       "items_per_second, cpu_us_per_req, syscalls_per_req, ctx_per_req, "
                       "p50_us, p99_us");
    const std::string pct = g.substr(colon + 1);
    char* end = nullptr;
    const double v = std::strtod(pct.c_str(), &end);
    if (pct.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
      throw UsageError("--fail-on: '" + pct + "' in '" + g + "' is not a percentage >= 0");
    gates.push_back({fig, v});
  }
  return gates;
}

// The change in percent that is worse: positive when `fig` got worse.
double worse_pct(const Figure& f, double old_med, double new_med) {
  const double change = (new_med - old_med) / old_med * 100;
  return f.higher_is_better ? -change : change;
}

}  // namespace

const std::vector<Figure>& figures() {
  static const std::vector<Figure> f = {{"items_per_second", true},  {"cpu_us_per_req", false},
                                        {"syscalls_per_req", false}, {"ctx_per_req", false},
                                        {"p50_us", false},           {"p99_us", false}};
  return f;
}

Samples load_samples(const std::string& flag, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw UsageError(flag + ": cannot read '" + path + "'");
  if (st.st_size > kMaxFileBytes)
    throw UsageError(flag + ": '" + path + "' is over 64 MiB, not a results file");
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json doc = nlohmann::json::parse(nan_as_null(text), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    throw UsageError(flag + ": '" + path + "' is not JSON");
  Samples s;
  auto take = [&](const std::string& name, const char* fig, const nlohmann::json& v) {
    if (v.is_null()) return;  // a part switched off (--counters off)
    if (!finite_number(v))
      throw UsageError(flag + ": '" + path + "': " + name + ": " + fig + " is not a finite number");
    s[name][fig].push_back(v.get<double>());
  };
  if (doc.contains("benchmarks") && doc["benchmarks"].is_array()) {
    for (const auto& b : doc["benchmarks"]) {
      if (!b.is_object() || !b.contains("name") || !b["name"].is_string())
        throw UsageError(flag + ": '" + path + "': a benchmark entry without a name");
      if (b.value("run_type", "iteration") != "iteration" || b.value("error_occurred", false))
        continue;
      const std::string name = b.contains("run_name") && b["run_name"].is_string()
                                   ? b["run_name"].get<std::string>()
                                   : b["name"].get<std::string>();
      for (const Figure& f : figures())
        if (b.contains(f.name)) take(name, f.name, b[f.name]);
    }
  } else if (doc.contains("scenario") && doc["scenario"].is_object() &&
             doc.contains("items_per_second")) {
    const auto& sc = doc["scenario"];
    std::string name;
    for (const char* k : {"model", "transport", "connections", "size", "latency"})
      if (sc.contains(k)) name += (name.empty() ? "" : "/") + scalar_text(sc[k]);
    for (const Figure& f : figures()) {
      const std::string key = f.name;
      if (key == "p50_us" || key == "p99_us") {
        const auto& lat = doc.value("latency_us", nlohmann::json());
        const std::string q = key.substr(0, 3);
        if (lat.is_object() && lat.contains(q)) take(name, f.name, lat[q]);
      } else if (doc.contains(key)) {
        take(name, f.name, doc[key]);
      }
    }
  } else {
    throw UsageError(flag + ": '" + path +
                     "' is neither `iomodels bench` JSON nor an `iomodels run --json` result");
  }
  if (s.empty()) throw UsageError(flag + ": '" + path + "' holds no benchmark results");
  return s;
}

namespace {

// `compare` as a command object: its flags, bound by CLI11, live in it.
class CompareCommand final : public frontend::Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  Flags flags_;
  // What validate() read: the gates and both files' samples.
  std::vector<Gate> gates_;
  Samples old_, new_;
};

void CompareCommand::add_flags(CLI::App* c) {
  Flags& flags = flags_;
  c->description(
      "Compare two results files: per benchmark and figure, the old and new medians over the\n"
      "repetitions, the change, and whether it is significant (Mann-Whitney U, p < 0.05).\n"
      "The files come from `iomodels bench --benchmark_out=F --benchmark_out_format=json`\n"
      "(run it with --benchmark_repetitions=5 or more: below 5 a side the test can hardly\n"
      "find a change) or from `iomodels run --json F` (one sample each).\n"
      "Exit code: 0, 1 when a --fail-on threshold is crossed, 2 on a bad file or flag.\n"
      "Example: iomodels compare old.json new.json --fail-on cpu_us_per_req:10");
  c->add_option("OLD", flags.old_path, "the baseline results (JSON)")->required();
  c->add_option("NEW", flags.new_path, "the results to judge (JSON)")->required();
  c->add_option("--fail-on", flags.fail_on,
                "FIGURE:PERCENT: exit 1 when FIGURE got significantly worse by more than\n"
                "PERCENT in any benchmark (worse: lower items_per_second, higher\n"
                "cpu_us_per_req, syscalls_per_req, ctx_per_req, p50_us, p99_us); repeatable");
}

void CompareCommand::validate() {
  const Flags& flags = flags_;
  gates_ = parse_gates(flags);
  old_ = load_samples("OLD", flags.old_path);
  new_ = load_samples("NEW", flags.new_path);
  bool any_common = false;
  for (const auto& entry : old_) any_common = any_common || new_.count(entry.first) > 0;
  if (!any_common)
    throw UsageError("no benchmark is in both '" + flags.old_path + "' and '" + flags.new_path +
                     "'");
}

int CompareCommand::execute() {
  const std::vector<Gate>& gates = gates_;
  const Samples& a = old_;
  const Samples& b = new_;
  std::printf("%-64s %-17s %12s %12s %8s %7s\n", "benchmark", "figure", "old", "new", "change",
              "p");
  std::map<std::string, std::pair<double, int>> log_ratio;  // figure -> (sum, count)
  size_t common = 0, few = 0;
  std::vector<std::string> failures;
  for (const auto& [name, figs_a] : a) {
    auto it = b.find(name);
    if (it == b.end()) continue;
    ++common;
    for (const Figure& f : figures()) {
      auto fa = figs_a.find(f.name);
      auto fb = it->second.find(f.name);
      if (fa == figs_a.end() || fb == it->second.end()) continue;
      if (fa->second.size() < kFewRepetitions || fb->second.size() < kFewRepetitions) ++few;
      const double mo = median(fa->second), mn = median(fb->second);
      const double p = mann_whitney_p(fa->second, fb->second);
      const bool significant = p < kAlpha;
      const bool comparable = mo > 0 && mn > 0;
      char change[32] = "-";
      if (comparable) {
        std::snprintf(change, sizeof change, "%+.1f%%", (mn - mo) / mo * 100);
        auto& [sum, count] = log_ratio[f.name];
        sum += std::log(mn / mo);
        ++count;
      }
      std::printf("%-64s %-17s %12.4g %12.4g %8s %7.3f%s\n", name.c_str(), f.name, mo, mn, change,
                  p, significant ? " *" : "");
      for (const Gate& g : gates)
        if (g.figure == f.name && significant && comparable && worse_pct(f, mo, mn) > g.pct) {
          char line[160];
          std::snprintf(line, sizeof line, "%s: %s worse by %.1f%% (> %.1f%%, p = %.3f)",
                        name.c_str(), f.name, worse_pct(f, mo, mn), g.pct, p);
          failures.push_back(line);
        }
    }
  }
  std::printf("\n%zu benchmarks in both files; * marks a change with p < %.2f.\n", common, kAlpha);
  std::printf("geometric mean of new/old over the benchmarks:\n");
  for (const Figure& f : figures()) {
    auto it = log_ratio.find(f.name);
    if (it == log_ratio.end()) continue;
    std::printf("  %-17s %+.1f%%\n", f.name,
                (std::exp(it->second.first / it->second.second) - 1) * 100);
  }
  if (few > 0)
    std::fprintf(stderr,
                 "iomodels: warning: %zu comparisons have fewer than %zu repetitions a side: "
                 "the test can hardly call a change significant\n",
                 few, kFewRepetitions);
  for (const std::string& f : failures)
    std::fprintf(stderr, "iomodels: --fail-on: %s\n", f.c_str());
  return failures.empty() ? 0 : 1;
}

}  // namespace

std::unique_ptr<frontend::Command> make_compare_command() {
  return std::make_unique<CompareCommand>();
}

}  // namespace iomodels::compare
