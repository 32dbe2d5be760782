// Description: `iomodels calibrate`: iomodels against the tools people
// already trust, in one run. fio's psync / io_uring / posixaio engines against
// blocking (threads) / uring / threadpool on the same data file, and sockperf
// ping-pong against epoll and blocking on TCP loopback. Each comparison runs
// interleaved (iomodels, tool, iomodels, tool, ...), and the medians of each
// side, their ratios iomodels ÷ tool and the goals are printed and written as JSON.
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <vector>

#include "calibrate/command.h"
#include "frontend/frontend.h"
#include "run/figures.h"
#include "run/session.h"
#include "measure/env.h"
#include "workload/parse.h"

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
} flags;

// The issue asks for at least three pairs: the median of three is the
// smallest that ignores one disturbed run.
constexpr uint64_t kMinPairs = 3;
// In batch steps the iomodels side runs about a twentieth of the budget (at
// least this long) per call, so it stops near the budget like fio does. Every
// call ends in a barrier (all reads of the call done), which fio's free-running
// jobs do not have: few calls keep that cost small.
constexpr uint64_t kMinChunkNs = 10'000'000;
constexpr uint64_t kChunksPerBudget = 20;
// Untimed warm-up before each iomodels sample, as a fraction of the budget.
constexpr uint64_t kWarmupDivisor = 10;
// A tool that outlives its budget by this much is killed and reported.
constexpr uint64_t kToolGraceNs = 60'000'000'000ull;
// sockperf's own warm-up and tear-down add about 2.5 s to every run here.
constexpr uint64_t kSockperfOverheadNs = 10'000'000'000ull;

// --- cleanup on every exit path, signals included ---------------------------

// What an interrupted calibration leaves behind: the data file it made and
// the tools it started. Kept in plain storage so the signal handler can use it.
char g_data_path[4096];
std::atomic<pid_t> g_children[2];

void forget_child(pid_t pid) {
  for (auto& c : g_children) {
    pid_t p = pid;
    c.compare_exchange_strong(p, 0);
  }
}
void remember_child(pid_t pid) {
  for (auto& c : g_children) {
    pid_t zero = 0;
    if (c.compare_exchange_strong(zero, pid)) return;
  }
}

extern "C" void on_fatal_signal(int sig) {
  // Only async-signal-safe calls: kill, unlink, signal, raise.
  for (auto& c : g_children)
    if (const pid_t p = c.load(); p > 0) ::kill(-p, SIGKILL);
  if (g_data_path[0] != '\0') ::unlink(g_data_path);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Owns the data file (when calibrate made it) and the signal handlers.
class Cleanup {
 public:
  Cleanup() {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~Cleanup() {
    if (g_data_path[0] != '\0') ::unlink(g_data_path);
    g_data_path[0] = '\0';
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;

  void own_data_file(const std::string& path) {
    std::snprintf(g_data_path, sizeof g_data_path, "%s", path.c_str());
  }

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction old_[3];
};

// --- running a tool -----------------------------------------------------------

struct ToolRun {
  int exit_code = -1;  // or 128 + signal
  bool timed_out = false;
  std::string out, err;
  double user_s = 0, sys_s = 0;  // the child's rusage from wait4: its whole life
  double wall_s = 0;
};

std::string read_memfd(int fd) {
  std::string s;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return s;
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Starts argv with stdout and stderr in memory files, in a process group of
// its own (pid = group id). The child dies with this process
// (PR_SET_PDEATHSIG). Returns the pid or -errno.
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // Its own process group: fio's job processes are stopped with it.
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execvp(args[0], args.data());
    const int e = errno;
    char msg[256];
    const int n = std::snprintf(msg, sizeof msg, "cannot run %s: %s\n", args[0], std::strerror(e));
    if (n > 0) (void)!::write(2, msg, static_cast<size_t>(n));
    ::_exit(127);
  }
  remember_child(pid);
  return pid;
}

// Waits for `pid` at most until `deadline_ns` (then kills it); its rusage.
void reap(pid_t pid, uint64_t deadline_ns, ToolRun* r) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    for (;;) {
      const uint64_t now = now_ns();
      if (now >= deadline_ns) {
        ::kill(-pid, SIGKILL);
        r->timed_out = true;
        break;
      }
      pollfd p{pidfd, POLLIN, 0};
      const int ms =
          static_cast<int>(std::min<uint64_t>((deadline_ns - now) / 1'000'000 + 1, 1000));
      const int n = ::poll(&p, 1, ms);
      if (n > 0) break;
      if (n < 0 && errno != EINTR) break;
    }
    ::close(pidfd);
  }
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  forget_child(pid);
  r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r->user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  r->sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// Runs argv to completion (at most `limit_ns`), capturing its output.
ToolRun run_tool(const std::vector<std::string>& argv, uint64_t limit_ns) {
  ToolRun r;
  Fd out(::memfd_create("calibrate-out", MFD_CLOEXEC));
  Fd err(::memfd_create("calibrate-err", MFD_CLOEXEC));
  if (!out || !err) {
    r.err = "memfd_create: " + errno_text(-errno);
    return r;
  }
  const uint64_t t0 = now_ns();
  const pid_t pid = spawn(argv, out.get(), err.get());
  if (pid < 0) {
    r.err = "fork: " + errno_text(pid);
    return r;
  }
  reap(pid, t0 + limit_ns, &r);
  r.wall_s = static_cast<double>(now_ns() - t0) / 1e9;
  r.out = read_memfd(out.get());
  r.err = read_memfd(err.get());
  return r;
}

// The first line of `text` that says something, for a one-line error.
std::string first_line(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
    start = end + 1;
  }
  return "(no output)";
}

