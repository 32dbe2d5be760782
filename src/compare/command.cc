// Description: `iomodels compare`: loading the files of each side, the
// samples (runs or repetitions), the table with each change's interval and
// verdict, the geometric-mean summary and the --fail-on gate.
#include "compare/command.h"

#include <sys/stat.h>

#include <algorithm>
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

constexpr double kLevel = 0.95;  // of every interval
constexpr off_t kMaxFileBytes = 64 << 20;

struct Flags {
  std::vector<std::string> files;  // OLD NEW
  std::vector<std::string> old_files, new_files;
  std::vector<std::string> fail_on;
};

// The figure's value in each file: its median over that file's repetitions.
Samples file_medians(const std::vector<Samples>& files) {
  Samples out;
  for (const Samples& s : files)
    for (const auto& [name, figs] : s)
      for (const auto& [fig, values] : figs) out[name][fig].push_back(median(values));
  return out;
}

// Every repetition of every file, pooled.
Samples pooled(const std::vector<Samples>& files) {
  Samples out;
  for (const Samples& s : files)
    for (const auto& [name, figs] : s)
      for (const auto& [fig, values] : figs) {
        auto& to = out[name][fig];
        to.insert(to.end(), values.begin(), values.end());
      }
  return out;
}

// "+3.1%".
std::string pct_text(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", (ratio - 1) * 100);
  return buf;
}

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
    if (doc.contains("repetitions") && doc["repetitions"].is_array()) {
      // run --repeat: every repetition one sample.
      for (const auto& rep : doc["repetitions"]) {
        if (!rep.is_object())
          throw UsageError(flag + ": '" + path + "': a repetition that is not an object");
        for (const Figure& f : figures())
          if (rep.contains(f.name)) take(name, f.name, rep[f.name]);
      }
      if (s.empty()) throw UsageError(flag + ": '" + path + "' holds no benchmark results");
      return s;
    }
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
  // What validate() read: the gates and each side's samples.
  std::vector<Gate> gates_;
  Samples old_, new_;
  size_t old_count_ = 0, new_count_ = 0;  // files a side
  bool runs_ = false;  // the unit is the run (a file's median), not the repetition
};

void CompareCommand::add_flags(CLI::App* c) {
  Flags& flags = flags_;
  c->description(
      "Compare results files: per benchmark and figure, the old and new medians, the change,\n"
      "its 95% interval and a verdict: worse, better, or tie ±X% (no difference larger than X%,\n"
      "the interval's farther end). The files come from `iomodels bench --benchmark_out=F\n"
      "--benchmark_out_format=json` or `iomodels run --json F`.\n"
      "\n"
      "What a verdict can mean depends on the unit. With four or more files a side (runs of\n"
      "each build, interleaved: old, new, new, old, ...), each file's median is one sample and\n"
      "a verdict is about the builds. With one file a side, the samples are the repetitions of\n"
      "one run each; they share that run's moment (what else the machine did, whether the\n"
      "connections fell in step), so a verdict says only that these two runs differ: two runs\n"
      "of one build often do. The interval is that of the Hodges-Lehmann ratio new/old (the\n"
      "median of the pairwise log-ratios) from the exact rank-sum distribution; p is the\n"
      "two-sided Mann-Whitney U test's (normal approximation). `iomodels ab` runs the\n"
      "interleaving itself.\n"
      "\n"
      "Exit code: 0, 1 when a --fail-on threshold is crossed, 2 on a bad file or flag.\n"
      "Examples: iomodels compare old.json new.json --fail-on cpu_us_per_req:10\n"
      "          iomodels compare --old old-*.json --new new-*.json");
  c->add_option("files", flags.files, "the baseline results and the results to judge (JSON)")
      ->type_name("OLD NEW")
      ->expected(0, 2);
  c->add_option("--old", flags.old_files, "several baseline files, one run each")->expected(1, -1);
  c->add_option("--new", flags.new_files, "several files to judge, one run each")->expected(1, -1);
  c->add_option("--fail-on", flags.fail_on,
                "FIGURE:PERCENT: exit 1 when FIGURE's verdict is worse and its median moved\n"
                "the worse way by more than PERCENT in any benchmark (worse: lower\n"
                "items_per_second, higher cpu_us_per_req, syscalls_per_req, ctx_per_req,\n"
                "p50_us, p99_us); repeatable");
}

void CompareCommand::validate() {
  const Flags& flags = flags_;
  gates_ = parse_gates(flags);
  const bool sides = !flags.old_files.empty() || !flags.new_files.empty();
  if (sides && !flags.files.empty())
    throw UsageError("OLD NEW: give two files, or --old FILE... --new FILE..., not both");
  if (sides && (flags.old_files.empty() || flags.new_files.empty()))
    throw UsageError(std::string(flags.old_files.empty() ? "--old" : "--new") +
                     ": each side needs at least one file");
  if (!sides && flags.files.size() != 2)
    throw UsageError("OLD NEW: give two files, or --old FILE... --new FILE...");
  const std::vector<std::string> old_paths = sides ? flags.old_files : std::vector{flags.files[0]};
  const std::vector<std::string> new_paths = sides ? flags.new_files : std::vector{flags.files[1]};
  std::vector<Samples> olds, news;
  for (const std::string& p : old_paths) olds.push_back(load_samples(sides ? "--old" : "OLD", p));
  for (const std::string& p : new_paths) news.push_back(load_samples(sides ? "--new" : "NEW", p));
  old_count_ = olds.size();
  new_count_ = news.size();
  runs_ = old_count_ >= 2 && new_count_ >= 2;
  old_ = runs_ ? file_medians(olds) : pooled(olds);
  new_ = runs_ ? file_medians(news) : pooled(news);
  bool any_common = false;
  for (const auto& entry : old_) any_common = any_common || new_.count(entry.first) > 0;
  if (!any_common) throw UsageError("no benchmark is in both the old and the new files");
}

