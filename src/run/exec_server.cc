// Description: `run --exec CMD --role server` (exec.h): the program is the
// server, the peer the load generator. The program is handed its listener
// (tcp, by systemd's socket activation: fd 3, LISTEN_FDS, LISTEN_PID) or its
// ends of the connections (pipe, socketpair); the generator sends on its
// schedule and checks every byte of every response. After a warm-up the
// window starts with the generator's new schedule and ends when sc.rounds
// requests per connection are answered; the kernel's counters of the
// program's process tree are read at those two edges. Then every connection
// is closed and the program is asked to stop with SIGTERM.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "measure/env.h"
#include "run/exec.h"
#include "run/exec_detail.h"
#include "run/figures.h"

namespace iomodels::detail {
namespace {

// How long the program has to exit by itself once its connections closed
// (a server that stops at the end of its connections), before SIGTERM.
constexpr uint64_t kOwnExitNs = 250'000'000;
// How long it has after SIGTERM, before SIGKILL to its group.
constexpr uint64_t kStopGraceNs = 5'000'000'000;
// How often the generator is asked how far it got, at most.
constexpr int kPollMs = 2;

// What the generator saw so far, in one clause.
std::string seen_text(const GeneratorStats& g) {
  std::string s = std::to_string(g.sent) + " requests sent, " + std::to_string(g.responses) +
                  " answered in full";
  if (g.bad_bytes != 0) s += ", " + std::to_string(g.bad_bytes) + " with a wrong byte";
  return s;
}

// A wrong byte, or a connection the generator had to close (the program
// closed it, or sent bytes nobody asked for): the run fails, naming it.
Status broken(const GeneratorStats& g, const char* phase) {
  if (g.bad_bytes != 0)
    return Status::error("the program's responses had a wrong byte (" + seen_text(g) + ", " +
                         phase +
                         "): the generator checks every byte of payload(conn, id), "
                         "docs/protocol.md");
  if (g.closed != 0)
    return Status::error("the program closed " + std::to_string(g.closed) +
                         " of its connections, "
                         "or wrote bytes no request asked for, " +
                         phase + " (" + seen_text(g) +
                         "): the generator closed them (docs/protocol.md, the server role)");
  return {};
}

// The program runs, under a progress watch: each call asks the generator,
// fails fast on a wrong byte or the program's exit, and fails when no
// response came for the scenario's --timeout.
class Watch {
 public:
  Watch(const Scenario& sc, Workload* w, Program* p) : sc_(sc), w_(w), p_(p) {}

  // Polls until the generator has `target` responses in its window (or a
  // failure). `why` names the phase in messages.
  Status until(uint64_t target, const char* phase, GeneratorStats* last) {
    uint64_t last_progress = now_ns(), seen = ~uint64_t{0};
    for (;;) {
      PeerStats ps;
      if (Status s = w_->peer_stats(&ps, false); !s.ok()) return s;
      const GeneratorStats& g = *ps.generator;
      *last = g;
      if (Status s = check(g, phase); !s.ok()) return s;
      if (g.responses >= target) return {};
      const uint64_t now = now_ns();
      if (g.responses != seen) {
        seen = g.responses;
        last_progress = now;
      } else if (now - last_progress >= sc_.run.timeout_ns) {
        return Status::error("the program answered no request for " +
                             format_duration(sc_.run.timeout_ns) + " (--timeout; " + phase + ", " +
                             seen_text(g) + ")");
      }
      if (p_->pidfd) {
        pollfd f{p_->pidfd.get(), POLLIN, 0};
        if (::poll(&f, 1, kPollMs) > 0) return exited(g, phase);
      } else {
        if (program_exited(*p_)) return exited(g, phase);
        ::usleep(kPollMs * 1000);
      }
    }
  }

  // broken(), but a connection closed by the program's death names the death.
  Status check(const GeneratorStats& g, const char* phase) {
    if (g.closed != 0 && exiting()) return exited(g, phase);
    return broken(g, phase);
  }

