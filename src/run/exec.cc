// Description: `run --exec` (see exec.h): start the peer and the program,
// sample the kernel's counters of its process tree while the peer checks
// every request, then cut the figures to the window from the peer's first
// request to its last response.
#include "run/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "measure/env.h"
#include "measure/perfcount.h"
#include "measure/recorder.h"
#include "run/exec_detail.h"
#include "sys/cpus.h"
#include "sys/fd.h"
#include "sys/process.h"
#include "workload/parse.h"

extern char** environ;

namespace iomodels {
namespace {

constexpr int kSampleMs = kExecSampleMs;            // counters read this often
constexpr uint64_t kProgressCheckNs = 250'000'000;  // the peer asked this often

// `name` as a path to an executable regular file: itself when it has a
// slash, else the first match in PATH. Empty when there is none; *why says
// what was found instead.
std::string resolve(const std::string& name, std::string* why) {
  sys::NotExecutable nx;
  std::string path = sys::find_executable(name, &nx);
  switch (nx.reason) {
    case sys::NotExecutable::Reason::kNone:
      break;
    case sys::NotExecutable::Reason::kStat:
      *why = std::strerror(nx.stat_errno);
      break;
    case sys::NotExecutable::Reason::kNotRegular:
      *why = "not a regular file";
      break;
    case sys::NotExecutable::Reason::kNoPermission:
      *why = "not executable (chmod +x, or name its interpreter: \"python3 " + name + "\")";
      break;
    case sys::NotExecutable::Reason::kNotOnPath:
      *why = "not found in PATH";
      break;
  }
  return path;
}

// The latencies the program writes on IOMODELS_REPORT_FD, line by line,
// each checked (docs/protocol.md, section 5): three unsigned decimal numbers,
// a connection the program has, an id it sends, each request once, and no
// latency longer than the program ran. The first line that fails is named.
class ReportReader {
 public:
  ReportReader(Histogram* h, uint64_t connections, uint64_t rounds)
      : h_(h), connections_(connections), rounds_(rounds) {}
  // Reads what is there; false at end of file.
  bool pump(int fd) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno == EAGAIN;
      if (n == 0) return false;
      take(buf, static_cast<size_t>(n));
    }
  }
  uint64_t count() const { return count_; }
  const std::string& error() const { return error_; }
  // After the program's exit: it ran for `life_ns`.
  void finish(uint64_t life_ns) {
    if (!partial_.empty()) fail(lines_ + 1, partial_, "has no newline at the end");
    if (longest_ns_ > life_ns)
      fail(longest_line_, longest_text_,
           "reports a latency of " + std::to_string(longest_ns_) +
               " ns, longer than the program ran (" + std::to_string(life_ns) + " ns)");
  }