std::string tool_failure(const std::string& tool, const ToolRun& r) {
  if (r.timed_out) return tool + " did not finish in time and was killed";
  return tool + " exited with " + std::to_string(r.exit_code) + ": " +
         first_line(r.err.empty() ? r.out : r.err);
}

// The executable `name` would run as: itself if it has a '/', else the
// first match on PATH; empty if there is none.
std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string full = dir + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
    start = end + 1;
  }
  return "";
}

std::string tool_version(const std::string& exe) {
  const ToolRun r = run_tool({exe, "--version"}, 10'000'000'000ull);
  return first_line(r.out.empty() ? r.err : r.out);
}

// --- one measurement of one side ---------------------------------------------

struct Sample {
  double ops_per_s = 0;
  double p50_us = 0, p99_us = 0;
  double cpu_us_per_op = 0;
  uint64_t ops = 0;
  double wall_s = 0;
  json extra = json::object();  // how this sample was taken (tool figures, peer state)
};

json sample_json(const Sample& s) {
  json j = {{"ops_per_s", s.ops_per_s},         {"p50_us", s.p50_us}, {"p99_us", s.p99_us},
            {"cpu_us_per_op", s.cpu_us_per_op}, {"ops", s.ops},       {"wall_s", s.wall_s}};
  for (const auto& [k, v] : s.extra.items()) j[k] = v;
  return j;
}

// How many rounds one call of the model's run() gets. A round is one request
// per connection (per read in flight); run() ends when all are done.
enum class Step {
  // One round per call, as `iomodels bench` runs every model: each request is
  // handed out on its own (threadpool submits a task per request, threads
  // wakes every thread per round), with a barrier after every round.
  kRound,
  // Rounds for a twentieth of the budget per call, as `iomodels run
  // --requests N`: each thread or pool task loops over its connection's
  // requests, as fio's jobs loop over theirs.
  kBatch,
};

const char* step_name(Step s) { return s == Step::kRound ? "round" : "batch"; }

// Rounds, `step` at a time, until `ns` have passed since the first.
Status run_for(Session& s, uint64_t ns, bool timed, Step step, uint64_t* rounds_done) {
  uint64_t chunk = 1, done = 0;
  const uint64_t chunk_ns = std::max(kMinChunkNs, ns / kChunksPerBudget);
  const uint64_t t0 = now_ns();
  for (;;) {
    const uint64_t c0 = now_ns();
    if (Status st = timed ? s.rounds(chunk) : s.warm_up(chunk); !st.ok()) return st;
    done += chunk;
    const uint64_t t = now_ns();
    if (t - t0 >= ns) break;
    if (step == Step::kRound) continue;
    const uint64_t per_round = std::max<uint64_t>((t - c0) / chunk, 1);
    const uint64_t want = std::min(chunk_ns, ns - (t - t0)) / per_round;
    // Grow at most 8x per chunk: the first rounds may be unusually fast.
    chunk = std::clamp<uint64_t>(want, 1, chunk * 8);
  }
  *rounds_done = done;
  return {};
}

// One iomodels sample: set-up and warm-up untimed, then rounds for `budget_ns`.
Status run_iomodels(const Scenario& sc, uint64_t budget_ns, Step step, Sample* out) {
  std::unique_ptr<Session> s;
  if (Status st = Session::open(sc, &s); !st.ok()) return st;
  uint64_t rounds = 0;
  if (Status st = run_for(*s, budget_ns / kWarmupDivisor, false, step, &rounds); !st.ok())
    return st;
  ScenarioResult r;
  if (Status st = s->measure(
          [&](Session& session, uint64_t* done) {
            return run_for(session, budget_ns, true, step, done);
          },
          &r);
      !st.ok())
    return st;
  const Figures& f = r.figures;
  const PeerStats& peer = r.peer;
  const uint64_t requests = r.requests;
  out->ops = requests;
  out->wall_s = r.m.wall_s;
  out->ops_per_s = f.requests_per_s;
  out->p50_us = f.p50_us;
  out->p99_us = f.p99_us;
  out->cpu_us_per_op = f.cpu_us_per_req;
  out->extra = {{"cpu_user_us_per_op", f.user_us_per_req},
                {"cpu_sys_us_per_op", f.sys_us_per_req},
                {"syscalls_per_op", f.syscalls_per_req},
                {"ctx_per_op", f.ctx_per_req}};
  if (sc.workload.transport != Transport::kFile) {
    out->extra["peer_cpu_util"] = peer.cpu_util();
    out->extra["peer_bound"] = peer.peer_bound();
  }
  return {};
}

// --- fio -------------------------------------------------------------------------

struct FioJob {
  std::string engine;  // psync | io_uring | posixaio
  uint32_t qd = 1;
  std::string path;
  uint64_t file_bytes = 0;
  uint32_t block = 4096;
  uint64_t budget_ns = 0;
  // CPU seconds (wait4) of this same command run for 1 ms: fio's start-up
  // and tear-down, subtracted from each run's process CPU.
  double startup_cpu_s = 0;
};

std::vector<std::string> fio_argv(const std::string& exe, const FioJob& j) {
  std::vector<std::string> a = {
      exe, "--name=calibrate", "--filename=" + j.path, "--readonly", "--rw=randread",
      "--bs=" + std::to_string(j.block),
      // iomodels' reads start at multiples of 4 KiB.
      "--blockalign=" + std::to_string(kFileAlign), "--size=" + std::to_string(j.file_bytes),
      "--ioengine=" + j.engine,
      // Offsets drawn with replacement, as iomodels draws them.
      "--norandommap",
      // The data stays cached, as it does for iomodels.
      "--invalidate=0", "--time_based",
      "--runtime=" + std::to_string(std::max<uint64_t>(j.budget_ns / 1'000'000, 1)) + "ms",
      "--lat_percentiles=1", "--percentile_list=50:99", "--group_reporting",
      // Jobs as threads of one process, as iomodels' threads are. fio's
      // forked jobs each call setsid(), so each is a scheduler autogroup of
      // its own: on a busy machine 16 of them took 3.5x the CPU share of 16
      // threads (671K against 189K IOPS here), which measures the scheduler.
      "--thread", "--output-format=json"};
  // psync has one read in flight per job: depth N is N jobs.
  if (j.engine == "psync")
    a.push_back("--numjobs=" + std::to_string(j.qd));
  else
    a.push_back("--iodepth=" + std::to_string(j.qd));
  return a;
}

// A percentile from fio's JSON ("50.000000": ns), in microseconds.
double fio_percentile(const json& lat, const char* key) {
  if (!lat.contains("percentile")) return 0;
  const json& p = lat.at("percentile");
  return p.contains(key) ? p.at(key).get<double>() / 1e3 : 0;
}

Status run_fio(const std::string& exe, const FioJob& j, Sample* out) {
  const std::vector<std::string> argv = fio_argv(exe, j);
  const ToolRun r = run_tool(argv, j.budget_ns + kToolGraceNs);
  if (r.exit_code != 0 || r.timed_out) return Status::error(tool_failure("fio", r));
  // fio may print notes before its JSON.
  const size_t brace = r.out.find('{');
  const json doc =
      json::parse(brace == std::string::npos ? std::string() : r.out.substr(brace), nullptr, false);
  if (doc.is_discarded() || !doc.contains("jobs") || doc.at("jobs").empty())
    return Status::error("fio printed no JSON result: " + first_line(r.out + r.err));
  const json& job = doc.at("jobs").at(0);
  if (job.value("error", 0) != 0)
    return Status::error("fio job failed with error " + std::to_string(job.value("error", 0)) +
                         ": " + first_line(r.err));
  const json& rd = job.at("read");
  const double ios = rd.at("total_ios").get<double>();
  if (ios <= 0) return Status::error("fio read nothing: " + first_line(r.err));
  // fio's own CPU figures cover each job's I/O window but only the job's own
  // thread (getrusage(RUSAGE_THREAD)): not the io-wq workers that run
  // io_uring's reads of tmpfs here, nor glibc's POSIX AIO threads. So CPU
  // per I/O is the process CPU of the whole fio run (wait4: every thread of
  // every fio process) less fio's start-up, measured by the same command run
  // for 1 ms; never below the job threads' own figure.
  const double job_runtime_s = job.at("job_runtime").get<double>() / 1e3;
  const double usr_s = job.at("usr_cpu").get<double>() / 100 * job_runtime_s;
  const double sys_s = job.at("sys_cpu").get<double>() / 100 * job_runtime_s;
  const double process_s = r.user_s + r.sys_s;
  const double cpu_s = std::max(process_s - j.startup_cpu_s, usr_s + sys_s);
  const json& lat = rd.contains("lat_ns") && rd.at("lat_ns").contains("percentile")
                        ? rd.at("lat_ns")
                        : rd.at("clat_ns");
  out->ops = static_cast<uint64_t>(ios);
  out->ops_per_s = rd.at("iops").get<double>();
  out->wall_s = rd.at("runtime").get<double>() / 1e3;
  out->p50_us = fio_percentile(lat, "50.000000");
  out->p99_us = fio_percentile(lat, "99.000000");
  out->cpu_us_per_op = cpu_s * 1e6 / ios;
  out->extra = {
      {"cpu_source",
       "wait4 rusage of the whole fio run (every thread) less fio's start-up (the same command "
       "run for 1 ms), at least fio's own job-thread figure"},
      {"process_cpu_s", process_s},
      {"startup_cpu_s", j.startup_cpu_s},
      {"job_thread_cpu_us_per_op", (usr_s + sys_s) * 1e6 / ios},
      {"job_thread_cpu_source",
       "fio usr_cpu + sys_cpu x job_runtime: the jobs' own threads over their I/O windows"},
      {"ctx", job.value("ctx", 0.0)}};
  return {};
}

// fio's start-up and tear-down CPU for job `j`: the median of three runs of
// the same command with a 1 ms runtime (their few reads cost microseconds).
Status fio_startup_cpu(const std::string& exe, FioJob j, double* out) {
  j.budget_ns = 1'000'000;
  std::vector<double> cpu;
  for (int i = 0; i < 3; ++i) {
    const ToolRun r = run_tool(fio_argv(exe, j), j.budget_ns + kToolGraceNs);
    if (r.exit_code != 0 || r.timed_out) return Status::error(tool_failure("fio", r));
    cpu.push_back(r.user_s + r.sys_s);
  }
  std::sort(cpu.begin(), cpu.end());
  *out = cpu[1];
  return {};
}

// --- sockperf -----------------------------------------------------------------------

// A free TCP port on 127.0.0.1 (bound, read, released). Another process may
// take it before sockperf does; the caller retries then.
uint16_t free_port() {
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0)
    return 0;
  return ntohs(a.sin_port);
}