 private:
  // Whether the program is on its way out: a process's descriptors close
  // before its exit is seen, so a connection closed by its death is waited
  // for (100 ms) to be named as the death it is.
  bool exiting() {
    for (int i = 0; i < 20; ++i) {
      if (program_exited(*p_)) return true;
      ::usleep(5'000);
    }
    return false;
  }

  // Its end, read without reaping it (stop_program() reaps).
  Status exited(const GeneratorStats& g, const char* phase) {
    siginfo_t si{};
    ::waitid(P_PID, static_cast<id_t>(p_->pid), &si, WEXITED | WNOHANG | WNOWAIT);
    const int st = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : si.si_status;
    return Status::error("the program " + status_text(st) + " " + phase + " (" + seen_text(g) +
                         ")");
  }
  const Scenario& sc_;
  Workload* w_;
  Program* p_;
};

// Reaps the program once its connections are closed: it has kOwnExitNs to
// exit by itself, then gets SIGTERM (*termed) and kStopGraceNs more, then
// SIGKILL with its group. *status and *ru are its end. True when it went
// before SIGKILL.
bool stop_program(Program& p, int* status, rusage* ru, bool* termed) {
  *termed = false;
  uint64_t deadline = now_ns() + kOwnExitNs;
  for (;;) {
    const pid_t r = ::wait4(p.pid, status, WNOHANG, ru);
    if (r == p.pid || (r < 0 && errno != EINTR)) break;
    if (now_ns() >= deadline && !*termed) {
      *termed = true;
      ::kill(p.pid, SIGTERM);
      deadline = now_ns() + kStopGraceNs;
    } else if (now_ns() >= deadline) {
      ::kill(-p.pid, SIGKILL);
      while (::wait4(p.pid, status, 0, ru) < 0 && errno == EINTR) {
      }
      return false;
    }
    if (p.pidfd) {
      pollfd f{p.pidfd.get(), POLLIN, 0};
      ::poll(&f, 1, 10);
    } else {
      ::usleep(10'000);
    }
  }
  return true;
}

}  // namespace

Status run_exec_server(const Scenario& sc, const ExecSpec& spec, ScenarioResult* out) {
  const double load = load_average();  // before anything of the run is running
  WorkloadOptions wo = sc.workload;
  wo.connect = false;  // tcp: the listener is the program's
  std::unique_ptr<Workload> w;
  if (Status s = Workload::create(wo, &w); !s.ok()) return s;
  const bool tcp = wo.transport == Transport::kTcp;

  sys::SpawnOptions so;
  so.environment = program_environment(sc, *w, -1);
  if (tcp)
    so.listen_fd = w->program_listener();
  else
    hand_connections(*w, &so);
  // SIGTERM is how it is asked to stop: it gets it at its default.
  Program prog;
  if (Status s = start_program(sc, spec, so, &prog); !s.ok()) return s;
  w->close_client_ends();  // the program's copies are the connections' only ends
  auto rx = std::make_shared<ExecRun>();
  rx->command = spec.command;
  rx->quadrant = spec.quadrant;

  // On any failure from here: the connections go first (the generator with
  // them), then the program, and what it left.
  const auto give_up = [&](const Status& why) {
    w.reset();
    int st;
    rusage ru{};
    bool termed;
    stop_program(prog, &st, &ru, &termed);
    kill_leftovers(prog.pid);
    return why;
  };
  if (tcp) {
    if (Status s = w->connect_generator(); !s.ok()) return give_up(s);
  }
  Watch watch(sc, w.get(), &prog);
  GeneratorStats g;
  // Warm-up: every connection answered at least warmup_rounds times (the
  // program has accepted them all and is past its start-up).
  const uint64_t n = sc.workload.connections;
  if (Status s = watch.until(n * std::max<uint64_t>(1, sc.warmup_rounds), "during the warm-up", &g);
      !s.ok())
    return give_up(s);
  const uint64_t t_warm = now_ns();

  // The window: a new schedule from now, the counters read at its edges.
  // The warm-up's own figures come with the reset: what broke in it since
  // the last look fails the run too.
  PeerStats warm;
  if (Status s = w->peer_stats(&warm, true); !s.ok()) return give_up(s);
  if (Status s = watch.check(*warm.generator, "during the warm-up"); !s.ok()) return give_up(s);
  const CounterSample c0 = prog.counting ? prog.counters.read() : CounterSample{};
  const uint64_t t0 = now_ns();
  const uint64_t cpu0 = prog.counting ? 0 : static_cast<uint64_t>(sys::cpu_ns_of(prog.pid));
  const uint64_t want = sc.rounds * n;
  // Most of the window needs no asking: the schedule takes want / offered.
  const auto span_ns = static_cast<uint64_t>(static_cast<double>(want) / wo.offered_per_s * 1e9);
  if (span_ns > 20'000'000) {
    pollfd f{prog.pidfd.get(), POLLIN, 0};
    ::poll(&f, prog.pidfd ? 1 : 0, static_cast<int>((span_ns - 10'000'000) / 1'000'000));
  }
  if (Status s = watch.until(want, "during the measurement", &g); !s.ok()) return give_up(s);
  PeerStats ps;
  if (Status s = w->peer_stats(&ps, false); !s.ok()) return give_up(s);
  if (Status s = watch.check(*ps.generator, "during the measurement"); !s.ok()) return give_up(s);
  const CounterSample c1 = prog.counting ? prog.counters.read() : CounterSample{};
  const uint64_t t1 = now_ns();
  const long cpu1 = prog.counting ? 0 : sys::cpu_ns_of(prog.pid);

  // The end: the connections close (the generator exits with them), then
  // the program is asked to stop.
  w.reset();
  int status = 0;
  rusage ru{};
  bool termed = false;
  const bool in_time = stop_program(prog, &status, &ru, &termed);
  const uint64_t t_exit = now_ns();
  rx->leftovers = kill_leftovers(prog.pid);
  if (!in_time)
    return Status::error("the program did not exit within " + format_duration(kStopGraceNs) +
                         " of SIGTERM (its connections closed before): killed, with its group "
                         "(docs/protocol.md, the server role)");
  const bool by_itself = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const bool by_term = termed && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
  if (!by_itself && !by_term)
    return Status::error("the program " + status_text(status) +
                         (termed ? " on SIGTERM" : " at the end of its connections") +
                         ", after the measurement: a server exits with status 0 or by SIGTERM "
                         "(docs/protocol.md, the server role)");
  rx->ended = by_itself ? "exited with status 0" + std::string(termed ? " on SIGTERM" : "") +
                              " once its connections closed"
                        : "was stopped by SIGTERM once its connections closed";

  const GeneratorStats& gs = *ps.generator;
  Measurement m;
  m.wall_s = static_cast<double>(t1 - t0) / 1e9;
  const double ru_user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  const double ru_sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  rx->life_cpu_s = ru_user + ru_sys;
  double cpu_s;
  if (prog.counting) {
    cpu_s = static_cast<double>(c1.cpu_ns - c0.cpu_ns) / 1e9;
    m.voluntary_ctx = c1.ctx - c0.ctx;
    if (prog.counters.syscalls_counted()) m.calls.syscalls = c1.syscalls - c0.syscalls;
  } else {
    // /proc/PID/stat: the program's threads, not the children it made.
    cpu_s =
        cpu1 >= 0 ? static_cast<double>(static_cast<uint64_t>(cpu1) - cpu0) / 1e9 : rx->life_cpu_s;
    rx->counters_why = prog.counters_why +
                       "; CPU from /proc/PID/stat over the window (the "
                       "program's own threads, not its children), no "
                       "context switches";
  }
  const double user_share = rx->life_cpu_s > 0 ? ru_user / rx->life_cpu_s : 1.0;
  m.user_s = cpu_s * user_share;
  m.sys_s = cpu_s - m.user_s;
  m.max_rss_kb = ru.ru_maxrss;

  rx->syscalls_why = !prog.counting ? "the kernel's counters: " + prog.counters_why
                     : prog.counters.syscalls_counted() ? ""
                                                        : prog.counters.syscalls_why();
  rx->life_s = static_cast<double>(t_exit - prog.t_exec) / 1e9;
  rx->startup_s = static_cast<double>(t_warm - prog.t_exec) / 1e9;

  RunOptions run = sc.run;
  run.counters = rx->syscalls_why.empty();
  run.histogram = true;
  out->m = m;
  // The generator's latency: from each request's scheduled time.
  out->latency = gs.corrected;
  out->peer = ps;
  out->requests = gs.responses;
  out->rounds = gs.responses / n;
  out->bytes = gs.responses * sc.workload.size;
  out->figures = figures(m, out->latency, out->requests, out->bytes, run);
  out->model_threads = 0;
  out->load_at_start = load;
  out->exec = std::move(rx);
  return {};
}

}  // namespace iomodels::detail