 private:
  void take(const char* p, size_t n) {
    partial_.append(p, n);
    size_t at = 0;
    for (size_t nl; (nl = partial_.find('\n', at)) != std::string::npos; at = nl + 1)
      line(partial_.substr(at, nl - at));
    partial_.erase(0, at);
  }
  void fail(uint64_t n, const std::string& text, const std::string& why) {
    if (error_.empty())
      error_ = "IOMODELS_REPORT_FD: line " + std::to_string(n) + " ('" + text.substr(0, 60) +
               "') " + why + " (docs/protocol.md, section 5)";
  }
  // Three fields of decimal digits, one space apart, each below 2^64.
  static bool parse(const std::string& l, uint64_t out[3]) {
    size_t at = 0;
    for (int f = 0; f < 3; ++f) {
      if (f > 0 && (at >= l.size() || l[at++] != ' ')) return false;
      const size_t start = at;
      uint64_t v = 0;
      for (; at < l.size() && l[at] >= '0' && l[at] <= '9'; ++at) {
        const uint64_t d = static_cast<uint64_t>(l[at] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
      }
      if (at == start) return false;
      out[f] = v;
    }
    return at == l.size();
  }
  void line(const std::string& l) {
    ++lines_;
    uint64_t f[3];
    if (!parse(l, f))
      return fail(lines_, l, "is not '<conn> <id> <latency_ns>': three unsigned decimal numbers");
    const uint64_t conn = f[0], id = f[1], ns = f[2];
    if (conn >= connections_)
      return fail(lines_, l,
                  "names connection " + std::to_string(conn) + "; the program has 0.." +
                      std::to_string(connections_ - 1));
    if (id >= rounds_)
      return fail(lines_, l,
                  "names request " + std::to_string(id) + "; each connection sends ids 0.." +
                      std::to_string(rounds_ - 1));
    if (!seen_.insert(conn * rounds_ + id).second)
      return fail(lines_, l,
                  "reports request " + std::to_string(id) + " of connection " +
                      std::to_string(conn) + " a second time");
    if (ns > longest_ns_) {
      longest_ns_ = ns;
      longest_line_ = lines_;
      longest_text_ = l;
    }
    h_->record(ns);
    ++count_;
  }
  Histogram* h_;
  uint64_t connections_, rounds_;
  std::unordered_set<uint64_t> seen_;
  std::string partial_, error_, longest_text_;
  uint64_t lines_ = 0, count_ = 0, longest_ns_ = 0, longest_line_ = 0;
};

// A counter's value at time t, interpolated between the samples around it.
template <typename Get>
double at(const std::vector<CounterSample>& s, uint64_t t, Get get) {
  auto it = std::lower_bound(s.begin(), s.end(), t,
                             [](const CounterSample& c, uint64_t v) { return c.t_ns < v; });
  if (it == s.begin()) return static_cast<double>(get(s.front()));
  if (it == s.end()) return static_cast<double>(get(s.back()));
  const CounterSample& b = *it;
  const CounterSample& a = *(it - 1);
  const double f = b.t_ns == a.t_ns ? 1.0 : static_cast<double>(t - a.t_ns) / (b.t_ns - a.t_ns);
  return get(a) + f * (static_cast<double>(get(b)) - static_cast<double>(get(a)));
}

// The peer's counts of broken rules, as one clause ("2 wrong ids, 1 early").
std::string rule_text(const ExecPeerStats& x) {
  std::string s;
  const auto add = [&](uint64_t n, const char* what) {
    if (n == 0) return;
    if (!s.empty()) s += ", ";
    s += std::to_string(n) + " " + what;
  };
  add(x.early, "sent before the previous response was read (one request in flight)");
  add(x.wrong_conn, "with a wrong connection index");
  add(x.wrong_size, "with a wrong size");
  add(x.wrong_id, "with an id out of order");
  add(x.extra, "beyond IOMODELS_REQUESTS");
  if (x.refused_conns != 0)
    s += "; " + std::to_string(x.refused_conns) + " connection" +
         (x.refused_conns == 1 ? "" : "s") + " closed unanswered";
  return s;
}

}  // namespace

namespace detail {

std::vector<std::string> program_environment(const Scenario& sc, const Workload& w, int report_fd) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "IOMODELS_", 9) != 0) env.emplace_back(*e);
  const WorkloadOptions& o = w.options();
  const bool server = o.role == Role::kServer;
  const auto number = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  // The client role's rules are version 1's, unchanged; the server role's
  // are version 2's.
  env.push_back(server ? "IOMODELS_PROTOCOL=2" : "IOMODELS_PROTOCOL=1");
  env.push_back("IOMODELS_ROLE=" + std::string(role_name(o.role)));
  env.push_back("IOMODELS_TRANSPORT=" + std::string(transport_name(o.transport)));
  env.push_back("IOMODELS_CONNECTIONS=" + std::to_string(o.connections));
  env.push_back("IOMODELS_SIZE=" + std::to_string(o.size));
  if (server) {
    env.push_back("IOMODELS_OFFERED=" + number(o.offered_per_s));
    env.push_back("IOMODELS_ARRIVALS=" + std::string(arrivals_name(o.arrivals)));
  } else {
    env.push_back("IOMODELS_REQUESTS=" + std::to_string(sc.rounds));
    env.push_back("IOMODELS_RATE=" + number(sc.rate_per_s));
    env.push_back("IOMODELS_LATENCY=" + o.latency.text());
  }
  if (report_fd >= 0) env.push_back("IOMODELS_REPORT_FD=" + std::to_string(report_fd));
  if (o.transport == Transport::kTcp) {
    if (server)
      env.push_back("IOMODELS_LISTEN_FD=3");  // and systemd's LISTEN_FDS (sys::spawn)
    else
      env.push_back("IOMODELS_ADDRESS=" + w.tcp_address());
  } else {
    std::string fds;
    for (const ClientConn& c : w.conns()) {
      if (!fds.empty()) fds += ',';
      fds += std::to_string(c.rfd) + ":" + std::to_string(c.wfd);
    }
    env.push_back("IOMODELS_FDS=" + fds);
  }
  return env;
}