// Whether something listens on 127.0.0.1:port (from /proc/net/tcp, so the
// check itself opens no connection to the server).
bool listening(uint16_t port) {
  std::ifstream f("/proc/net/tcp");
  char want[32];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string sl, local, remote, state;
    in >> sl >> local >> remote >> state;
    if (local == want && state == "0A") return true;
  }
  return false;
}

// A number after `key` in sockperf's output, e.g. "percentile 50.000 =  17.192".
bool sockperf_number(const std::string& text, const std::string& pattern, double* out) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return false;
  *out = std::stod(m[1].str());
  return true;
}

// How sockperf waits. With one connection it blocks in recvfrom() on both
// sides; with a connection list (-f) and -F e it waits in epoll_wait() and
// then reads, on both sides: the same calls as iomodels' epoll and its peer.
enum class SockperfWait { kRecv, kEpoll };

// Where sockperf finds its connection: "-i 127.0.0.1 -p PORT", or for the
// epoll mode "-f FILE -F e" with FILE a memory file this process passes on
// (inherited, so /dev/fd/N names it in the child too).
std::vector<std::string> sockperf_target(SockperfWait wait, uint16_t port, int list_fd) {
  if (wait == SockperfWait::kRecv) return {"--tcp", "-i", "127.0.0.1", "-p", std::to_string(port)};
  return {"-f", "/dev/fd/" + std::to_string(list_fd), "-F", "e"};
}

