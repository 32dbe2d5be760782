// Description: the report of one `iomodels chain` run, made at its end from
// A's and C's records and the 100 ms samples: sent, delivered, lost and
// duplicated messages counted from the verified data, latencies, the timeline,
// and the same as JSON.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "chain/run.h"
#include "measure/env.h"
#include "measure/histogram.h"
#include "run/figures.h"

namespace iomodels::chain {
namespace {

double us(uint64_t ns) { return static_cast<double>(ns) / 1e3; }

nlohmann::json p_or_null(const Histogram& h, double q) {
  return h.count() == 0 ? nlohmann::json(nullptr) : nlohmann::json(us(h.percentile(q)));
}

}  // namespace

// The console summary of a run, from its report.
void Run::print_summary(const nlohmann::json& out) const {
  const ServiceOptions& o = cfg_.svc;
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
              static_cast<unsigned long long>(out["sent"].get<uint64_t>()),
              static_cast<unsigned long long>(out["accepted"].get<uint64_t>()),
              static_cast<unsigned long long>(out["a_errors"].get<uint64_t>()),
              static_cast<unsigned long long>(out["a_timeouts"].get<uint64_t>()),
              num(out["a_p50_us"]).c_str(), num(out["a_p99_us"]).c_str());
  if (!cfg_.faults.empty())
    std::printf("  A's p99: %s us before the fault, %s us during it\n",
                num(out["a_p99_us_before_fault"]).c_str(),
                num(out["a_p99_us_during_fault"]).c_str());
  std::printf("  B: errors %llu, timeouts %llu\n",
              static_cast<unsigned long long>(out["b_errors"].get<uint64_t>()),
              static_cast<unsigned long long>(out["b_timeouts"].get<uint64_t>()));
  std::printf(
      "  C: delivered %llu, lost %llu, duplicates %llu, corrupt %llu; end-to-end p50 %s us, p99 %s "
      "us\n",
      static_cast<unsigned long long>(out["delivered"].get<uint64_t>()),
      static_cast<unsigned long long>(out["lost"].get<uint64_t>()),
      static_cast<unsigned long long>(out["duplicates"].get<uint64_t>()),
      static_cast<unsigned long long>(out["corrupt"].get<uint64_t>()),
      num(out["e2e_p50_us"]).c_str(), num(out["e2e_p99_us"]).c_str());
  std::printf(
      "  backlog (%s): max %.0f, drained %s\n",
      o.mode == Mode::kQueue ? "broker's pending + unacknowledged" : "A's unanswered requests",
      out["backlog_max"].get<double>(),
      out["drain_s"].is_null()
          ? (cfg_.faults.empty() ? "-" : "never within the run")
          : (std::to_string(out["drain_s"].get<double>()).substr(0, 4) + " s after the fault")
                .c_str());
  std::fflush(stdout);
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

  if (cfg_.result != nullptr) *cfg_.result = out;
  if (cfg_.print_report) print_summary(out);
  if (cfg_.json.given()) cfg_.json.write(out.dump(2) + "\n");
  return corrupt == 0 ? 0 : 1;
}

}  // namespace iomodels::chain
