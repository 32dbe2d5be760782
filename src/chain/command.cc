// Description: the coordinator of `iomodels chain`: checks the flags, starts
// a private nats-server (queue mode, unless --broker), starts C, B and A as
// processes of this binary, injects the faults on time, samples the queues'
// depth, B's workers and each process's CPU every 100 ms, and at the end
// reads A's and C's records: sent, delivered, lost and duplicated messages
// are counted from the verified data. Ctrl-C stops everything and removes
// the run's directory.
#include "chain/command.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "chain/fault.h"
#include "chain/net.h"
#include "chain/service.h"
#include "frontend/frontend.h"
#include "frontend/output.h"
#include "measure/env.h"
#include "measure/histogram.h"
#include "run/figures.h"

namespace iomodels::chain {
namespace {

using frontend::UsageError;

constexpr uint64_t kTickNs = 100'000'000;  // the timeline's interval
constexpr uint64_t kStartupNs = 10'000'000'000ull;

struct Flags {
  std::string mode = "sync";
  std::string rate = "500";
  std::string duration = "6s";
  std::string work = "100us";
  std::string size = "256B";
  std::string workers = "8";
  std::string callers = "64";
  std::string timeout = "5s";
  std::string ack_wait = "2s";
  std::string drain_timeout = "20s";
  std::vector<std::string> faults;
  std::string broker;
  std::string json;
} flags;

struct ServiceFlags {
  std::string role, mode, dir, t0, rate, duration, work, size, workers, callers, timeout, port_b,
      port_c, broker, prefix;
} sflags;

// --- the signal that ends a run early ----------------------------------------------

volatile sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int sig) { g_stop_signal = sig; }

struct Interrupted {};

void check_stop() {
  if (g_stop_signal != 0) throw Interrupted{};
}

void sleep_ns(uint64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1'000'000'000ull), static_cast<long>(ns % 1'000'000'000ull)};
  ::nanosleep(&ts, nullptr);
}

// --- processes -------------------------------------------------------------------

// Forks and execs `argv` with stdout and stderr to `log`; the child dies
// with this process (PR_SET_PDEATHSIG), so nothing outlives a killed run.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // The run's signals are the coordinator's: a Ctrl-C reaches the whole
    // process group, and the coordinator stops the services itself.
    ::signal(SIGINT, SIG_IGN);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// utime + stime of a process, in ns (/proc/PID/stat); 0 if it is gone.
uint64_t process_cpu_ns(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(f, s);
  const size_t close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  uint64_t ut = 0, st = 0;
  // Fields after the name: state is field 3; utime, stime are 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) ut = std::stoull(field);
    if (i == 15) st = std::stoull(field);
  }
  return (ut + st) * (1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream in(path == nullptr ? "" : path);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

std::string tail_of(const std::string& path, size_t bytes) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() > bytes) s = s.substr(s.size() - bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

void remove_tree(const std::string& dir) {
  ::nftw(
      dir.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p), 0; }, 16,
      FTW_DEPTH | FTW_PHYS);
}

template <class R>
std::vector<R> read_records(const std::string& path) {
  std::vector<R> out;
  std::ifstream f(path, std::ios::binary);
  R r;
  while (f.read(reinterpret_cast<char*>(&r), sizeof r)) out.push_back(r);
  return out;
}

// --- the run ---------------------------------------------------------------------

struct Sample {
  double t_s = 0;
  int64_t depth_ab = -1, depth_bc = -1;  // from the broker: pending + ack-pending
  uint64_t a_outstanding = 0, b_busy = 0, b_errors = 0, b_timeouts = 0;
  double cpu[kRoles + 1] = {0, 0, 0, 0};  // A, B, C, broker: % of one CPU
};

struct Config {
  Mode mode = Mode::kSync;
  ServiceOptions svc;
  uint64_t ack_wait_ns = 0, drain_timeout_ns = 0;
  std::vector<Fault> faults;
  bool private_broker = false;
  std::string nats_server;  // the binary, for a private broker
  frontend::OutputPath json;
};

