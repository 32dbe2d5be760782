// Description: `iomodels calibrate`: iomodels against the tools people
// already trust, in one run. fio's psync / io_uring / posixaio engines against
// blocking (threads) / uring / threadpool on the same data file, and sockperf
// ping-pong against epoll and blocking on TCP loopback. Each comparison runs
// interleaved (iomodels, tool, iomodels, tool, ...), and the medians of each
// side, their ratios iomodels ÷ tool and the goals are printed and written as JSON.
#include "frontend/command.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "calibrate/fio.h"
#include "calibrate/host.h"
#include "calibrate/iomodels_side.h"
#include "calibrate/process.h"
#include "calibrate/report.h"
#include "calibrate/sample.h"
#include "calibrate/sockperf.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/env.h"
#include "run/figures.h"
#include "run/session.h"

namespace iomodels::calibrate {

using namespace frontend;
namespace {

using nlohmann::json;

struct CalibrateFlags {
  std::string pairs = "3";
  std::string budget = "1s";
  std::string qd = "1,16";
  std::string size = "4KiB";
  std::string file;
  std::string file_size = "256MiB";
  std::string msg_size = "64";
  std::string only;
  std::string verify = "off";
  std::string step = "auto";
  std::string json;
  std::string fio = "fio";
  std::string sockperf = "sockperf";
};

// At least three pairs: the median of three is the smallest that ignores one
// disturbed run.
constexpr uint64_t kMinPairs = 3;

// --qd's list: each depth once, in the order given.
std::vector<uint32_t> parse_qd_list(const std::string& text) {
  std::vector<uint32_t> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw UsageError("--qd: empty item in '" + text + "'");
    const auto qd = static_cast<uint32_t>(flag_count("--qd", item, 1, 1024));
    if (std::find(out.begin(), out.end(), qd) == out.end()) out.push_back(qd);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// results/calibrate-<date>-<host>.json, for a run without --json.
std::string default_json_path() {
  char date[16];
  const time_t t = ::time(nullptr);
  tm local{};
  ::localtime_r(&t, &local);
  std::strftime(date, sizeof date, "%Y-%m-%d", &local);
  std::string host = environment().hostname;
  if (const size_t dot = host.find('.'); dot != std::string::npos) host.resize(dot);
  return "results/calibrate-" + std::string(date) + "-" + host + ".json";
}

// What to print for a tool that is not on PATH.
std::string install_hint(const std::string& tool) {
  return tool + " not found: install it with `sudo apt-get install " + tool + "` (Debian package " +
         tool + "; tools/install-deps.sh --tests installs it too)";
}

}  // namespace

namespace {

// `calibrate` as a command object: its flags, bound by CLI11, live in it.
class CalibrateCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  CalibrateFlags flags_;
  // What validate() made of the flags.
  uint64_t pairs_ = 0, budget_ns_ = 0, file_bytes_ = 0;
  std::vector<uint32_t> qds_;
  uint32_t block_ = 0, msg_bytes_ = 0;
  bool verify_ = false;
  std::string json_path_;
  OutputPath json_out_;
};

void CalibrateCommand::add_flags(CLI::App* sub) {
  CalibrateFlags& flags = flags_;
  sub->description("measure iomodels against fio and sockperf, interleaved, with ratios");
  sub->add_option("--pairs", flags.pairs,
                  "interleaved pairs per comparison (iomodels, tool, iomodels, tool, ...), >= 3")
      ->capture_default_str();
  sub->add_option("--budget", flags.budget,
                  "time per side per pair (sockperf runs whole seconds: rounded up, >= 1 s)")
      ->capture_default_str();
  sub->add_option("--qd", flags.qd, "fio part: queue depths (reads in flight), e.g. 1,16")
      ->capture_default_str();
  sub->add_option("--size", flags.size,
                  "fio part: read size, a multiple of 4 KiB (offsets random, 4 KiB aligned)")
      ->capture_default_str();
  sub->add_option("--file", flags.file,
                  "fio part: data file (default: a new one in /dev/shm, removed at the end; a "
                  "given file is kept, and reused if it holds iomodels' data of --file-size)");
  sub->add_option("--file-size", flags.file_size, "fio part: data file size")
      ->capture_default_str();
  sub->add_option("--msg-size", flags.msg_size,
                  "sockperf part: message size (sockperf each way; iomodels' response)")
      ->capture_default_str();
  sub->add_option("--only", flags.only, "run one part: fio | sockperf");
  sub->add_option("--verify", flags.verify,
                  "iomodels checks every byte: on | off (off: fio does not verify either)")
      ->capture_default_str();
  sub->add_option("--step", flags.step,
                  "iomodels' rounds per model call: round (one, as bench: every request handed "
                  "out on its own) | batch (a twentieth of the budget, as run --requests: "
                  "threads and pool tasks loop) | auto (round for threadpool, batch otherwise)")
      ->capture_default_str();
  sub->add_option("--json", flags.json,
                  "write the result here (default: results/calibrate-<date>-<host>.json)");
  sub->add_option("--fio", flags.fio, "the fio to run")->capture_default_str();
  sub->add_option("--sockperf", flags.sockperf, "the sockperf to run")->capture_default_str();
  sub->footer(
      "What each row compares (iomodels model with N reads in flight vs the tool at depth N):\n"
      "  fio psync, 1 job               vs blocking, 1 read in flight (QD 1 only: blocking is\n"
      "                                    one thread; at QD N>1 psync runs N jobs, compared\n"
      "                                    with threads, one thread per read in flight)\n"
      "  fio io_uring, iodepth N        vs uring, N reads in flight on one ring\n"
      "  fio posixaio, iodepth N        vs threadpool, N reads in flight, one worker per core\n"
      "  sockperf ping-pong, TCP        vs epoll and blocking on tcp, 1 connection, latency 0\n"
      "  sockperf ping-pong -F epoll    vs epoll (both wait in epoll_wait, then read)\n"
      "Each comparison alternates iomodels and the tool --pairs times; the medians of each\n"
      "side and their ratio iomodels / tool are printed: higher is better for ops/s, lower is\n"
      "better for p50, p99 and CPU per operation. A missing fio or sockperf skips its part.\n"
      "Example: iomodels calibrate --pairs 5 --budget 2s --json results/calibrate.json");
}

void CalibrateCommand::validate() {
  const CalibrateFlags& flags = flags_;
  pairs_ = flag_count("--pairs", flags.pairs, kMinPairs, 1000);
  budget_ns_ = flag_duration("--budget", flags.budget);
  if (budget_ns_ < 10'000'000) throw UsageError("--budget: must be at least 10ms");
  if (budget_ns_ > 3600'000'000'000ull) throw UsageError("--budget: must be at most 1h");
  qds_ = parse_qd_list(flags.qd);
  block_ = static_cast<uint32_t>(flag_size("--size", flags.size, kFileAlign, 1 << 20));
  if (block_ % kFileAlign != 0) throw UsageError("--size: must be a multiple of 4096 bytes");
  file_bytes_ = flag_size("--file-size", flags.file_size, 1 << 20, 1ull << 40);
  if (file_bytes_ % kFileAlign != 0 || file_bytes_ < 16ull * block_)
    throw UsageError("--file-size: must be a multiple of 4096 bytes and hold 16 reads");
  msg_bytes_ = static_cast<uint32_t>(flag_size("--msg-size", flags.msg_size, 14, 65507));
  if (!flags.only.empty() && flags.only != "fio" && flags.only != "sockperf")
    throw UsageError("--only: '" + flags.only + "' must be fio or sockperf");
  if (flags.verify != "on" && flags.verify != "off")
    throw UsageError("--verify: '" + flags.verify + "' must be on or off");
  verify_ = flags.verify == "on";
  if (flags.step != "auto" && flags.step != "round" && flags.step != "batch")
    throw UsageError("--step: '" + flags.step + "' must be auto, round or batch");
  json_path_ = flags.json.empty() ? default_json_path() : flags.json;

  // The default lands in results/, made if missing; any path is checked
  // before the first measurement.
  if (flags.json.empty()) {
    if (const auto dir = std::filesystem::path(json_path_).parent_path(); !dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
    }
  }
  json_out_ = check_output("--json", json_path_);
}

int CalibrateCommand::execute() {
  const CalibrateFlags& flags = flags_;
  const uint64_t pairs = pairs_, budget_ns = budget_ns_, file_bytes = file_bytes_;
  const std::vector<uint32_t>& qds = qds_;
  const uint32_t block = block_, msg_bytes = msg_bytes_;
  const bool verify = verify_;
  const std::string& json_path = json_path_;
  const OutputPath& json_out = json_out_;
  // auto: threadpool hands each request to its pool (round), as posixaio
  // hands each read to glibc's threads; every other model loops over its
  // requests (batch), as fio's jobs and sockperf's client do.
  auto step_for = [&flags](const std::string& model) {
    if (flags.step == "round") return Step::kRound;
    if (flags.step == "batch") return Step::kBatch;
    return model == "threadpool" ? Step::kRound : Step::kBatch;
  };
  const uint64_t sockperf_s = std::max<uint64_t>((budget_ns + 999'999'999) / 1'000'000'000, 1);

  Cleanup cleanup;
  const double load_at_start = load_average();
  json skipped = json::array();
  std::vector<Row> rows;

  RunOptions run;
  run.verify = verify;
  run.timeout_ns = 20'000'000'000ull;

  // --- the fio part: rows and the data file ---
  std::string data_path;
  Fd unnamed;              // the default data file, open for the whole calibration
  std::string data_label;  // how the data file is named in the report
  const bool want_fio = flags.only.empty() || flags.only == "fio";
  const std::string fio_exe = want_fio ? find_executable(flags.fio) : "";
  if (want_fio && fio_exe.empty()) {
    std::printf("skipping the fio part: %s\n", install_hint("fio").c_str());
    skipped.push_back({{"part", "fio"}, {"reason", install_hint("fio")}});
  }
  if (!fio_exe.empty()) {
    if (flags.file.empty()) {
      // Unnamed: fio and the iomodels side both open it by its /proc path,
      // and it goes with this process however that ends (kill -9 included).
      if (Status s = make_unnamed_data_file(file_bytes, &unnamed); !s.ok()) {
        std::fprintf(stderr, "iomodels: calibrate: data file: %s\n", s.message().c_str());
        return 1;
      }
      data_path = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(unnamed.get());
      data_label = std::string("an unnamed file (O_TMPFILE) in ") + kDefaultFileDir;
    } else {
      data_path = data_label = flags.file;
      struct stat st {};
      if (::stat(data_path.c_str(), &st) != 0) cleanup.own_data_file(data_path);
    }
    // Make (or check) the data file once; every sample of both sides reuses it.
    WorkloadOptions w;
    w.transport = Transport::kFile;
    w.connections = 1;
    w.size = block;
    w.file_path = data_path;
    w.file_bytes = file_bytes;
    std::unique_ptr<Workload> made;
    if (Status s = Workload::create(w, &made); !s.ok()) {
      std::fprintf(stderr, "iomodels: calibrate: data file %s: %s\n", data_path.c_str(),
                   s.message().c_str());
      return 1;
    }
    made.reset();
    for (uint32_t qd : qds) {
      struct Pair {
        const char* engine;
        const char* model;
      };
      // psync is synchronous: depth N is N jobs, matched by N threads.
      const Pair pairs_at_qd[] = {{"psync", qd == 1 ? "blocking" : "threads"},
                                  {"io_uring", "uring"},
                                  {"posixaio", "threadpool"}};
      for (const Pair& p : pairs_at_qd) {
        Row r;
        r.part = "fio";
        r.qd = qd;
        r.model = p.model;
        r.sc.model = p.model;
        r.sc.workload = w;
        r.sc.workload.connections = qd;
        r.sc.run = run;
        r.step = step_for(p.model);
        r.fio = {p.engine, qd, data_path, file_bytes, block, budget_ns};
        r.tool_command = command_text(fio_argv(fio_exe, r.fio));
        const std::string n = std::to_string(qd);
        const std::string what = std::to_string(block) + " B random reads, buffered, " +
                                 filesystem_of(data_path) + ", " + n + " in flight: ";
        if (std::string(p.engine) == "psync") {
          r.tool = "fio psync, " + n + (qd == 1 ? " job" : " jobs");
          r.compares = what + "fio psync (" + n + (qd == 1 ? " job" : " jobs, one pread each") +
                       ") vs " + p.model +
                       (qd == 1 ? " (one thread, pread)" : " (one thread per read, pread)");
        } else if (std::string(p.engine) == "io_uring") {
          r.tool = "fio io_uring, iodepth " + n;
          r.compares = what + "fio io_uring (iodepth " + n + ") vs uring (one ring)";
        } else {
          r.tool = "fio posixaio, iodepth " + n;
          r.compares = what + "fio posixaio (iodepth " + n +
                       ", glibc's aio threads) vs threadpool (one worker per core, blocking pread)";
        }
        r.goal_text = "iomodels / fio ops/s >= 1.0";
        r.goal = Goal::kOps;
        rows.push_back(std::move(r));
      }
    }
  }

  // --- the sockperf part ---
  const bool want_sockperf = flags.only.empty() || flags.only == "sockperf";
  const std::string sockperf_exe = want_sockperf ? find_executable(flags.sockperf) : "";
  if (want_sockperf && sockperf_exe.empty()) {
    std::printf("skipping the sockperf part: %s\n", install_hint("sockperf").c_str());
    skipped.push_back({{"part", "sockperf"}, {"reason", install_hint("sockperf")}});
  }
  if (!sockperf_exe.empty()) {
    struct Pair {
      const char* model;
      SockperfWait wait;
      const char* tool;
      const char* how;
    };
    const Pair pairs_sockperf[] = {
        {"epoll", SockperfWait::kRecv, "sockperf ping-pong",
         "sockperf blocks in recvfrom on both sides (its default with one connection); epoll "
         "waits in epoll_wait, then reads: one call more per round trip, and so does the peer"},
        {"blocking", SockperfWait::kRecv, "sockperf ping-pong",
         "the same calls on the client side (a blocking send, a blocking recv)"},
        {"epoll", SockperfWait::kEpoll, "sockperf ping-pong -F epoll",
         "sockperf waits in epoll_wait and then reads, on both sides: the same calls as epoll "
         "and iomodels' peer"}};
    for (const Pair& p : pairs_sockperf) {
      Row r;
      r.part = "sockperf";
      r.model = p.model;
      r.sc.model = p.model;
      r.sc.workload.transport = Transport::kTcp;
      r.sc.workload.connections = 1;
      r.sc.workload.size = msg_bytes;
      r.sc.run = run;
      r.step = step_for(p.model);
      r.sockperf = p.wait;
      r.tool = p.tool;
      r.tool_command = sockperf_command(sockperf_exe, p.wait, sockperf_s, msg_bytes);
      r.compares = "round trips on TCP loopback, 1 connection, no think time, sockperf " +
                   std::to_string(msg_bytes) + " B each way, iomodels 16 B requests and " +
                   std::to_string(msg_bytes) + " B responses: " + p.how;
      if (p.wait == SockperfWait::kRecv && std::string(p.model) == "epoll")
        r.goal_text = "epoll p50 <= 1.05 x sockperf's";
      rows.push_back(std::move(r));
    }
  }

  if (rows.empty()) {
    std::printf("nothing to calibrate against: no fio or sockperf\n");
  } else {
    std::printf(
        "iomodels calibrate: %llu pairs, %s per side (sockperf: %llu s), interleaved "
        "iomodels/tool; medians\n",
        static_cast<unsigned long long>(pairs), flags.budget.c_str(),
        static_cast<unsigned long long>(sockperf_s));
    if (!verify)
      std::printf(
          "verification OFF: iomodels does not check the bytes it reads (fio and sockperf do "
          "not either); --verify on to check them\n");
    if (!data_path.empty())
      std::printf("data file %s: %llu bytes, %s\n", data_label.c_str(),
                  static_cast<unsigned long long>(file_bytes), filesystem_of(data_path).c_str());
    // On a busy machine throughput is also a share of the CPU, which moves
    // with the other load from one sample to the next.
    if (const double load = load_average(); machine_busy(load, environment().cores))
      std::printf(
          "machine busy: load average %.2f on %d cores; throughput ratios measure CPU shares as "
          "much as the I/O paths (CPU per operation does not)\n",
          load, environment().cores);
    std::fflush(stdout);
  }

  // fio's start-up CPU per row, once, before the pairs.
  for (Row& r : rows) {
    if (r.part != "fio") continue;
    if (Status s = fio_startup_cpu(fio_exe, r.fio, &r.fio.startup_cpu_s); !s.ok())
      r.failed = s.message();
  }

  // A B A B: every pair runs each row once, so drift spreads over all rows.
  // The sockperf rows of one mode share that mode's sockperf run of the pair.
  for (uint64_t p = 0; p < pairs; ++p) {
    std::fprintf(stderr, "calibrate: pair %llu of %llu\n", static_cast<unsigned long long>(p + 1),
                 static_cast<unsigned long long>(pairs));
    struct SockperfRun {
      bool ran = false;
      Status status;
      Sample sample;
    } sockperf_runs[2];
    for (size_t i = 0; i < rows.size(); ++i) {
      Row& r = rows[i];
      if (!r.failed.empty()) continue;
      Sample ours;
      if (Status s = run_iomodels(r.sc, budget_ns, r.step, &ours); !s.ok()) {
        r.failed = (s.not_applicable() ? "not applicable: " : "iomodels: ") + s.message();
        r.not_applicable = s.not_applicable();
        continue;
      }
      r.ours.push_back(std::move(ours));
      Sample theirs;
      Status s;
      if (r.part == "fio") {
        s = run_fio(fio_exe, r.fio, &theirs);
      } else {
        SockperfRun& run_of_mode = sockperf_runs[r.sockperf == SockperfWait::kRecv ? 0 : 1];
        if (!run_of_mode.ran) {
          run_of_mode.status =
              run_sockperf(sockperf_exe, r.sockperf, msg_bytes, sockperf_s, &run_of_mode.sample);
          run_of_mode.ran = true;
        }
        s = run_of_mode.status;
        theirs = run_of_mode.sample;
      }
      if (!s.ok()) {
        r.failed = s.message();
        continue;
      }
      r.theirs.push_back(std::move(theirs));
    }
  }

  for (const Row& r : rows) print_row(r);

  json doc = {
      {"kind", "iomodels calibrate"},
      {"environment", environment_json()},
      {"parameters",
       {{"pairs", pairs},
        {"budget_s", static_cast<double>(budget_ns) / 1e9},
        {"sockperf_seconds", sockperf_s},
        {"qd", qds},
        {"read_bytes", block},
        {"file", data_label},
        {"file_bytes", file_bytes},
        {"filesystem", data_path.empty() ? "" : filesystem_of(data_path)},
        {"msg_bytes", msg_bytes},
        {"verify", verify},
        {"load_average_at_start", load_at_start},
        {"step", flags.step}}},
      {"tools",
       {{"fio", fio_exe.empty() ? "" : tool_version(fio_exe)},
        {"sockperf", sockperf_exe.empty() ? "" : tool_version(sockperf_exe)}}},
      {"method",
       "each comparison alternates iomodels and the tool (iomodels first) --pairs times; "
       "medians of each side; ratio = iomodels / tool: higher is better for ops_per_s, lower "
       "is better for p50_us, p99_us and cpu_us_per_op"},
      {"rows", json::array()},
      {"skipped", skipped}};
  for (const Row& r : rows) doc["rows"].push_back(row_json(r));
  json_out.write(doc.dump(2) + "\n");
  std::printf("\nJSON: %s\n", json_path.c_str());

  for (const Row& r : rows)
    if (!r.failed.empty() && !r.not_applicable) return 1;
  return 0;
}

}  // namespace

std::unique_ptr<Command> make_calibrate_command() { return std::make_unique<CalibrateCommand>(); }

}  // namespace iomodels::calibrate
