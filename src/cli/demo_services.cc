// Description: the demo's services story (demo_services.h): this binary's
// `chain` subcommand run twice as a child process (sys::spawn), its JSON
// read back.
#include "cli/demo_services.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "sys/fd.h"
#include "sys/process.h"
#include "sys/status.h"

namespace iomodels::cli {
namespace {

constexpr const char* kRate = "200";
constexpr double kStallAtS = 1.0, kStallS = 1.0;

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "iomodels";
}

// Runs one mode; *out gets its JSON. "" on success, else the first line it
// printed (with its exit code in *code).
std::string run_mode(const std::string& mode, nlohmann::json* out, int* code) {
  char path[] = "/tmp/iomodels-demo-chain-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return "cannot make a temporary file";
  ::close(fd);
  // No shell between: the arguments go as they are, and stderr joins stdout
  // on one pipe. The run stays in this process's group, so that a Ctrl-C
  // reaches it and it removes its own files; should this process die first,
  // SIGTERM asks it to do the same.
  const std::vector<std::string> argv = {self_exe(), "chain",         "--mode",     mode,
                                         "--rate",   kRate,           "--duration", "4s",
                                         "--fault",  "stall:C:1s@1s", "--json",     path};
  std::string said;
  int p[2];
  sys::Child child;
  *code = 1;
  if (::pipe2(p, O_CLOEXEC) == 0) {
    Fd from(p[0]), to(p[1]);
    sys::SpawnOptions o;
    o.stdout_fd = to.get();
    o.stderr_fd = to.get();
    o.own_group = false;
    o.death_signal = SIGTERM;
    if (sys::spawn(argv, o, &child) == 0) {
      to.reset();  // end of file once the run and what it started have closed theirs
      if (const long e = child.start(); e < 0)
        said = "cannot run " + argv[0] + ": " + errno_text(e) + "\n";
      char buf[512];
      long n;
      while ((n = ::read(from.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) said.append(buf, static_cast<size_t>(n));
      sys::ExitInfo x;
      if (sys::reap(child.pid(), 0, 0, &x) == 0) *code = sys::exit_code(x.status);
    }
  }
  std::string err;
  if (*code == 0) {
    std::ifstream f(path);
    *out = nlohmann::json::parse(f, nullptr, false);
    if (out->is_discarded()) err = "its JSON could not be read";
  } else {
    // The line that says what went wrong: the one with "error" in it, or the last.
    std::string line, last, pick;
    size_t at = 0;
    while (at < said.size()) {
      const size_t nl = said.find('\n', at);
      line = said.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      if (!line.empty()) last = line;
      if (pick.empty() && line.find("error") != std::string::npos) pick = line;
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
    err = pick.empty() ? last : pick;
    if (err.empty()) err = "exited with " + std::to_string(*code);
  }
  ::unlink(path);
  return err;
}

double num(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

// The largest value of a timeline key while C was stalled.
double max_during(const nlohmann::json& j, const char* key) {
  double m = 0;
  if (!j.contains("timeline")) return m;
  for (const auto& t : j.at("timeline")) {
    const double at = num(t, "t_s");
    if (at >= kStallAtS && at < kStallAtS + kStallS) m = std::max(m, num(t, key));
  }
  return m;
}

}  // namespace

ServicesStory run_services_story() {
  ServicesStory s;
  int code = 0;
  for (const char* mode : {"sync", "queue"}) {
    nlohmann::json& out = std::string(mode) == "sync" ? s.sync : s.queue;
    const std::string err = run_mode(mode, &out, &code);
    if (err.empty()) continue;
    // Exit 2 from chain is its own refusal: nats-server missing, say.
    if (code == 2) {
      s.skipped = err;
    } else {
      s.error = std::string("chain --mode ") + mode + ": " + err;
    }
    return s;
  }
  s.ran = true;
  return s;
}

std::string services_story_text(const ServicesStory& s, bool python) {
  std::string o = "Services A → B → C, C stalled for 1 s (iomodels chain, " + std::string(kRate) +
                  " requests/s into A)\n";
  if (!s.skipped.empty()) return o + "  skipped: " + s.skipped + "\n\n";
  if (!s.error.empty()) return o + "  failed: " + s.error + "\n\n";
  char b[512];
  const nlohmann::json& y = s.sync;
  const nlohmann::json& q = s.queue;
  const int workers = y.contains("parameters") ? y.at("parameters").value("workers", 0) : 0;
  std::snprintf(b, sizeof b,
                "  sync: A calls B, B calls C, each waits for the answer\n"
                "    t=0.0 s  A takes requests; B's %d workers each call C and wait\n"
                "    t=1.0 s  C stops (SIGSTOP): B's workers all wait on C (%.0f of %d busy),\n"
                "             and A's requests wait behind them (%.0f unanswered at most)\n"
                "    t=2.0 s  C resumes; the backlog is gone %.1f s later\n"
                "    → A's p99 went from %.1f ms before the stall to %.0f ms during it; "
                "errors %.0f\n",
                workers, max_during(y, "b_busy"), workers, num(y, "backlog_max"), num(y, "drain_s"),
                num(y, "a_p99_us_before_fault") / 1e3, num(y, "a_p99_us_during_fault") / 1e3,
                num(y, "a_errors"));
  o += b;
  std::snprintf(b, sizeof b,
                "  queue: A publishes to a JetStream queue, B consumes and publishes on, C "
                "consumes\n"
                "    t=1.0 s  C stops: A and B go on; the queue in front of C grows to %.0f\n"
                "    t=2.0 s  C resumes and works the backlog off in %.1f s\n"
                "    → A's p99 was %.1f ms before the stall and %.1f ms during it; lost %.0f, "
                "duplicates %.0f\n",
                num(q, "backlog_max"), num(q, "drain_s"), num(q, "a_p99_us_before_fault") / 1e3,
                num(q, "a_p99_us_during_fault") / 1e3, num(q, "lost"), num(q, "duplicates"));
  o += b;
  o += "  → called synchronously, C's stall became A's; behind a queue, A never saw it. The\n"
       "    price: A answers before C has done the work, which is right only when A's caller\n"
       "    does not need C's answer now (docs/services.md)\n";
  if (python)
    o += "  in Python: requests.post(b_url) inside B's handler (sync) against\n"
         "    await js.publish(subject, body) (queue: nats-py, JetStream)\n";
  return o + "\n";
}

}  // namespace iomodels::cli