// Everything a run started; the destructor stops and removes all of it, on
// every way out (the end, an error, Ctrl-C).
class Run {
 public:
  explicit Run(Config& cfg) : cfg_(cfg) {}
  ~Run() {
    teardown();
    if (!dir_.empty()) remove_tree(dir_);
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  int execute();

 private:
  void make_dir();
  void start_broker();
  void setup_queues();
  pid_t start_service(Role r);
  void wait_ready(Role r);
  void reap();
  void sample(uint64_t now);
  void apply_faults(uint64_t now);
  void teardown();
  int report();

  Config& cfg_;
  std::string exe_, dir_, broker_url_, broker_version_, broker_what_;
  pid_t broker_pid_ = -1;
  pid_t pid_[kRoles] = {-1, -1, -1};
  bool a_done_ = false;
  SharedCounters* sc_ = nullptr;
  Nats nats_;
  uint64_t t0_ = 0, load_end_ = 0, end_ = 0;
  std::vector<Sample> samples_;
  uint64_t last_cpu_[kRoles + 1] = {0, 0, 0, 0};
  uint64_t last_b_errors_ = 0, last_b_timeouts_ = 0;
  std::vector<int> fault_phase_;  // 0: not started, 1: on, 2: over
  int broker_errors_ = 0;
  bool torn_down_ = false;
};

void Run::make_dir() {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("cannot find this binary (/proc/self/exe)");
  exe_.assign(exe, static_cast<size_t>(n));
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/iomodels_chain_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("cannot create the run's directory " + tmpl + ": " +
                             std::strerror(errno));
  dir_ = tmpl;
  sc_ = map_counters(dir_, true);
  if (sc_ == nullptr) throw std::runtime_error("cannot map the shared counters in " + dir_);
}

void Run::start_broker() {
  if (!cfg_.private_broker) {
    broker_url_ = cfg_.svc.broker;
    broker_what_ = "external";
  } else {
    const int port = free_port();
    if (port <= 0) throw std::runtime_error("no free port for the broker");
    broker_url_ = "nats://127.0.0.1:" + std::to_string(port);
    broker_what_ = "private";
    broker_pid_ = spawn({cfg_.nats_server, "-js", "-sd", dir_ + "/jetstream", "-a", "127.0.0.1",
                         "-p", std::to_string(port)},
                        dir_ + "/broker.log");
    const uint64_t deadline = now_ns() + kStartupNs;
    while (nats_server_version(broker_url_, 200'000'000).empty()) {
      check_stop();
      int st;
      if (::waitpid(broker_pid_, &st, WNOHANG) == broker_pid_) {
        broker_pid_ = -1;
        throw std::runtime_error("nats-server exited at start: " +
                                 tail_of(dir_ + "/broker.log", 400));
      }
      if (now_ns() > deadline) throw std::runtime_error("nats-server did not answer within 10 s");
      sleep_ns(20'000'000);
    }
  }
  broker_version_ = nats_server_version(broker_url_, 2'000'000'000ull);
  if (broker_version_.empty())
    throw std::runtime_error("--broker: no NATS server answers at " + broker_url_);
  std::string why;
  if (nats_.connect(broker_url_, 5'000'000'000ull, &why) != NATS_OK) throw std::runtime_error(why);
}

void Run::setup_queues() {
  const std::string& p = cfg_.svc.prefix;
  for (int i = 0; i < 2; ++i) {
    const std::string stream = i == 0 ? stream_ab(p) : stream_bc(p);
    const std::string subject = i == 0 ? subject_ab(p) : subject_bc(p);
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream.c_str();
    const char* subjects[] = {subject.c_str()};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;  // durable: on disk, as a real queue keeps it
    jsErrCode err = static_cast<jsErrCode>(0);
    jsStreamInfo* si = nullptr;
    natsStatus s = js_AddStream(&si, nats_.js(), &sc, nullptr, &err);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    if (s != NATS_OK)
      throw std::runtime_error("cannot create the stream " + stream + ": " + nats_error(s, err) +
                               " (is JetStream enabled on the broker? nats-server -js)");
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = i == 0 ? kConsumerB : kConsumerC;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = static_cast<int64_t>(cfg_.ack_wait_ns);
    cc.FilterSubject = subject.c_str();
    jsConsumerInfo* ci = nullptr;
    s = js_AddConsumer(&ci, nats_.js(), stream.c_str(), &cc, nullptr, &err);
    if (ci != nullptr) jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK)
      throw std::runtime_error("cannot create the consumer of " + stream + ": " +
                               nats_error(s, err));
  }
}

pid_t Run::start_service(Role r) {
  const ServiceOptions& o = cfg_.svc;
  std::vector<std::string> a = {exe_,         "chain-service",
                                "--role",     role_name(r),
                                "--mode",     mode_name(o.mode),
                                "--dir",      dir_,
                                "--t0",       std::to_string(t0_),
                                "--rate",     std::to_string(o.rate),
                                "--duration", std::to_string(o.duration_ns) + "ns",
                                "--work",     std::to_string(o.work_ns) + "ns",
                                "--size",     std::to_string(o.size),
                                "--workers",  std::to_string(o.workers),
                                "--callers",  std::to_string(o.callers),
                                "--timeout",  std::to_string(o.timeout_ns) + "ns",
                                "--port-b",   std::to_string(o.port_b),
                                "--port-c",   std::to_string(o.port_c),
                                "--broker",   broker_url_,
                                "--prefix",   o.prefix};
  sc_->ready[static_cast<int>(r)].store(0);
  const pid_t pid = spawn(a, dir_ + "/" + role_name(r) + ".log");
  pid_[static_cast<int>(r)] = pid;
  return pid;
}

void Run::wait_ready(Role r) {
  const uint64_t deadline = now_ns() + kStartupNs;
  while (sc_->ready[static_cast<int>(r)].load() == 0) {
    check_stop();
    reap();
    if (now_ns() > deadline)
      throw std::runtime_error(std::string("service ") + role_name(r) +
                               " did not start within 10 s");
    sleep_ns(5'000'000);
  }
}

// Notices processes that ended: A when its load is done; anything else is
// the run's failure (a crash fault's kill is reaped where it is made).
void Run::reap() {
  int st;
  // The broker first: services that lost it end too, and the broker is the cause.
  if (broker_pid_ > 0 && ::waitpid(broker_pid_, &st, WNOHANG) == broker_pid_) {
    broker_pid_ = -1;
    throw std::runtime_error("the broker (nats-server) ended during the run (" +
                             (WIFSIGNALED(st) ? std::string("signal ") + strsignal(WTERMSIG(st))
                                              : "exit " + std::to_string(WEXITSTATUS(st))) +
                             "): the queue's messages are gone with it; the run is void");
  }
  for (int i = 0; i < kRoles; ++i) {
    if (pid_[i] <= 0 || ::waitpid(pid_[i], &st, WNOHANG) != pid_[i]) continue;
    pid_[i] = -1;
    const std::string log = tail_of(dir_ + "/" + role_name(static_cast<Role>(i)) + ".log", 300);
    if (i == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      a_done_ = true;
      continue;
    }
    throw std::runtime_error(std::string("service ") + role_name(static_cast<Role>(i)) +
                             " ended during the run (" +
                             (WIFSIGNALED(st) ? std::string("signal ") + strsignal(WTERMSIG(st))
                                              : "exit " + std::to_string(WEXITSTATUS(st))) +
                             ")" + (log.empty() ? "" : ": " + log));
  }
}

void Run::sample(uint64_t now) {
  Sample s;
  s.t_s = static_cast<double>(static_cast<int64_t>(now - t0_)) / 1e9;
  if (cfg_.mode == Mode::kQueue) {
    for (int i = 0; i < 2; ++i) {
      jsConsumerInfo* ci = nullptr;
      jsErrCode err = static_cast<jsErrCode>(0);
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.Wait = 1000;
      const std::string stream = i == 0 ? stream_ab(cfg_.svc.prefix) : stream_bc(cfg_.svc.prefix);
      const natsStatus st = js_GetConsumerInfo(&ci, nats_.js(), stream.c_str(),
                                               i == 0 ? kConsumerB : kConsumerC, &jo, &err);
      if (st == NATS_OK) {
        (i == 0 ? s.depth_ab : s.depth_bc) =
            static_cast<int64_t>(ci->NumPending) + ci->NumAckPending;
        broker_errors_ = 0;
      } else if (++broker_errors_ >= 20) {
        throw std::runtime_error("the broker at " + broker_url_ +
                                 " stopped answering: " + nats_error(st, err));
      }
      if (ci != nullptr) jsConsumerInfo_Destroy(ci);
    }
  }
  s.a_outstanding = sc_->a_outstanding.load();
  s.b_busy = sc_->b_busy.load();
  const uint64_t be = sc_->b_errors.load(), bt = sc_->b_timeouts.load();
  s.b_errors = be - last_b_errors_;
  s.b_timeouts = bt - last_b_timeouts_;
  last_b_errors_ = be;
  last_b_timeouts_ = bt;
  const pid_t pids[kRoles + 1] = {pid_[0], pid_[1], pid_[2], broker_pid_};
  const double span_ns =
      samples_.empty() ? static_cast<double>(kTickNs) : (s.t_s - samples_.back().t_s) * 1e9;
  for (int i = 0; i <= kRoles; ++i) {
    const uint64_t c = process_cpu_ns(pids[i]);
    // A restarted process starts again from 0.
    s.cpu[i] = c >= last_cpu_[i] && span_ns > 0
                   ? 100.0 * static_cast<double>(c - last_cpu_[i]) / span_ns
                   : 0;
    last_cpu_[i] = c;
  }
  samples_.push_back(s);
}

void Run::apply_faults(uint64_t now) {
  for (size_t i = 0; i < cfg_.faults.size(); ++i) {
    const Fault& f = cfg_.faults[i];
    const int r = static_cast<int>(f.role);
    if (fault_phase_[i] == 0 && now >= t0_ + f.at_ns) {
      fault_phase_[i] = 1;
      if (f.kind == FaultKind::kStall) ::kill(pid_[r], SIGSTOP);
      if (f.kind == FaultKind::kSlow) sc_->slow_factor[r].store(f.factor);
      if (f.kind == FaultKind::kCrash) {
        ::kill(pid_[r], SIGKILL);
        ::waitpid(pid_[r], nullptr, 0);
        pid_[r] = -1;
      }
    } else if (fault_phase_[i] == 1 && now >= t0_ + f.at_ns + f.for_ns) {
      fault_phase_[i] = 2;
      if (f.kind == FaultKind::kStall) ::kill(pid_[r], SIGCONT);
      if (f.kind == FaultKind::kSlow) sc_->slow_factor[r].store(1);
      if (f.kind == FaultKind::kCrash) start_service(f.role);
    }
  }
}

int Run::execute() {
  make_dir();
  if (cfg_.mode == Mode::kQueue) {
    start_broker();
    setup_queues();
  } else {
    cfg_.svc.port_b = free_port();
    cfg_.svc.port_c = free_port();
    if (cfg_.svc.port_b <= 0 || cfg_.svc.port_c <= 0 || cfg_.svc.port_b == cfg_.svc.port_c)
      throw std::runtime_error("no free loopback ports for B and C");
  }
  start_service(Role::kC);
  wait_ready(Role::kC);
  start_service(Role::kB);
  wait_ready(Role::kB);
  t0_ = now_ns() + 300'000'000;  // A's threads and connections are ready before the first request
  start_service(Role::kA);
  load_end_ = t0_ + cfg_.svc.duration_ns;
  fault_phase_.assign(cfg_.faults.size(), 0);
  for (int i = 0; i <= kRoles; ++i)
    last_cpu_[i] = process_cpu_ns(i < kRoles ? pid_[i] : broker_pid_);
  // The loop: faults on time (checked every ms), a sample every 100 ms,
  // until A is done and the queues are empty (or the drain timeout).
  uint64_t next_tick = t0_;
  int empty_ticks = 0;
  for (;;) {
    check_stop();
    reap();
    const uint64_t now = now_ns();
    if (now >= t0_) apply_faults(now);
    if (now >= next_tick) {
      sample(now);
      next_tick += kTickNs;
      const Sample& s = samples_.back();
      const bool empty = s.a_outstanding == 0 &&
                         (cfg_.mode == Mode::kSync || (s.depth_ab == 0 && s.depth_bc == 0));
      empty_ticks = empty ? empty_ticks + 1 : 0;
      const bool faults_over =
          std::all_of(fault_phase_.begin(), fault_phase_.end(), [](int p) { return p == 2; });
      if (a_done_ && faults_over && empty_ticks >= 2) break;
      if (now > load_end_ + cfg_.drain_timeout_ns && faults_over) break;
    }
    sleep_ns(1'000'000);
  }
  end_ = now_ns();
  teardown();
  return report();
}

void Run::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  for (int i = 0; i < kRoles; ++i) {
    if (pid_[i] <= 0) continue;
    ::kill(pid_[i], SIGKILL);
    ::waitpid(pid_[i], nullptr, 0);
    pid_[i] = -1;
  }
  if (!cfg_.private_broker && nats_.js() != nullptr) {
    // An existing broker keeps nothing of the run.
    for (const std::string& s : {stream_ab(cfg_.svc.prefix), stream_bc(cfg_.svc.prefix)})
      js_DeleteStream(nats_.js(), s.c_str(), nullptr, nullptr);
  }
  if (broker_pid_ > 0) {
    ::kill(broker_pid_, SIGTERM);
    const uint64_t deadline = now_ns() + 5'000'000'000ull;
    while (::waitpid(broker_pid_, nullptr, WNOHANG) == 0) {
      if (now_ns() > deadline) {
        ::kill(broker_pid_, SIGKILL);
        ::waitpid(broker_pid_, nullptr, 0);
        break;
      }
      sleep_ns(10'000'000);
    }
    broker_pid_ = -1;
  }
}

double us(uint64_t ns) { return static_cast<double>(ns) / 1e3; }

nlohmann::json p_or_null(const Histogram& h, double q) {
  return h.count() == 0 ? nlohmann::json(nullptr) : nlohmann::json(us(h.percentile(q)));
}

int Run::report() {
  const auto a = read_records<ARecord>(a_records_path(dir_));
  const auto c = read_records<CRecord>(c_records_path(dir_));
  const uint64_t sent = sc_->a_sent.load();
  uint64_t first_fault = UINT64_MAX, last_fault_end = 0;
  for (const Fault& f : cfg_.faults) {
    first_fault = std::min(first_fault, t0_ + f.at_ns);
    last_fault_end = std::max(last_fault_end, t0_ + f.at_ns + f.for_ns);
  }
  const size_t n_ticks = samples_.size();
  struct Bin {
    Histogram lat, e2e;
    uint64_t accepted = 0, errors = 0, timeouts = 0, delivered = 0;
  };
  std::vector<Bin> bins(std::max<size_t>(n_ticks, 1));
  auto bin_of = [&](uint64_t t) -> Bin* {
    if (t < t0_) return &bins[0];
    const size_t k = static_cast<size_t>((t - t0_) / kTickNs);
    return k < bins.size() ? &bins[k] : nullptr;
  };
  Histogram before, during, all;
  uint64_t accepted = 0, a_errors = 0, a_timeouts = 0;
  std::unordered_map<uint64_t, uint32_t> accepted_ids;
  for (const ARecord& r : a) {
    const uint64_t lat = r.done_ns > r.sched_ns ? r.done_ns - r.sched_ns : 0;
    all.record(lat);
    if (r.sched_ns < first_fault)
      before.record(lat);
    else if (r.sched_ns <= last_fault_end)
      during.record(lat);
    Bin* b = bin_of(r.sched_ns);
    if (b != nullptr) b->lat.record(lat);
    // Latency by when a request was due; answers and errors by when A had
    // them, so a stall shows as a gap in A's throughput.
    Bin* d = bin_of(r.done_ns);
    if (r.status == kAccepted) {
      ++accepted;
      accepted_ids[r.id] = 0;
      if (d != nullptr) ++d->accepted;
    } else {
      ++a_errors;
      if (r.status == kTimeout) ++a_timeouts;
      if (d != nullptr) ++(r.status == kTimeout ? d->timeouts : d->errors);
    }
  }
  std::unordered_map<uint64_t, uint32_t> seen;
  uint64_t corrupt = 0;
  Histogram e2e;
  for (const CRecord& r : c) {
    if (r.ok == 0) {
      ++corrupt;
      continue;
    }
    if (seen[r.id]++ != 0) continue;
    const uint64_t lat = r.done_ns > r.a_ns ? r.done_ns - r.a_ns : 0;
    e2e.record(lat);
    if (Bin* b = bin_of(r.done_ns)) {
      ++b->delivered;
      b->e2e.record(lat);
    }
  }
  uint64_t delivered = seen.size(), duplicates = 0, lost = 0;
  for (const auto& [id, n] : seen) duplicates += n - 1;
  for (const auto& [id, n] : accepted_ids)
    if (seen.find(id) == seen.end()) ++lost;

  // The backlog: what waits between A and C. Queue mode: the broker's
  // pending and unacknowledged messages; sync mode: A's requests due and not
  // yet answered (they wait in A, B and C's sockets and threads).
  auto backlog = [&](const Sample& s) {
    return cfg_.mode == Mode::kQueue ? static_cast<double>(std::max<int64_t>(s.depth_ab, 0) +
                                                           std::max<int64_t>(s.depth_bc, 0))
                                     : static_cast<double>(s.a_outstanding);
  };
  double backlog_max = 0, steady = 0;
  for (const Sample& s : samples_) {
    backlog_max = std::max(backlog_max, backlog(s));
    if (first_fault != UINT64_MAX && t0_ + static_cast<uint64_t>(s.t_s * 1e9) < first_fault &&
        s.t_s >= 0.5)
      steady = std::max(steady, backlog(s));
  }
  nlohmann::json drain = nullptr;
  if (!cfg_.faults.empty()) {
    const double fault_end_s = static_cast<double>(last_fault_end - t0_) / 1e9;
    // Back to its steady level: at most the highest backlog sampled before
    // the first fault (after the first 0.5 s), and never less than 2.
    for (const Sample& s : samples_)
      if (s.t_s >= fault_end_s && backlog(s) <= std::max(steady, 2.0)) {
        drain = s.t_s - fault_end_s;
        break;
      }
  }

  nlohmann::json timeline = nlohmann::json::array();
  for (size_t k = 0; k < n_ticks; ++k) {
    const Sample& s = samples_[k];
    const Bin& b = bins[k];
    timeline.push_back(
        {{"t_s", static_cast<double>(k) * 0.1},
         {"a_accepted_per_s", static_cast<double>(b.accepted) * 10.0},
         {"a_p50_us", p_or_null(b.lat, 0.5)},
         {"a_p99_us", p_or_null(b.lat, 0.99)},
         {"a_errors", b.errors},
         {"a_timeouts", b.timeouts},
         {"a_outstanding", s.a_outstanding},
         {"b_busy", s.b_busy},
         {"b_errors", s.b_errors},
         {"b_timeouts", s.b_timeouts},
         {"depth_ab", s.depth_ab < 0 ? nlohmann::json(nullptr) : nlohmann::json(s.depth_ab)},
         {"depth_bc", s.depth_bc < 0 ? nlohmann::json(nullptr) : nlohmann::json(s.depth_bc)},
         {"backlog", backlog(s)},
         {"delivered_per_s", static_cast<double>(b.delivered) * 10.0},
         {"e2e_p50_us", p_or_null(b.e2e, 0.5)},
         {"e2e_p99_us", p_or_null(b.e2e, 0.99)},
         {"cpu_a_pct", s.cpu[0]},
         {"cpu_b_pct", s.cpu[1]},
         {"cpu_c_pct", s.cpu[2]},
         {"cpu_broker_pct", s.cpu[3]}});
  }
  nlohmann::json faults = nlohmann::json::array();
  for (const Fault& f : cfg_.faults)
    faults.push_back({{"kind", fault_kind_name(f.kind)},
                      {"service", role_name(f.role)},
                      {"at_s", static_cast<double>(f.at_ns) / 1e9},
                      {"for_s", static_cast<double>(f.for_ns) / 1e9},
                      {"factor", f.factor},
                      {"text", f.text}});
  const ServiceOptions& o = cfg_.svc;
  nlohmann::json out = {
      {"mode", mode_name(o.mode)},
      {"sent", sent},
      {"accepted", accepted},
      {"delivered", delivered},
      {"lost", lost},
      {"duplicates", duplicates},
      {"corrupt", corrupt},
      {"a_errors", a_errors},
      {"a_timeouts", a_timeouts},
      // Due but never answered before the drain timeout ended the run.
      {"a_unanswered", sent - std::min<uint64_t>(sent, a.size())},
      {"b_errors", sc_->b_errors.load()},
      {"b_timeouts", sc_->b_timeouts.load()},
      {"a_p50_us", p_or_null(all, 0.5)},
      {"a_p99_us", p_or_null(all, 0.99)},
      {"a_p99_us_before_fault", p_or_null(cfg_.faults.empty() ? all : before, 0.99)},
      {"a_p99_us_during_fault", p_or_null(during, 0.99)},
      {"e2e_p50_us", p_or_null(e2e, 0.5)},
      {"e2e_p99_us", p_or_null(e2e, 0.99)},
      {"backlog_max", backlog_max},
      {"backlog_steady", steady},
      {"drain_s", drain},
      {"broker", cfg_.mode == Mode::kQueue
                     ? nlohmann::json{{"what", "nats-server (JetStream, file storage)"},
                                      {"started", broker_what_},
                                      {"url", broker_url_},
                                      {"version", broker_version_}}
                     : nlohmann::json(nullptr)},
      {"parameters",
       {{"rate", o.rate},
        {"duration_s", static_cast<double>(o.duration_ns) / 1e9},
        {"work_us", us(o.work_ns)},
        {"size", o.size},
        {"workers", o.workers},
        {"callers", o.callers},
        {"timeout_s", static_cast<double>(o.timeout_ns) / 1e9},
        {"ack_wait_s", static_cast<double>(cfg_.ack_wait_ns) / 1e9}}},
      {"faults", faults},
      {"interval_s", 0.1},
      {"timeline", timeline},
      {"environment", environment_json()},
      {"load_average", load_average()}};

  // The console summary.
  auto num = [](const nlohmann::json& j) {
    if (j.is_null()) return std::string("-");
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", j.get<double>());
    return std::string(b);
  };
  std::printf("chain --mode %s: %llu req/s for %.1f s, work %.0f us", mode_name(o.mode),
              static_cast<unsigned long long>(o.rate), static_cast<double>(o.duration_ns) / 1e9,
              us(o.work_ns));
  for (const Fault& f : cfg_.faults) std::printf(", fault %s", f.text.c_str());
  std::printf("\n");
  if (o.mode == Mode::kQueue)
    std::printf("  broker: nats-server %s (%s, %s)\n", broker_version_.c_str(),
                broker_what_.c_str(), broker_url_.c_str());
  std::printf("  A: sent %llu, accepted %llu, errors %llu (timeouts %llu); p50 %s us, p99 %s us\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(a_errors),
              static_cast<unsigned long long>(a_timeouts), num(out["a_p50_us"]).c_str(),
              num(out["a_p99_us"]).c_str());
  if (!cfg_.faults.empty())
    std::printf("  A's p99: %s us before the fault, %s us during it\n",
                num(out["a_p99_us_before_fault"]).c_str(),
                num(out["a_p99_us_during_fault"]).c_str());
  std::printf("  B: errors %llu, timeouts %llu\n",
              static_cast<unsigned long long>(sc_->b_errors.load()),
              static_cast<unsigned long long>(sc_->b_timeouts.load()));
  std::printf(
      "  C: delivered %llu, lost %llu, duplicates %llu, corrupt %llu; end-to-end p50 %s us, p99 %s "
      "us\n",
      static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(corrupt),
      num(out["e2e_p50_us"]).c_str(), num(out["e2e_p99_us"]).c_str());
  std::printf(
      "  backlog (%s): max %.0f, drained %s\n",
      o.mode == Mode::kQueue ? "broker's pending + unacknowledged" : "A's unanswered requests",
      backlog_max,
      drain.is_null()
          ? (cfg_.faults.empty() ? "-" : "never within the run")
          : (std::to_string(drain.get<double>()).substr(0, 4) + " s after the fault").c_str());
  std::fflush(stdout);
  if (cfg_.json.given()) cfg_.json.write(out.dump(2) + "\n");
  return corrupt == 0 ? 0 : 1;
}

}  // namespace

CLI::App* add_chain(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("chain",
                                     "services A -> B -> C as processes: synchronous calls against "
                                     "a JetStream queue, faults injected");
  sub->footer(
      "Services A -> B -> C as processes: a synchronous call chain (--mode sync) against a "
      "message\n"
      "queue on a real broker (--mode queue: NATS JetStream), with faults injected into B or C.\n"
      "A receives an open-loop stream of --rate requests/s (latency from each request's scheduled\n"
      "time). sync: A calls B, B (a pool of --workers) calls C, over loopback TCP. queue: A "
      "publishes\n"
      "to a durable stream and is done when the broker accepts; B consumes, works and publishes "
      "on;\n"
      "C consumes, works and acknowledges (at-least-once: duplicates counted, never hidden).\n"
      "Every message C finishes is verified (id and payload); lost and duplicated are counted "
      "from\n"
      "that data. Measured per 100 ms and in total; --json writes it all, tools/plot_chain.py "
      "draws it.\n"
      "Examples:\n"
      "  iomodels chain --mode sync --fault stall:C:2s@2s --json sync.json\n"
      "  iomodels chain --mode queue --fault stall:C:2s@2s --json queue.json\n"
      "  /usr/bin/python3 tools/plot_chain.py sync.json queue.json -o chain.png");
  sub->add_option("--mode", flags.mode, "sync (A calls B calls C) | queue (through the broker)")
      ->capture_default_str();
  sub->add_option("--rate", flags.rate, "requests/s offered to A (open loop)")
      ->capture_default_str();
  sub->add_option("--duration", flags.duration, "how long A is offered load (e.g. 6s)")
      ->capture_default_str();
  sub->add_option("--work", flags.work, "CPU each of B and C spends per request (e.g. 100us)")
      ->capture_default_str();
  sub->add_option("--size", flags.size, "payload bytes per message (verified at C)")
      ->capture_default_str();
  sub->add_option("--workers", flags.workers,
                  "sync: B's pool; requests beyond it wait for a worker")
      ->capture_default_str();
  sub->add_option("--callers", flags.callers, "A's requests in flight at most (its threads)")
      ->capture_default_str();
  sub->add_option("--timeout", flags.timeout,
                  "how long A and B wait for an answer (sync) or the broker's ack (queue)")
      ->capture_default_str();
  sub->add_option("--ack-wait", flags.ack_wait,
                  "queue: a message not acknowledged this long is delivered again")
      ->capture_default_str();
  sub->add_option("--drain-timeout", flags.drain_timeout,
                  "after the load, how long to wait for the backlog to empty")
      ->capture_default_str();
  sub->add_option(
      "--fault", flags.faults,
      "repeatable: stall:C:2s@3s (SIGSTOP at 3 s, SIGCONT 2 s later) | crash:C@3s+2s\n"
      "(SIGKILL at 3 s, restarted 2 s later) | slow:C:10x@3s+2s (work x10 for 2 s); B or C");
  sub->add_option(
      "--broker", flags.broker,
      "queue: nats://HOST:PORT of an existing server with JetStream (default: a private\n"
      "nats-server in a temporary directory on a free port, removed at the end)");
  sub->add_option("--json", flags.json, "write the totals, the timeline and the environment here");
  return sub;
}

int run_chain() {
  Config cfg;
  ServiceOptions& o = cfg.svc;
  if (flags.mode == "sync")
    o.mode = Mode::kSync;
  else if (flags.mode == "queue")
    o.mode = Mode::kQueue;
  else
    throw UsageError("--mode: '" + flags.mode + "' must be sync or queue");
  cfg.mode = o.mode;
  o.rate = frontend::flag_count("--rate", flags.rate, 1, 100000);
  o.duration_ns = frontend::flag_duration("--duration", flags.duration);
  if (o.duration_ns < 100'000'000 || o.duration_ns > 3600'000'000'000ull)
    throw UsageError("--duration: between 100ms and 1h");
  o.work_ns = frontend::flag_duration("--work", flags.work);
  if (o.work_ns > 1'000'000'000) throw UsageError("--work: at most 1s");
  o.size = frontend::flag_size("--size", flags.size, 1, 1 << 20);
  o.workers = frontend::flag_count("--workers", flags.workers, 1, 1024);
  o.callers = frontend::flag_count("--callers", flags.callers, 1, 1024);
  o.timeout_ns = frontend::flag_duration("--timeout", flags.timeout);
  if (o.timeout_ns < 1'000'000) throw UsageError("--timeout: at least 1ms");
  cfg.ack_wait_ns = frontend::flag_duration("--ack-wait", flags.ack_wait);
  if (cfg.ack_wait_ns < 100'000'000) throw UsageError("--ack-wait: at least 100ms");
  cfg.drain_timeout_ns = frontend::flag_duration("--drain-timeout", flags.drain_timeout);
  for (const std::string& f : flags.faults) {
    cfg.faults.push_back(parse_fault(f));
    const Fault& p = cfg.faults.back();
    if (p.at_ns + p.for_ns > o.duration_ns)
      throw UsageError("--fault: '" + f + "' ends after the load does (--duration " +
                       flags.duration + ")");
  }
  // Two faults on one service at once would undo each other's signals.
  for (size_t i = 0; i < cfg.faults.size(); ++i)
    for (size_t j = i + 1; j < cfg.faults.size(); ++j) {
      const Fault &x = cfg.faults[i], &y = cfg.faults[j];
      if (x.role == y.role && x.at_ns < y.at_ns + y.for_ns && y.at_ns < x.at_ns + x.for_ns)
        throw UsageError("--fault: '" + x.text + "' and '" + y.text +
                         "' overlap on the same service");
    }
  if (!flags.broker.empty()) {
    if (o.mode != Mode::kQueue) throw UsageError("--broker: only with --mode queue");
    std::string host;
    int port;
    if (!parse_nats_url(flags.broker, &host, &port))
      throw UsageError("--broker: '" + flags.broker + "' is not nats://HOST:PORT");
    o.broker = flags.broker;
  } else if (o.mode == Mode::kQueue) {
    cfg.private_broker = true;
    cfg.nats_server = find_in_path("nats-server");
    if (cfg.nats_server.empty())
      throw UsageError(
          "--mode queue: nats-server not found on PATH; install it with `apt-get install "
          "nats-server` "
          "(or give --broker nats://HOST:PORT)");
  }
  cfg.json = frontend::check_output("--json", flags.json);
  o.prefix = "iomodels_chain_" + std::to_string(::getpid());

  // Ctrl-C, SIGTERM and SIGHUP end the run through Run's destructor: the
  // services and the broker stopped, the directory removed; then the signal
  // takes its course.
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  try {
    int rc;
    {
      Run run(cfg);
      rc = run.execute();
    }
    nats_Close();  // the client library's threads and memory, before exit
    return rc;
  } catch (const Interrupted&) {
  } catch (const std::runtime_error&) {
    // A Ctrl-C reaches the whole process group: the broker may end of it a
    // moment before the loop sees the signal. The signal is the cause.
    if (g_stop_signal == 0) throw;
  }
  const int sig = g_stop_signal;
  std::fprintf(stderr,
               "iomodels chain: stopped by %s; the services and broker are stopped and removed\n",
               strsignal(sig));
  sys::remove_temp_paths_now();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
  return 128 + sig;
}

CLI::App* add_chain_service(CLI::App& app) {
  CLI::App* sub =
      app.add_subcommand("chain-service", "one service of `iomodels chain` (started by it)");
  sub->group("");  // hidden: only `chain` starts it
  for (auto [name, var] :
       std::initializer_list<std::pair<const char*, std::string*>>{{"--role", &sflags.role},
                                                                   {"--mode", &sflags.mode},
                                                                   {"--dir", &sflags.dir},
                                                                   {"--t0", &sflags.t0},
                                                                   {"--rate", &sflags.rate},
                                                                   {"--duration", &sflags.duration},
                                                                   {"--work", &sflags.work},
                                                                   {"--size", &sflags.size},
                                                                   {"--workers", &sflags.workers},
                                                                   {"--callers", &sflags.callers},
                                                                   {"--timeout", &sflags.timeout},
                                                                   {"--port-b", &sflags.port_b},
                                                                   {"--port-c", &sflags.port_c},
                                                                   {"--broker", &sflags.broker},
                                                                   {"--prefix", &sflags.prefix}})
    sub->add_option(name, *var)->required();
  return sub;
}

int run_chain_service() {
  ServiceOptions o;
  if (sflags.role == "A")
    o.role = Role::kA;
  else if (sflags.role == "B")
    o.role = Role::kB;
  else if (sflags.role == "C")
    o.role = Role::kC;
  else
    throw UsageError("--role: A, B or C");
  o.mode = sflags.mode == "queue" ? Mode::kQueue : Mode::kSync;
  o.dir = sflags.dir;
  o.t0_ns = frontend::flag_count("--t0", sflags.t0, 0, UINT64_MAX);
  o.rate = frontend::flag_count("--rate", sflags.rate, 1, 100000);
  o.duration_ns = frontend::flag_duration("--duration", sflags.duration);
  o.work_ns = frontend::flag_duration("--work", sflags.work);
  o.size = frontend::flag_count("--size", sflags.size, 1, 1 << 20);
  o.workers = frontend::flag_count("--workers", sflags.workers, 1, 1024);
  o.callers = frontend::flag_count("--callers", sflags.callers, 1, 1024);
  o.timeout_ns = frontend::flag_duration("--timeout", sflags.timeout);
  o.port_b = static_cast<int>(frontend::flag_count("--port-b", sflags.port_b, 0, 65535));
  o.port_c = static_cast<int>(frontend::flag_count("--port-c", sflags.port_c, 0, 65535));
  o.broker = sflags.broker;
  o.prefix = sflags.prefix;
  return run_service(o);
}

}  // namespace iomodels::chain