std::string sockperf_command(const std::string& exe, SockperfWait wait, uint64_t seconds,
                             uint32_t msg_bytes) {
  const std::string target = wait == SockperfWait::kRecv ? "--tcp -i 127.0.0.1 -p PORT"
                                                         : "-f LIST -F e (LIST: T:127.0.0.1:PORT)";
  return exe + " sr " + target + " & " + exe + " pp " + target + " -t " + std::to_string(seconds) +
         " -m " + std::to_string(msg_bytes) + " --full-rtt";
}

Status run_sockperf(const std::string& exe, SockperfWait wait, uint32_t msg_bytes, uint64_t seconds,
                    Sample* out) {
  ToolRun server;
  uint16_t port = 0;
  pid_t spid = -1;
  Fd sout(::memfd_create("sockperf-server", MFD_CLOEXEC));
  if (!sout) return Status::from_errno(-errno, "memfd_create");
  // Not close-on-exec: sockperf opens it as /dev/fd/N (epoll mode only).
  Fd list(wait == SockperfWait::kEpoll ? ::memfd_create("sockperf-conns", 0) : -1);
  if (wait == SockperfWait::kEpoll && !list) return Status::from_errno(-errno, "memfd_create");
  // A port someone else took in between is retried with another.
  for (int attempt = 0; attempt < 3 && spid < 0; ++attempt) {
    port = free_port();
    if (port == 0) return Status::error("no free TCP port on 127.0.0.1");
    if (list) {
      const std::string line = "T:127.0.0.1:" + std::to_string(port) + "\n";
      if (::ftruncate(list.get(), 0) != 0 ||
          ::pwrite(list.get(), line.data(), line.size(), 0) != static_cast<ssize_t>(line.size()))
        return Status::from_errno(-errno, "writing sockperf's connection list");
    }
    std::vector<std::string> argv = {exe, "sr"};
    for (std::string& a : sockperf_target(wait, port, list.get())) argv.push_back(std::move(a));
    const pid_t pid = spawn(argv, sout.get(), sout.get());
    if (pid < 0) return Status::from_errno(pid, "fork");
    const uint64_t deadline = now_ns() + 5'000'000'000ull;
    bool up = false, died = false;
    while (!up && !died && now_ns() < deadline) {
      up = listening(port);
      int st;
      if (!up && ::waitpid(pid, &st, WNOHANG) == pid) {
        forget_child(pid);
        died = true;
      }
      if (!up && !died) {
        const timespec ms{0, 2'000'000};
        ::nanosleep(&ms, nullptr);
      }
    }
    if (up) {
      spid = pid;
    } else if (!died) {
      ::kill(-pid, SIGKILL);
      reap(pid, now_ns(), &server);
      return Status::error("sockperf server did not listen on 127.0.0.1:" + std::to_string(port) +
                           " within 5 s");
    }
  }
  if (spid < 0)
    return Status::error("sockperf server failed to start: " + first_line(read_memfd(sout.get())));

  std::vector<std::string> argv = {exe, "pp"};
  for (std::string& a : sockperf_target(wait, port, list.get())) argv.push_back(std::move(a));
  for (const std::string& a : {std::string("-t"), std::to_string(seconds), std::string("-m"),
                               std::to_string(msg_bytes), std::string("--full-rtt")})
    argv.push_back(a);
  const ToolRun r = run_tool(argv, seconds * 1'000'000'000ull + kSockperfOverheadNs + kToolGraceNs);
  ::kill(-spid, SIGTERM);
  reap(spid, now_ns() + 5'000'000'000ull, &server);
  if (r.exit_code != 0 || r.timed_out) return Status::error(tool_failure("sockperf", r));
  const std::string text = r.out + r.err;
  double valid_s = 0, valid_rx = 0, total_tx = 0, p50 = 0, p99 = 0;
  const std::string num = R"(([0-9]+(?:\.[0-9]+)?))";
  if (!sockperf_number(text, R"(\[Valid Duration\] RunTime=)" + num, &valid_s) ||
      !sockperf_number(text, R"(\[Valid Duration\].*ReceivedMessages=)" + num, &valid_rx) ||
      !sockperf_number(text, R"(\[Total Run\].*SentMessages=)" + num, &total_tx) ||
      !sockperf_number(text, R"(percentile 50\.000 =\s*)" + num, &p50) ||
      !sockperf_number(text, R"(percentile 99\.000 =\s*)" + num, &p99) || valid_s <= 0 ||
      total_tx <= 0)
    return Status::error("sockperf printed no result: " + first_line(text));
  out->ops = static_cast<uint64_t>(valid_rx);
  out->wall_s = valid_s;
  out->ops_per_s = valid_rx / valid_s;
  out->p50_us = p50;
  out->p99_us = p99;
  // The client's rusage over its life, per message it sent in that life.
  out->cpu_us_per_op = (r.user_s + r.sys_s) * 1e6 / total_tx;
  out->extra = {
      {"cpu_user_us_per_op", r.user_s * 1e6 / total_tx},
      {"cpu_sys_us_per_op", r.sys_s * 1e6 / total_tx},
      {"cpu_source", "wait4 rusage of the sockperf client over its whole life / its SentMessages"},
      {"messages_sent", total_tx}};
  return {};
}

// --- rows, medians, output ---------------------------------------------------------

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Medians {
  double ops_per_s = 0, p50_us = 0, p99_us = 0, cpu_us_per_op = 0;
};

Medians medians(const std::vector<Sample>& s) {
  auto of = [&](double Sample::*f) {
    std::vector<double> v;
    for (const Sample& x : s) v.push_back(x.*f);
    return median(v);
  };
  return {of(&Sample::ops_per_s), of(&Sample::p50_us), of(&Sample::p99_us),
          of(&Sample::cpu_us_per_op)};
}

double ratio(double ours, double theirs) { return theirs > 0 ? ours / theirs : 0; }

struct Row {
  std::string part;  // "fio" | "sockperf"
  uint32_t qd = 1;
  std::string tool;  // "fio psync, 16 jobs"
  std::string tool_command;
  std::string model;
  std::string compares;  // what the row compares, in words
  Scenario sc;
  FioJob fio;                                   // the fio part only
  SockperfWait sockperf = SockperfWait::kRecv;  // the sockperf part only
  Step step = Step::kBatch;                     // how the iomodels side is driven
  std::vector<Sample> ours, theirs;
  std::string failed;           // why the row has no result
  bool not_applicable = false;  // the kernel lacks a feature: reported, not a failure
  // The goal, if the issue sets one for this row.
  std::string goal_text;
  bool goal_on_ops = false;  // ops ratio >= 1.0; else p50 ratio <= 1.05
};

bool goal_met(const Row& r, const Medians& a, const Medians& b) {
  return r.goal_on_ops ? ratio(a.ops_per_s, b.ops_per_s) >= 1.0 : ratio(a.p50_us, b.p50_us) <= 1.05;
}

void print_row(const Row& r) {
  std::printf("\n%s\n  %s\n  iomodels step: %s\n",
              (r.part == "fio" ? "QD " + std::to_string(r.qd) + ": " : "")
                  .append(r.model + " vs " + r.tool)
                  .c_str(),
              r.compares.c_str(),
              r.step == Step::kRound ? "round (one request per read in flight per call, as bench)"
                                     : "batch (each connection loops over its requests)");
  if (!r.failed.empty()) {
    std::printf("  no result: %s\n", r.failed.c_str());
    return;
  }
  const Medians a = medians(r.ours), b = medians(r.theirs);
  std::printf("  %-28s %12s %10s %10s %12s\n", "median of each side", "ops/s", "p50 us", "p99 us",
              "CPU us/op");
  std::printf("  %-28s %12.0f %10.2f %10.2f %12.2f\n", ("iomodels " + r.model).c_str(), a.ops_per_s,
              a.p50_us, a.p99_us, a.cpu_us_per_op);
  std::printf("  %-28s %12.0f %10.2f %10.2f %12.2f\n", r.tool.substr(0, 28).c_str(), b.ops_per_s,
              b.p50_us, b.p99_us, b.cpu_us_per_op);
  std::printf("  %-28s %11.2fx %9.2fx %9.2fx %11.2fx\n", "iomodels / tool",
              ratio(a.ops_per_s, b.ops_per_s), ratio(a.p50_us, b.p50_us), ratio(a.p99_us, b.p99_us),
              ratio(a.cpu_us_per_op, b.cpu_us_per_op));
  if (!r.goal_text.empty())
    std::printf("  goal %s: %s\n", r.goal_text.c_str(), goal_met(r, a, b) ? "met" : "NOT met");
}

json medians_json(const Medians& m) {
  return {{"ops_per_s", m.ops_per_s},
          {"p50_us", m.p50_us},
          {"p99_us", m.p99_us},
          {"cpu_us_per_op", m.cpu_us_per_op}};
}

json row_json(const Row& r) {
  json j = {{"part", r.part},           {"model", r.model},
            {"tool", r.tool},           {"tool_command", r.tool_command},
            {"compares", r.compares},   {"scenario", scenario_json(r.sc)},
            {"step", step_name(r.step)}};
  if (r.part == "fio") j["qd"] = r.qd;
  if (!r.failed.empty()) {
    j[r.not_applicable ? "not_applicable" : "failed"] = r.failed;
    return j;
  }
  auto samples = [](const std::vector<Sample>& v) {
    json a = json::array();
    for (const Sample& s : v) a.push_back(sample_json(s));
    return a;
  };
  const Medians a = medians(r.ours), b = medians(r.theirs);
  j["iomodels"] = {{"median", medians_json(a)}, {"samples", samples(r.ours)}};
  j["tool_result"] = {{"median", medians_json(b)}, {"samples", samples(r.theirs)}};
  j["ratio"] = {{"ops_per_s", ratio(a.ops_per_s, b.ops_per_s)},
                {"p50_us", ratio(a.p50_us, b.p50_us)},
                {"p99_us", ratio(a.p99_us, b.p99_us)},
                {"cpu_us_per_op", ratio(a.cpu_us_per_op, b.cpu_us_per_op)}};
  if (!r.goal_text.empty()) j["goal"] = {{"what", r.goal_text}, {"met", goal_met(r, a, b)}};
  return j;
}

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

std::string filesystem_of(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return "unknown";
  if (fs.f_type == TMPFS_MAGIC) return "tmpfs";
  char buf[32];
  std::snprintf(buf, sizeof buf, "not tmpfs (f_type 0x%lx)", static_cast<unsigned long>(fs.f_type));
  return buf;
}

// The 1-minute load average (/proc/loadavg), or -1.
double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return f ? l : -1;
}

std::string install_hint(const std::string& tool) {
  return tool + " not found: install it with `sudo apt-get install " + tool + "` (Debian package " +
         tool + "; tools/install-deps.sh --tests installs it too)";
}

}  // namespace

