// Description: `iomodels ab`: two binaries (or one binary twice, or two
// environments) run the same `iomodels run` alternately, A B B A ..., and
// each figure gets the ratio B/A from the paired rounds, its interval, and a
// verdict: faster, slower, or no difference larger than what the rounds can
// detect.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compare/command.h"
#include "frontend/command.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/env.h"
#include "measure/recorder.h"
#include "measure/stats.h"
#include "sys/cleanup.h"
#include "sys/fd.h"
#include "sys/process.h"

namespace iomodels::compare {
namespace {

using frontend::UsageError;
using stats::hodges_lehmann;
using stats::median;
using stats::Shift;

// Other processes' CPU above this during a run marks it as taken beside
// other work (the bound the timing tests use).
constexpr double kBusyOthersCores = 0.25;

struct Side {
  std::string label;  // "A" or "B"
  std::string binary;
  std::vector<std::string> env;  // NAME=value, added to this process's
};

struct AbFlags {
  std::string a, b;
  std::vector<std::string> a_env, b_env;
  std::string rounds = "12";
  std::string figures = "cpu_us_per_req,items_per_second";
  std::string confidence = "95";
  std::string timeout = "600s";
  std::string json;
  bool fail_if_slower = false;
  std::vector<std::string> run_args;
};

// One figure's verdict over the rounds.
struct Verdict {
  const Figure* figure = nullptr;
  std::vector<double> a, b;  // per round
  Shift log_ratio;           // of B/A
  std::string text;          // faster | slower | no difference larger than X%
  bool slower = false;
};

class AbCommand final : public frontend::Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  // Runs `side` once; fills *out with its figures, and "others_cores" with
  // what the rest of the machine used meanwhile (busy CPU from /proc/stat,
  // steal included, less the run's own process tree, over its wall time).
  // "" on success, else what went wrong, with its exit code in *code.
  std::string run_once(const Side& side, std::map<std::string, double>* out, int* code) const;

