// Description: the coordinator of `iomodels chain`: starts a private
// nats-server (queue mode, unless --broker), starts C, B and A as processes of
// this binary, injects the faults on time, and samples the queues' depth, B's
// workers and each process's CPU every 100 ms. Ctrl-C stops everything and
// removes the run's directory.
#include "chain/run.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
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

#include "measure/env.h"
#include "measure/recorder.h"
#include "sys/cleanup.h"
#include "sys/fd.h"
#include "sys/process.h"
#include "sys/status.h"

namespace iomodels::chain {
namespace {

constexpr uint64_t kStartupNs = 10'000'000'000ull;

// --- the signal that ends a run early ----------------------------------------------

// A signal handler reaches no object, so the signal that ends a run is the
// one piece of file-scope mutable state here: set by the handler, read by the
// coordinator's loop between its steps.
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

// Starts `args` (a path and its arguments) with stdout and stderr appended
// to `log`; the child dies with this process (PR_SET_PDEATHSIG), so nothing
// outlives a killed run. It stays in this process's group and ignores SIGINT:
// a Ctrl-C reaches the whole group, and the coordinator stops the services
// itself.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  Fd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  sys::SpawnOptions o;
  o.stdout_fd = out.get();
  o.stderr_fd = out.get();
  o.search_path = false;
  o.own_group = false;
  o.ignore_sigint = true;
  sys::Child child;
  if (const long e = sys::spawn(args, o, &child); e < 0)
    throw std::runtime_error("fork: " + errno_text(e));
  if (const long e = child.start(); e < 0) {
    sys::ExitInfo gone;
    sys::reap(child.pid(), 0, 0, &gone);
    throw std::runtime_error("cannot run " + args[0] + ": " + errno_text(e));
  }
  return child.pid();
}

// utime + stime of a process, in ns; 0 if it is gone.
uint64_t cpu_ns_so_far(pid_t pid) {
  const long ns = sys::cpu_ns_of(pid);
  return ns > 0 ? static_cast<uint64_t>(ns) : 0;
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
}  // namespace

Run::~Run() {
  teardown();
  if (!dir_.empty()) remove_tree(dir_);
}

void Run::make_dir() {
  exe_ = sys::self_executable();
  if (exe_.empty()) throw std::runtime_error("cannot find this binary (/proc/self/exe)");
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
    const uint64_t c = cpu_ns_so_far(pids[i]);
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
    last_cpu_[i] = cpu_ns_so_far(i < kRoles ? pid_[i] : broker_pid_);
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
    // SIGTERM lets it close its store; SIGKILL follows if it has not ended in 5 s.
    ::kill(broker_pid_, SIGTERM);
    sys::ExitInfo gone;
    sys::reap(broker_pid_, now_ns() + 5'000'000'000ull, 0, &gone);
    broker_pid_ = -1;
  }
}

int run_chain(Config& cfg) {
  // Ctrl-C, SIGTERM and SIGHUP end the run through Run's destructor: the
  // services and the broker stopped, the directory removed; then the signal
  // takes its course. The caller's handlers come back when the run returns.
  constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction sa {
  }, before[3];
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 3; ++i) ::sigaction(kStopSignals[i], &sa, &before[i]);
  const auto restore = [&] {
    for (int i = 0; i < 3; ++i) ::sigaction(kStopSignals[i], &before[i], nullptr);
  };
  try {
    int rc;
    {
      Run run(cfg);
      rc = run.execute();
    }
    // The client library's threads and memory, waited for, so that a later
    // run in this process can open it again.
    nats_CloseAndWait(0);
    restore();
    return rc;
  } catch (const Interrupted&) {
  } catch (const std::runtime_error&) {
    // A Ctrl-C reaches the whole process group: the broker may end of it a
    // moment before the loop sees the signal. The signal is the cause.
    if (g_stop_signal == 0) {
      restore();
      throw;
    }
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

}  // namespace iomodels::chain