int CompareCommand::execute() {
  const std::vector<Gate>& gates = gates_;
  const Samples& a = old_;
  const Samples& b = new_;
  std::printf("%-64s %-17s %11s %11s %8s %-18s %6s  %s\n", "benchmark", "figure", "old", "new",
              "change", "95% interval", "p", "verdict");
  std::map<std::string, std::pair<double, int>> log_ratio;  // figure -> (sum, count)
  size_t common = 0, short_of_level = 0, verdicts = 0;
  std::vector<std::string> failures;
  for (const auto& [name, figs_a] : a) {
    auto it = b.find(name);
    if (it == b.end()) continue;
    ++common;
    for (const Figure& f : figures()) {
      auto fa = figs_a.find(f.name);
      auto fb = it->second.find(f.name);
      if (fa == figs_a.end() || fb == it->second.end()) continue;
      const std::vector<double>& va = fa->second;
      const std::vector<double>& vb = fb->second;
      const double mo = median(va), mn = median(vb);
      const double p = mann_whitney_p(va, vb);
      const bool comparable = mo > 0 && mn > 0;
      std::string change = "-", interval = "-", verdict = "-";
      bool worse = false;
      if (comparable) {
        change = pct_text(mn / mo);
        auto& [sum, count] = log_ratio[f.name];
        sum += std::log(mn / mo);
        ++count;
      }
      const bool positive = std::all_of(va.begin(), va.end(), [](double v) { return v > 0; }) &&
                            std::all_of(vb.begin(), vb.end(), [](double v) { return v > 0; });
      if (positive) {
        std::vector<double> la, lb;
        for (double v : va) la.push_back(std::log(v));
        for (double v : vb) lb.push_back(std::log(v));
        const stats::Shift s = stats::shift_between(la, lb, kLevel);
        const double lo = std::exp(s.interval.lo), hi = std::exp(s.interval.hi);
        interval = "[" + pct_text(lo) + ", " + pct_text(hi) + "]";
        if (s.interval.coverage < kLevel) {
          ++short_of_level;
          verdict = "too few";
        } else {
          ++verdicts;
          if (lo > 1 || hi < 1) {
            const bool up = lo > 1;
            worse = up != f.higher_is_better;
            verdict = worse ? "worse" : "better";
          } else {
            char buf[32];
            std::snprintf(buf, sizeof buf, "tie ±%.1f%%", std::max(1 - lo, hi - 1) * 100);
            verdict = buf;
          }
        }
      }
      std::printf("%-64s %-17s %11.4g %11.4g %8s %-18s %6.3f  %s\n", name.c_str(), f.name, mo, mn,
                  change.c_str(), interval.c_str(), p, verdict.c_str());
      for (const Gate& g : gates)
        if (g.figure == f.name && worse && comparable && worse_pct(f, mo, mn) > g.pct) {
          char line[200];
          std::snprintf(line, sizeof line, "%s: %s worse by %.1f%% (> %.1f%%, interval %s)",
                        name.c_str(), f.name, worse_pct(f, mo, mn), g.pct, interval.c_str());
          failures.push_back(line);
        }
    }
  }
  std::printf("\n%zu benchmarks on both sides; ", common);
  if (runs_)
    std::printf("the unit is the run: %zu old and %zu new files, each file's median one sample.\n",
                old_count_, new_count_);
  else
    std::printf("the unit is the repetition (%zu old and %zu new files, pooled).\n", old_count_,
                new_count_);
  std::printf(
      "The interval is the 95%% interval of the ratio new/old. Verdict: worse or better when\n"
      "the interval excludes no change, else tie ±X%%: no difference larger than X%%.\n");
  std::printf("geometric mean of new/old over the benchmarks:\n");
  for (const Figure& f : figures()) {
    auto it = log_ratio.find(f.name);
    if (it == log_ratio.end()) continue;
    std::printf("  %-17s %+.1f%%\n", f.name,
                (std::exp(it->second.first / it->second.second) - 1) * 100);
  }
  std::fflush(stdout);
  if (short_of_level > 0)
    std::fprintf(stderr,
                 "iomodels: note: %zu comparisons have too few samples a side for a 95%% "
                 "interval (4 a side at least): no verdict\n",
                 short_of_level);
  if (!runs_ && verdicts > 0)
    std::fprintf(stderr,
                 "iomodels: note: the repetitions of one run share its moment: a verdict says "
                 "these runs differ, not that the builds do (give --old and --new four or more "
                 "interleaved runs each, or use iomodels ab)\n");
  for (const std::string& f : failures)
    std::fprintf(stderr, "iomodels: --fail-on: %s\n", f.c_str());
  return failures.empty() ? 0 : 1;
}

}  // namespace

std::unique_ptr<frontend::Command> make_compare_command() {
  return std::make_unique<CompareCommand>();
}

}  // namespace iomodels::compare