std::string status_text(int st) {
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st))
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(st)) + " (" +
           ::strsignal(WTERMSIG(st)) + ")";
  return "stopped";
}

Status start_program(const Scenario& sc, const ExecSpec& spec, sys::SpawnOptions so, Program* out) {
  so.search_path = false;  // spec.argv[0] is already the path resolve() found
  so.default_signals = true;
  // Held before exec: its CPUs and the counters that count from exec are
  // set on its pid first.
  so.hold = true;
  // Descendants the program orphans are re-parented here, so they can be
  // reaped when it is done, not left to init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (const long e = sys::spawn(spec.argv, so, &out->child); e < 0)
    return Status::from_errno(e, "fork(program)");
  const pid_t pid = out->pid = out->child.pid();
  // --cpus: the program where a model would run (its threads and children
  // inherit it), set before it execs.
  if (!sc.model_cpus.empty()) {
    if (Status st = sys::set_affinity(sc.model_cpus, pid); !st.ok()) {
      ::kill(pid, SIGKILL);
      int st2;
      ::waitpid(pid, &st2, 0);
      return st;
    }
  }
  out->counting = out->counters.open(pid, spec.count_syscalls, &out->counters_why);
  if (const long e = out->child.start(); e < 0) {
    int st;
    ::waitpid(pid, &st, 0);
    return Status::invalid("--exec: cannot start '" + spec.argv[0] + "': " + errno_text(e));
  }
  out->t_exec = now_ns();
  out->pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  return {};
}