  AbFlags flags_;
  Side a_, b_;
  uint64_t rounds_ = 0, timeout_ns_ = 0;
  double level_ = 0;  // per figure
  std::vector<const Figure*> figures_;
  frontend::OutputPath json_;
};

void AbCommand::add_flags(CLI::App* sub) {
  sub->description(
      "two builds (or one, or two environments) on the same `iomodels run`, alternately: the "
      "ratio B/A per figure with its interval and a verdict");
  sub->footer(
      "Each round runs A and B once each, in the order A B, then B A in the next round, so\n"
      "that a drift of the machine over the rounds weighs on both sides alike. For every\n"
      "figure, the rounds give paired ratios B/A; their centre is the Hodges-Lehmann estimate\n"
      "of the log-ratios, and its interval comes from Wilcoxon's signed-rank distribution\n"
      "(exact, no normal approximation). The confidence is shared by the figures (Bonferroni:\n"
      "95% over two figures is 97.5% each), so that a change is called on any figure at most\n"
      "5% of the time when nothing changed. The verdict is 'slower' or 'faster' when the\n"
      "interval excludes 1, else 'no difference larger than X%', X the interval's farther\n"
      "end: what this many rounds could have detected. Before the rounds, each side runs\n"
      "once, unmeasured: a side that refuses the arguments stops here with its error.\n"
      "Examples:\n"
      "  iomodels ab --b ../new/build/release/iomodels -- -m epoll -c 64 -s 4KiB -l 1ms -r 200\n"
      "  iomodels ab --b-env IOMODELS_TEST_SLOWDOWN=epoll:10 --rounds 20 -- -m epoll\n"
      "  iomodels ab --rounds 12 --json ab.json -- -m uring-multishot -l uniform:0.5ms-1.5ms");
  sub->add_option("--a", flags_.a, "side A's iomodels binary [default: this one]");
  sub->add_option("--b", flags_.b, "side B's iomodels binary [default: this one]");
  // One value each time (repeat the flag for more): a list would swallow the
  // `--` before the run's flags.
  sub->add_option("--a-env", flags_.a_env, "NAME=value in side A's environment (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--b-env", flags_.b_env, "NAME=value in side B's environment (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--rounds", flags_.rounds,
                  "rounds, each one run of A and one of B, 6..500 (95% over two figures needs "
                  "at least 7; more rounds detect smaller differences)")
      ->capture_default_str();
  sub->add_option("--figures", flags_.figures,
                  "comma-separated: items_per_second, cpu_us_per_req, syscalls_per_req, "
                  "ctx_per_req, p50_us, p99_us")
      ->capture_default_str();
  sub->add_option("--confidence", flags_.confidence, "percent, shared by the figures, 50..99.9")
      ->capture_default_str();
  sub->add_option("--timeout", flags_.timeout, "a run that takes longer is stopped and fails")
      ->capture_default_str();
  sub->add_option("--json", flags_.json, "write every round and every verdict here");
  sub->add_flag("--fail-if-slower", flags_.fail_if_slower,
                "exit 1 when a figure's verdict is 'slower' (a CI gate)");
  sub->add_option("run-args", flags_.run_args,
                  "after --: the arguments of `iomodels run` both sides get (not --json, "
                  "--trace)");
}

void AbCommand::validate() {
  const auto binary = [](const char* flag, const std::string& given) {
    if (given.empty()) {
      const std::string self = sys::self_executable();
      if (self.empty()) throw UsageError(std::string(flag) + ": cannot find this binary");
      return self;
    }
    sys::NotExecutable why;
    const std::string path = sys::find_executable(given, &why);
    if (path.empty()) throw UsageError(std::string(flag) + ": '" + given + "' is not executable");
    return path;
  };
  const auto env = [](const char* flag, const std::vector<std::string>& entries) {
    for (const std::string& e : entries)
      if (e.find('=') == std::string::npos || e.front() == '=')
        throw UsageError(std::string(flag) + ": '" + e + "' is not NAME=value");
    return entries;
  };
  a_ = {"A", binary("--a", flags_.a), env("--a-env", flags_.a_env)};
  b_ = {"B", binary("--b", flags_.b), env("--b-env", flags_.b_env)};
  rounds_ = frontend::flag_count("--rounds", flags_.rounds, 6, 500);
  timeout_ns_ = frontend::flag_duration("--timeout", flags_.timeout);
  if (timeout_ns_ < 1'000'000'000) throw UsageError("--timeout: at least 1s");
  const double conf = 100 * frontend::flag_percent("--confidence", flags_.confidence, 50, 99.9);
  figures_.clear();
  size_t at = 0;
  while (at <= flags_.figures.size()) {
    const size_t comma = std::min(flags_.figures.find(',', at), flags_.figures.size());
    const std::string name = flags_.figures.substr(at, comma - at);
    const Figure* found = nullptr;
    for (const Figure& f : figures())
      if (name == f.name) found = &f;
    if (found == nullptr)
      throw UsageError("--figures: '" + name +
                       "' is not one of items_per_second, cpu_us_per_req, syscalls_per_req, "
                       "ctx_per_req, p50_us, p99_us");
    figures_.push_back(found);
    at = comma + 1;
  }
  level_ = 1 - (1 - conf / 100) / static_cast<double>(figures_.size());
  // The widest interval (the extreme Walsh averages) covers with 1 - 2^(1-n):
  // fewer rounds than that cannot reach the level each figure needs.
  uint64_t least = 2;
  while (1 - std::pow(2.0, 1.0 - static_cast<double>(least)) < level_) ++least;
  if (rounds_ < least)
    throw UsageError("--rounds: " + std::to_string(rounds_) + " rounds cannot give " +
                     flags_.confidence + "% over " + std::to_string(figures_.size()) +
                     " figure(s); at least " + std::to_string(least));
  for (const std::string& arg : flags_.run_args)
    for (const char* owned : {"--json", "--trace", "-h", "--help"})
      if (arg == owned || arg.rfind(std::string(owned) + "=", 0) == 0)
        throw UsageError("run-args: " + std::string(owned) +
                         " is ab's to decide (it reads each run's result itself)");
  json_ = frontend::check_output("--json", flags_.json);
}

std::string AbCommand::run_once(const Side& side, std::map<std::string, double>* out,
                                int* code) const {
  *code = 1;
  char tmpl[] = "/tmp/iomodels-ab-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) return "cannot make a temporary file in /tmp";
  ::close(fd);
  sys::TempPath result{std::string(tmpl)};
  std::vector<std::string> argv = {side.binary, "run"};
  argv.insert(argv.end(), flags_.run_args.begin(), flags_.run_args.end());
  argv.push_back("--json");
  argv.push_back(result.path());
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "cannot make a pipe";
  Fd from(p[0]), to(p[1]);
  Fd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  sys::SpawnOptions o;
  o.stdout_fd = null.get();
  o.stderr_fd = to.get();
  o.env_add = side.env;
  o.search_path = false;
  sys::Child child;
  const double busy0 = machine_busy_cpu_s();
  const uint64_t wall0 = now_ns();
  if (sys::spawn(argv, o, &child) != 0) return "cannot start " + side.binary;
  to.reset();
  std::string said;
  char buf[512];
  long n;
  while ((n = ::read(from.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0 && said.size() < 65536) said.append(buf, static_cast<size_t>(n));
  sys::ExitInfo x;
  if (sys::reap(child.pid(), now_ns() + timeout_ns_, 1'000'000'000, &x) != 0)
    return "cannot wait for " + side.binary;
  if (x.timed_out) return "took longer than --timeout " + flags_.timeout + " and was stopped";
  const double wall_s = static_cast<double>(now_ns() - wall0) / 1e9;
  const double own_s =
      static_cast<double>(x.usage.ru_utime.tv_sec + x.usage.ru_stime.tv_sec) +
      static_cast<double>(x.usage.ru_utime.tv_usec + x.usage.ru_stime.tv_usec) / 1e6;
  const double others = busy0 < 0 ? 0 : (machine_busy_cpu_s() - busy0 - own_s) / wall_s;
  *code = sys::exit_code(x.status);
  if (*code != 0) {
    // Its last line says why.
    while (!said.empty() && said.back() == '\n') said.pop_back();
    const size_t nl = said.rfind('\n');
    const std::string last = nl == std::string::npos ? said : said.substr(nl + 1);
    return last.empty() ? "exited with " + std::to_string(*code) : last;
  }
  const Samples s = load_samples(side.label, result.path());
  if (s.size() != 1) return "its result is not one run's";
  for (const auto& [fig, values] : s.begin()->second)
    if (!values.empty()) (*out)[fig] = values.front();
  (*out)["others_cores"] = std::max(0.0, others);
  for (const Figure* f : figures_)
    if (out->count(f->name) == 0 || !((*out)[f->name] > 0)) {
      *code = 2;
      return std::string("its result has no positive ") + f->name +
             " (a part switched off, or nothing measured)";
    }
  return "";
}

// A figure's value for the table: whole numbers from 1,000 up (requests/s),
// four significant digits below.
std::string value_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v >= 1000 ? "%.0f" : "%.4g", v);
  return b;
}

std::string percent_text(double fraction) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", fraction * 100);
  return b;
}

int AbCommand::execute() {
  std::string args;
  for (const std::string& a : flags_.run_args) args += " " + a;
  const auto side_text = [](const Side& s) {
    std::string t = s.label + " = " + s.binary;
    for (const std::string& e : s.env) t += " " + e;
    return t;
  };
  std::printf("ab: %llu rounds of `run%s`, A B then B A\n  %s\n  %s\n",
              static_cast<unsigned long long>(rounds_), args.c_str(), side_text(a_).c_str(),
              side_text(b_).c_str());
  std::fflush(stdout);
  // Once each, unmeasured: a refusal stops everything before the rounds.
  for (const Side* s : {&a_, &b_}) {
    std::map<std::string, double> ignored;
    int code = 0;
    const std::string err = run_once(*s, &ignored, &code);
    if (!err.empty()) {
      std::fprintf(stderr, "iomodels: %s%s (%s): %s\n", code == 2 ? "error: " : "",
                   s->label.c_str(), s->binary.c_str(), err.c_str());
      return code == 2 ? 2 : 1;
    }
  }
  std::vector<Verdict> verdicts(figures_.size());
  for (size_t i = 0; i < figures_.size(); ++i) verdicts[i].figure = figures_[i];
  nlohmann::json rounds = nlohmann::json::array();
  for (uint64_t r = 0; r < rounds_; ++r) {
    const bool a_first = r % 2 == 0;
    std::map<std::string, double> fa, fb;
    for (const Side* s :
         a_first ? std::vector<const Side*>{&a_, &b_} : std::vector<const Side*>{&b_, &a_}) {
      int code = 0;
      const std::string err = run_once(*s, s == &a_ ? &fa : &fb, &code);
      if (!err.empty()) {
        std::fprintf(stderr, "iomodels: round %llu: %s (%s): %s\n",
                     static_cast<unsigned long long>(r + 1), s->label.c_str(), s->binary.c_str(),
                     err.c_str());
        return 1;
      }
    }
    nlohmann::json jr = {{"round", r + 1}, {"order", a_first ? "AB" : "BA"}, {"a", fa}, {"b", fb}};
    rounds.push_back(jr);
    for (Verdict& v : verdicts) {
      v.a.push_back(fa[v.figure->name]);
      v.b.push_back(fb[v.figure->name]);
    }
    std::fprintf(stderr, "ab: round %llu of %llu: %s A %.4g B %.4g\n",
                 static_cast<unsigned long long>(r + 1), static_cast<unsigned long long>(rounds_),
                 verdicts.front().figure->name, verdicts.front().a.back(),
                 verdicts.front().b.back());
  }

  std::printf("\n%-18s %12s %12s   %-28s %s\n", "figure", "A median", "B median", "B/A [interval]",
              "verdict");
  bool any_slower = false;
  nlohmann::json jv = nlohmann::json::array();
  for (Verdict& v : verdicts) {
    std::vector<double> d;
    for (size_t i = 0; i < v.a.size(); ++i) d.push_back(std::log(v.b[i] / v.a[i]));
    v.log_ratio = hodges_lehmann(d, level_);
    const double ratio = std::exp(v.log_ratio.estimate);
    const double lo = std::exp(v.log_ratio.interval.lo), hi = std::exp(v.log_ratio.interval.hi);
    const bool b_higher = lo > 1, b_lower = hi < 1;
    if (b_higher || b_lower) {
      const bool better = b_higher == v.figure->higher_is_better;
      v.slower = !better;
      v.text = std::string(better ? "faster" : "slower") + " (" + (ratio >= 1 ? "+" : "") +
               percent_text(ratio - 1) + ")";
    } else {
      v.text = "no difference larger than " + percent_text(std::max(1 - lo, hi - 1));
    }
    any_slower = any_slower || v.slower;
    char interval[64];
    std::snprintf(interval, sizeof interval, "%.3f [%.3f, %.3f]", ratio, lo, hi);
    std::printf("%-18s %12s %12s   %-28s %s\n", v.figure->name, value_text(median(v.a)).c_str(),
                value_text(median(v.b)).c_str(), interval, v.text.c_str());
    jv.push_back({{"figure", v.figure->name},
                  {"a_median", median(v.a)},
                  {"b_median", median(v.b)},
                  {"ratio", ratio},
                  {"ratio_low", lo},
                  {"ratio_high", hi},
                  {"coverage", v.log_ratio.interval.coverage},
                  {"verdict", v.text},
                  {"slower", v.slower}});
  }
  std::printf(
      "(intervals: Hodges-Lehmann of the paired log-ratios, %.1f%% each by Wilcoxon's "
      "signed-rank distribution; %s%% over the %zu figures)\n",
      verdicts.front().log_ratio.interval.coverage * 100, flags_.confidence.c_str(),
      verdicts.size());
  // What else ran: a verdict taken beside other work says so.
  double others_sum = 0, others_max = 0;
  size_t others_n = 0, busy_runs = 0;
  for (const auto& jr : rounds)
    for (const char* side : {"a", "b"}) {
      const double o = jr[side].value("others_cores", 0.0);
      others_sum += o;
      others_max = std::max(others_max, o);
      ++others_n;
      busy_runs += o > kBusyOthersCores;
    }
  std::printf("(other processes and steal: %.2f core on average during the runs, at most %.2f",
              others_n ? others_sum / static_cast<double>(others_n) : 0.0, others_max);
  if (busy_runs > 0)
    std::printf("; %zu of %zu runs beside more than %.2f core: the verdicts may hold their noise",
                busy_runs, others_n, kBusyOthersCores);
  std::printf(")\n");
  if (json_.given()) {
    const nlohmann::json out = {
        {"a", {{"binary", a_.binary}, {"env", a_.env}}},
        {"b", {{"binary", b_.binary}, {"env", b_.env}}},
        {"run_args", flags_.run_args},
        {"rounds", rounds},
        {"confidence", std::strtod(flags_.confidence.c_str(), nullptr) / 100},
        {"level_per_figure", level_},
        {"verdicts", jv}};
    json_.write(out.dump(2) + "\n");
  }
  return flags_.fail_if_slower && any_slower ? 1 : 0;
}

}  // namespace

std::unique_ptr<frontend::Command> make_ab_command() { return std::make_unique<AbCommand>(); }

}  // namespace iomodels::compare