CLI::App* add_calibrate(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "calibrate", "measure iomodels against fio and sockperf, interleaved, with ratios");
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
  return sub;
}

int run_calibrate() {
  const uint64_t pairs = flag_count("--pairs", flags.pairs, kMinPairs, 1000);
  const uint64_t budget_ns = flag_duration("--budget", flags.budget);
  if (budget_ns < 10'000'000) throw UsageError("--budget: must be at least 10ms");
  if (budget_ns > 3600'000'000'000ull) throw UsageError("--budget: must be at most 1h");
  const std::vector<uint32_t> qds = parse_qd_list(flags.qd);
  const auto block = static_cast<uint32_t>(flag_size("--size", flags.size, kFileAlign, 1 << 20));
  if (block % kFileAlign != 0) throw UsageError("--size: must be a multiple of 4096 bytes");
  const uint64_t file_bytes = flag_size("--file-size", flags.file_size, 1 << 20, 1ull << 40);
  if (file_bytes % kFileAlign != 0 || file_bytes < 16ull * block)
    throw UsageError("--file-size: must be a multiple of 4096 bytes and hold 16 reads");
  const auto msg_bytes = static_cast<uint32_t>(flag_size("--msg-size", flags.msg_size, 14, 65507));
  if (!flags.only.empty() && flags.only != "fio" && flags.only != "sockperf")
    throw UsageError("--only: '" + flags.only + "' must be fio or sockperf");
  if (flags.verify != "on" && flags.verify != "off")
    throw UsageError("--verify: '" + flags.verify + "' must be on or off");
  const bool verify = flags.verify == "on";
  if (flags.step != "auto" && flags.step != "round" && flags.step != "batch")
    throw UsageError("--step: '" + flags.step + "' must be auto, round or batch");
  // auto: threadpool hands each request to its pool (round), as posixaio
  // hands each read to glibc's threads; every other model loops over its
  // requests (batch), as fio's jobs and sockperf's client do.
  auto step_for = [](const std::string& model) {
    if (flags.step == "round") return Step::kRound;
    if (flags.step == "batch") return Step::kBatch;
    return model == "threadpool" ? Step::kRound : Step::kBatch;
  };
  const std::string json_path = flags.json.empty() ? default_json_path() : flags.json;
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
  const bool want_fio = flags.only.empty() || flags.only == "fio";
  const std::string fio_exe = want_fio ? find_executable(flags.fio) : "";
  if (want_fio && fio_exe.empty()) {
    std::printf("skipping the fio part: %s\n", install_hint("fio").c_str());
    skipped.push_back({{"part", "fio"}, {"reason", install_hint("fio")}});
  }
  if (!fio_exe.empty()) {
    data_path = flags.file.empty() ? std::string(kDefaultFileDir) + "/iomodels-calibrate-" +
                                         std::to_string(::getpid()) + ".data"
                                   : flags.file;
    struct stat st {};
    if (::stat(data_path.c_str(), &st) != 0) cleanup.own_data_file(data_path);
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
        r.goal_on_ops = true;
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
      std::printf("data file %s: %llu bytes, %s\n", data_path.c_str(),
                  static_cast<unsigned long long>(file_bytes), filesystem_of(data_path).c_str());
    // On a busy machine throughput is also a share of the CPU, which moves
    // with the other load from one sample to the next.
    if (const double load = load_average(); load > 0.5 * environment().cores)
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
        {"file", data_path},
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
  if (const auto dir = std::filesystem::path(json_path).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  write_file_atomically(json_path, doc.dump(2) + "\n");
  std::printf("\nJSON: %s\n", json_path.c_str());

  for (const Row& r : rows)
    if (!r.failed.empty() && !r.not_applicable) return 1;
  return 0;
}

}  // namespace iomodels::calibrate
