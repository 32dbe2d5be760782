// Description: the demo's services story (demo_services.h): chain's run,
// called twice in this process through chain's library (config.h, run.h),
// its report read back as JSON.
#include "cli/demo_services.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "chain/config.h"
#include "chain/run.h"
#include "frontend/frontend.h"

namespace iomodels::cli {
namespace {

constexpr const char* kRate = "200";
constexpr double kStallAtS = 1.0, kStallS = 1.0;

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

// Runs one mode in this process (chain's Run: the services and the broker as
// processes of their own); *out gets its report. "" on success, else what
// went wrong, with chain's exit code in *code (2: a refusal, such as
// nats-server missing).
std::string run_mode(const std::string& mode, nlohmann::json* out, int* code) {
  chain::ChainFlags flags;
  flags.mode = mode;
  flags.rate = kRate;
  flags.duration = "4s";
  flags.faults = {"stall:C:1s@1s"};
  try {
    chain::Config cfg = chain::to_config(flags);
    cfg.print_report = false;
    cfg.result = out;
    *code = chain::run_chain(cfg);
  } catch (const frontend::UsageError& e) {
    *code = 2;
    return e.what();
  } catch (const std::exception& e) {
    *code = 1;
    return e.what();
  }
  if (*code == 0) return "";
  // Exit 1 with a report: C received corrupt messages.
  return "corrupt messages at C (" + std::to_string(num(*out, "corrupt")) + ")";
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