void hand_connections(const Workload& w, sys::SpawnOptions* so) {
  for (const ClientConn& c : w.conns()) {
    so->keep_fds.push_back(c.rfd);
    if (c.wfd != c.rfd) so->keep_fds.push_back(c.wfd);
  }
  // The program's ends of the connections block, as a plain program
  // expects. O_NONBLOCK belongs to the open file, which the child shares:
  // clearing it here is clearing it for the child.
  for (int fd : so->keep_fds) {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
}

bool program_exited(const Program& p) {
  if (p.pidfd) {
    pollfd f{p.pidfd.get(), POLLIN, 0};
    return ::poll(&f, 1, 0) > 0;
  }
  siginfo_t si{};  // no pidfd: ask waitid instead
  return ::waitid(P_PID, static_cast<id_t>(p.pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         si.si_pid == p.pid;
}

bool kill_leftovers(pid_t pid) {
  const bool any = ::kill(-pid, 0) == 0;
  if (any) ::kill(-pid, SIGKILL);
  for (int i = 0; i < 100; ++i) {
    const pid_t r = ::waitpid(-pid, nullptr, WNOHANG);
    if (r < 0) break;  // none left in the group
    if (r == 0) ::usleep(10'000);
  }
  return any;
}

}  // namespace detail

Status parse_exec_command(const std::string& cmd, ExecSpec* out) {
  wordexp_t we{};
  const int rc = ::wordexp(cmd.c_str(), &we, WRDE_NOCMD | WRDE_UNDEF);
  if (rc != 0) {
    if (rc == 0 || rc == WRDE_NOSPACE) ::wordfree(&we);
    const char* why = rc == WRDE_BADCHAR  ? "has one of | & ; < > ( ) { } unquoted: it is run "
                                            "without a shell (wrap it: \"sh -c '...'\")"
                      : rc == WRDE_CMDSUB ? "has a command substitution"
                      : rc == WRDE_BADVAL ? "names an unset variable"
                      : rc == WRDE_SYNTAX ? "has unbalanced quotes"
                                          : "cannot be split into words";
    return Status::invalid("--exec: '" + cmd + "' " + why);
  }
  std::vector<std::string> argv(we.we_wordv, we.we_wordv + we.we_wordc);
  ::wordfree(&we);
  if (argv.empty()) return Status::invalid("--exec: no program given");
  std::string why;
  const std::string path = resolve(argv[0], &why);
  if (path.empty()) return Status::invalid("--exec: cannot start '" + argv[0] + "': " + why);
  out->command = cmd;
  out->argv = std::move(argv);
  out->argv[0] = path;
  return {};
}

std::string exec_default_name(const ExecSpec& spec) {
  const auto base = [](const std::string& p) {
    const size_t slash = p.rfind('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
  };
  // `env [-i] [-u NAME] [NAME=VALUE]... CMD ...` names CMD, not env.
  size_t k = 0;
  if (base(spec.argv.at(0)) == "env") {
    for (k = 1; k < spec.argv.size(); ++k) {
      const std::string& a = spec.argv[k];
      if (a == "-u" || a == "--unset" || a == "-C" || a == "--chdir") {
        ++k;  // and its argument
        continue;
      }
      if (a == "--") {
        ++k;
        break;
      }
      if ((!a.empty() && a[0] == '-') || a.find('=') != std::string::npos) continue;
      break;
    }
    if (k >= spec.argv.size()) return "env";
  }
  std::string name = base(spec.argv[k]);
  static constexpr const char* kInterpreters[] = {"python", "node", "sh", "bash", "perl", "ruby"};
  const bool interpreter = std::any_of(std::begin(kInterpreters), std::end(kInterpreters),
                                       [&](const char* i) { return name.rfind(i, 0) == 0; });
  if (interpreter) {
    for (size_t i = k + 1; i < spec.argv.size(); ++i) {
      const std::string& a = spec.argv[i];
      if (a.empty() || a[0] == '-') continue;
      if (::access(a.c_str(), R_OK) != 0) break;
      name = base(a);
      break;
    }
  }
  return name;
}

Status run_exec(const Scenario& sc, const ExecSpec& spec, ScenarioResult* out) {
  if (sc.workload.role == Role::kServer) return detail::run_exec_server(sc, spec, out);
  const double load = load_average();  // before anything of the run is running
  WorkloadOptions wo = sc.workload;
  wo.exec_requests = sc.rounds;
  wo.connect = false;
  std::unique_ptr<Workload> w;
  if (Status s = Workload::create(wo, &w); !s.ok()) return s;

  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Status::from_errno(-errno, "pipe(report)");
  Fd report_r(p[0]), report_w(p[1]);

  sys::SpawnOptions so;
  so.environment = detail::program_environment(sc, *w, report_w.get());
  detail::hand_connections(*w, &so);
  so.keep_fds.push_back(report_w.get());
  detail::Program prog;
  if (Status s = detail::start_program(sc, spec, so, &prog); !s.ok()) return s;
  report_w.reset();
  const pid_t pid = prog.pid;
  const uint64_t t_exec = prog.t_exec;
  const int pidfd = prog.pidfd ? prog.pidfd.get() : -1;
  const bool counting = prog.counting;
  ProcessCounters& counters = prog.counters;
  const std::string& counters_why = prog.counters_why;

  auto rx = std::make_shared<ExecRun>();
  Histogram reported;
  ReportReader reader(&reported, sc.workload.connections, sc.rounds);
  ::fcntl(report_r.get(), F_SETFL, O_NONBLOCK);
  bool report_open = true;
  std::vector<CounterSample> samples;
  if (counting) samples.push_back(counters.read());
  uint64_t next_check = t_exec + kProgressCheckNs, last_progress = t_exec, served = 0;
  bool timed_out = false;
  Status peer_error;
  for (;;) {
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {report_r.get(), POLLIN, 0}};
    const int pr = ::poll(fds, report_open ? 2 : 1, kSampleMs);
    if (counting) samples.push_back(counters.read());
    if (pr > 0 && report_open && (fds[1].revents & (POLLIN | POLLHUP)))
      report_open = reader.pump(report_r.get());
    if (pr > 0 && (fds[0].revents & POLLIN)) break;
    if (pidfd < 0) {  // no pidfd: ask waitid instead
      siginfo_t si{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          si.si_pid == pid)
        break;
    }
    const uint64_t now = now_ns();
    if (now < next_check) continue;
    next_check = now + kProgressCheckNs;
    PeerStats ps;
    if (Status s = w->peer_stats(&ps, false); !s.ok()) {
      peer_error = s;
      ::kill(-pid, SIGKILL);
      break;
    }
    if (ps.requests != served) {
      served = ps.requests;
      last_progress = now;
    } else if (now - last_progress >= sc.run.timeout_ns) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
  }
  if (counting) samples.push_back(counters.read());
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  const uint64_t t_exit = now_ns();
  // What the program left running in its group is killed and reaped.
  rx->leftovers = detail::kill_leftovers(pid);
  while (report_open) {  // what it wrote before it went
    report_open = reader.pump(report_r.get());
    if (report_open) break;  // nothing more without a writer's end of file
  }
  reader.finish(t_exit - t_exec);

  if (!peer_error.ok()) return peer_error;
  if (timed_out)
    return Status::error("the program made no request for " + format_duration(sc.run.timeout_ns) +
                         " (--timeout): killed, with its process group");
  const uint64_t want = sc.rounds * sc.workload.connections;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // Beside the program's own verdict, what the peer saw until then.
    std::string msg = "the program " + detail::status_text(status);
    PeerStats seen;
    if (w->peer_stats(&seen, false).ok() && seen.exec) {
      msg += "; the peer had served " + std::to_string(seen.requests) + " of its " +
             std::to_string(want) + " requests, " + std::to_string(seen.exec->complete_conns) +
             " of " + std::to_string(sc.workload.connections) + " connections complete";
      if (seen.exec->errors() != 0)
        msg += ", and refused requests the protocol does not allow: " + rule_text(*seen.exec);
    }
    return Status::error(msg);
  }
  PeerStats ps;
  if (Status s = w->peer_stats(&ps, false); !s.ok()) return s;
  const ExecPeerStats& x = *ps.exec;
  if (x.errors() != 0)
    return Status::error("the peer refused requests the protocol does not allow: " + rule_text(x) +
                         " (docs/protocol.md, section 2)");
  if (ps.requests < want)
    return Status::error("the program exited (status 0) after " + std::to_string(ps.requests) +
                         " of its " + std::to_string(want) + " requests; " +
                         std::to_string(x.complete_conns) + " of " +
                         std::to_string(sc.workload.connections) + " connections complete");
  if (!reader.error().empty()) return Status::error(reader.error());

  // The measurement window: the peer's first request to its last response.
  const uint64_t t0 = x.first_request_ns, t1 = std::max(x.last_response_ns, t0 + 1);
  Measurement m;
  m.wall_s = static_cast<double>(t1 - t0) / 1e9;
  const double ru_user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  const double ru_sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  rx->life_cpu_s = ru_user + ru_sys;
  double cpu_s = rx->life_cpu_s;
  if (counting) {
    const auto cpu = [](const CounterSample& c) { return c.cpu_ns; };
    const auto ctx = [](const CounterSample& c) { return c.ctx; };
    const auto calls = [](const CounterSample& c) { return c.syscalls; };
    cpu_s = (at(samples, t1, cpu) - at(samples, t0, cpu)) / 1e9;
    const double ctxs = at(samples, t1, ctx) - at(samples, t0, ctx);
    m.voluntary_ctx = static_cast<uint64_t>(std::max(0.0, ctxs) + 0.5);
    if (counters.syscalls_counted())
      m.calls.syscalls = static_cast<uint64_t>(
          std::max(0.0, at(samples, t1, calls) - at(samples, t0, calls)) + 0.5);
  } else {
    rx->counters_why = counters_why;
    m.voluntary_ctx = static_cast<uint64_t>(ru.ru_nvcsw);
    m.involuntary_ctx = static_cast<uint64_t>(ru.ru_nivcsw);
  }
  // The counters give CPU as one figure; rusage's split of the whole life
  // divides it into user and system.
  const double user_share = rx->life_cpu_s > 0 ? ru_user / rx->life_cpu_s : 1.0;
  m.user_s = cpu_s * user_share;
  m.sys_s = cpu_s - m.user_s;
  m.max_rss_kb = ru.ru_maxrss;

  rx->command = spec.command;
  rx->quadrant = spec.quadrant;
  rx->syscalls_why = !counting                     ? "the kernel's counters: " + counters_why
                     : counters.syscalls_counted() ? ""
                                                   : counters.syscalls_why();
  rx->reported = reader.count();
  rx->life_s = static_cast<double>(t_exit - t_exec) / 1e9;
  rx->startup_s = static_cast<double>(t0 > t_exec ? t0 - t_exec : 0) / 1e9;

  RunOptions run = sc.run;
  run.counters = rx->syscalls_why.empty();
  run.histogram = rx->reported > 0;
  out->m = m;
  out->latency.reset();
  if (rx->reported > 0) {
    auto raw = std::make_unique<Histogram::Raw>();
    reported.save(raw.get());
    out->latency.load(*raw);
  }
  out->peer = ps;
  out->rounds = sc.rounds;
  out->requests = want;
  out->bytes = want * sc.workload.size;
  out->figures = figures(m, out->latency, want, out->bytes, run);
  out->model_threads = 0;
  out->load_at_start = load;
  out->exec = std::move(rx);
  return {};
}

}  // namespace iomodels
