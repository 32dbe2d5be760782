// Description: the server role. The peer generates the load and verifies
// every response byte; each registered model answers on every transport the
// peer serves, nothing lost and no fd left behind; a model that falls behind
// on purpose shows its queueing in the latency counted from the schedule
// (corrected) and not in the one counted from the send; Poisson arrivals have
// the configured mean; the sweep finds a knee and writes its JSON; bad input
// is refused with exit 2.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <thread>

#include "models/common.h"
#include "peer/core.h"
#include "util.h"

using namespace iomodels;

namespace {

Scenario server(const std::string& model, Transport t, uint32_t conns, uint64_t rounds,
                double offered, Arrivals a = Arrivals::kUniform) {
  Scenario sc = test::scenario(model, t, conns, 4096, "0", rounds);
  sc.workload.role = Role::kServer;
  sc.workload.offered_per_s = offered;
  sc.workload.arrivals = a;
  return sc;
}

// Every model answers 4 connections x 30 requests on every transport, each
// response verified by the generator, and leaves no fd behind.
void serves(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  for (Transport t : all_transports()) {
    for (Arrivals a : {Arrivals::kUniform, Arrivals::kPoisson}) {
      INFO(m.name << " on " << transport_name(t) << ", " << arrivals_name(a) << " arrivals");
      const int fds = test::open_fds();
      Scenario sc = server(std::string(m.name), t, 4, 30, 4000, a);
      ScenarioResult r;
      const Status st = run_scenario(sc, &r);
      if (st.not_applicable()) {
        CHECK_FALSE(why_not(m, sc.workload).empty());
        continue;
      }
      REQUIRE(st.ok());
      REQUIRE(r.peer.generator);
      const GeneratorStats& g = *r.peer.generator;
      CHECK(g.bad_bytes == 0);
      CHECK(r.peer.protocol_errors == 0);
      // Every request of the window answered and verified by the generator.
      CHECK(g.responses == 4 * 30);
      CHECK(g.corrected.count() == 4 * 30);
      CHECK(r.requests == 4 * 30);
      // The latency is the generator's, from the schedule, never below the send.
      CHECK(r.latency.count() == 4 * 30);
      CHECK(g.corrected.percentile(0.5) >= g.uncorrected.percentile(0.5));
      CHECK(test::open_fds() == fds);
    }
  }
}

[[maybe_unused]] const bool kServes = test::register_per_model("server role: ", "[server]", serves);

// A model that takes `think` per request, on purpose: it reads each request
// with the shared helpers, sleeps, then answers.
class Slow final : public Model {
 public:
  explicit Slow(uint64_t think_ns) : think_ns_(think_ns) {}
  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    ex_ = detail::make_exchanges(ctx);
    buf_.resize(64);
    return detail::set_nonblocking(ctx, false);
  }
  Status run(uint64_t rounds) override {
    for (uint64_t k = 0; k < rounds; ++k) {
      for (Exchange& ex : ex_) {
        if (Status s = detail::send_request(*ctx_, ex); !s.ok()) return s;
        while (!ex.complete()) {
          const long n = detail::read_response(ex, buf_.data(), buf_.size());
          if (n <= 0) return detail::read_failed(*ctx_, ex, n);
          Status err;
          if (!ex.feed(buf_.data(), static_cast<size_t>(n), &err)) return err;
        }
        std::this_thread::sleep_for(std::chrono::nanoseconds(think_ns_));
        if (Status s = detail::finish(*ctx_, ex); !s.ok()) return s;
      }
    }
    return {};
  }

 private:
  const uint64_t think_ns_;
  RunContext* ctx_ = nullptr;
  std::vector<Exchange> ex_;
  std::vector<uint8_t> buf_;
};

}  // namespace

TEST_CASE("server role: a model that falls behind shows queueing only from the schedule",
          "[server][timing]") {
  // One connection, a request due every 2 ms, each taking 5 ms to answer: by
  // the 60th the schedule is ~180 ms ahead of the model. From the send each
  // takes ~5 ms; from its scheduled time, the whole backlog.
  Scenario sc = server("slow", Transport::kSocketpair, 1, 60, 500);
  sc.warmup_rounds = 0;
  std::unique_ptr<Session> s;
  REQUIRE(Session::open(sc, std::make_unique<Slow>(5'000'000), &s).ok());
  ScenarioResult r;
  REQUIRE(s->measure(60, &r).ok());
  REQUIRE(r.peer.generator);
  const GeneratorStats& g = *r.peer.generator;
  INFO("corrected p50 " << g.corrected.percentile(0.5) << " ns, uncorrected p50 "
                        << g.uncorrected.percentile(0.5) << " ns, behind " << g.behind);
  CHECK(g.responses == 60);
  CHECK(g.uncorrected.percentile(0.5) >= 5'000'000);
  CHECK(g.uncorrected.percentile(0.5) < 40'000'000);
  CHECK(g.corrected.percentile(0.5) > 3 * g.uncorrected.percentile(0.5));
  CHECK(g.corrected.max() > 100'000'000);
  CHECK(g.behind > 10);
  // The run's latency is the corrected one.
  CHECK(r.latency.percentile(0.5) == g.corrected.percentile(0.5));
}

TEST_CASE("server role: Poisson arrivals have the configured mean and spread", "[server]") {
  std::mt19937_64 rng(7);
  const double mean = 250'000;  // 4,000 requests/s
  double sum = 0, sq = 0;
  constexpr int kN = 10'000;
  for (int i = 0; i < kN; ++i) {
    const double x = static_cast<double>(detail::arrival_interval(Arrivals::kPoisson, mean, rng));
    sum += x;
    sq += x * x;
  }
  const double m = sum / kN;
  const double sd = std::sqrt(sq / kN - m * m);
  CHECK(std::abs(m - mean) / mean < 0.05);
  CHECK(std::abs(sd / m - 1.0) < 0.1);  // exponential: the spread equals the mean
  CHECK(detail::arrival_interval(Arrivals::kUniform, mean, rng) == 250'000);
  for (int i = 0; i < 100; ++i)
    CHECK(detail::arrival_phase(Arrivals::kUniform, mean, rng) < 250'000);
}

TEST_CASE("server role: the generator offers the configured rate with Poisson arrivals",
          "[server][timing]") {
  // 10,000 arrivals over 10 connections at 20,000/s: the schedule they
  // followed spans ~0.5 s; epoll keeps up, so it served them in that time.
  Scenario sc = server("epoll", Transport::kSocketpair, 10, 1000, 20000, Arrivals::kPoisson);
  ScenarioResult r;
  REQUIRE(run_scenario(sc, &r).ok());
  REQUIRE(r.peer.generator);
  const double span_s = r.peer.generator->sched_span_ns / 1e9;
  // The span ends at the latest connection's 1,000th arrival, a little past
  // 1000 mean intervals (the largest of 10 sums of 1,000 draws).
  INFO("span " << span_s << " s, wall " << r.m.wall_s << " s");
  CHECK(span_s > 0.5 * 0.95);
  CHECK(span_s < 0.5 * 1.12);
  CHECK(r.peer.generator->responses == 10'000);
}

TEST_CASE("sweep: finds each model's knee and writes its points", "[server][sweep][timing]") {
  const std::string out = "/tmp/iomodels-test-sweep.json";
  const test::CommandResult c = test::run_iomodels(
      "sweep --models epoll,threadpool --pool-threads 1 -c 8 --rates 2000,8000 "
      "--duration 200ms --json " +
      out);
  INFO(c.out);
  REQUIRE(c.exit_code == 0);
  const nlohmann::json j = test::read_json(out);
  ::unlink(out.c_str());
  REQUIRE(j["points"].size() >= 3);
  for (const auto& p : j["points"]) {
    for (const char* k : {"model", "offered_per_s", "achieved_per_s", "cpu_util", "cpu_us_per_req",
                          "p50_us", "p99_us", "p999_us", "syscalls_per_req"})
      CHECK(p.contains(k));
    CHECK(p["role"] == "server");
  }
  // One worker blocking on one connection at a time cannot serve 8 at 8,000/s.
  const auto& knee = j["knee"]["threadpool"];
  CHECK(knee["beyond"] == true);
  CHECK(j["knee"].contains("epoll"));
  // Its knee is then searched with two more loads (--refine 2 by default),
  // each between the last load held and the first not, or halving below the
  // lowest: the bracket left is at most a factor 2 wide (from 4 or below 2,000).
  CHECK(c.out.find("searching the knees") != std::string::npos);
  CHECK(knee["searched"] == 2);
  int searched = 0;
  for (const auto& p : j["points"])
    if (p.value("searched", false)) {
      CHECK(p["model"] == "threadpool");
      ++searched;
    }
  CHECK(searched == 2);
  const double failed = knee["first_failed_per_s"];
  CHECK(failed <= 8000);
  if (!knee["offered_per_s"].is_null()) {
    const double held = knee["offered_per_s"];
    CHECK(held < failed);
    CHECK(failed / held <= 2.0 + 1e-9);
    // The knee's line gives the bracket: "[held, failed)".
    CHECK(c.out.find("/s [") != std::string::npos);
  }
}

TEST_CASE("sweep --repetitions: each point's intervals, and models ranked against epoll with ties",
          "[server][sweep]") {
  const test::TempDir dir("iomodels_sweep_rank");
  const std::string out = dir.file("sweep.json");
  const test::CommandResult c = test::run_iomodels(
      "sweep --models epoll,uring,poll -c 4 --rates 2000 --duration 50ms --repetitions 4 "
      "--refine 0 --json " +
      out);
  INFO(c.out);
  REQUIRE(c.exit_code == 0);
  CHECK(c.out.find("CPU per request against epoll at each load") != std::string::npos);
  CHECK(c.out.find("  offered 2k/s:\n") != std::string::npos);
  // Each other model in exactly one group, with its ratio and interval.
  for (const char* m : {" uring ", " poll "}) {
    INFO(m);
    const size_t at = c.out.find(m, c.out.find("  offered 2k/s:"));
    REQUIRE(at != std::string::npos);
    const size_t line = c.out.rfind('\n', at);
    const std::string group = c.out.substr(line + 1, 12);
    CHECK((group == "    cheaper:" || group == "    tie:    " || group == "    dearer: "));
  }
  const nlohmann::json j = test::read_json(out);
  REQUIRE(j["points"].size() == 3);
  for (const auto& p : j["points"]) {
    INFO(p.dump());
    CHECK(p["repetitions"] == 4);
    for (const char* f : {"cpu_us_per_req", "achieved_per_s", "p99_us"}) {
      const auto& in = p["intervals"][f];
      CHECK(in["lo"].get<double>() <= in["median"].get<double>());
      CHECK(in["hi"].get<double>() >= in["median"].get<double>());
    }
    CHECK(p["intervals"]["cpu_us_per_req"]["median"].get<double>() ==
          Approx(p["cpu_us_per_req"].get<double>()));
  }
}

TEST_CASE("sweep --max-time: passes over the unresolved points until resolved or the time is spent",
          "[server][sweep]") {
  const std::string sweep = "sweep --models epoll -c 4 --rates 2000 --duration 50ms --refine 0 ";
  // ±100%: six repetitions (a few more after a stall) resolve the point.
  const test::CommandResult easy = test::run_iomodels(sweep + "--max-time 60s --precision 100");
  INFO(easy.out);
  REQUIRE(easy.exit_code == 0);
  CHECK(easy.out.find("resolved: 1 of 1 points") != std::string::npos);
  CHECK(easy.out.find("; every point resolved") != std::string::npos);

  // ±0.1%: never; passes go on until the time is spent.
  const test::TempDir dir("iomodels_sweep_adaptive");
  const std::string out = dir.file("sweep.json");
  const test::CommandResult hard =
      test::run_iomodels(sweep + "--max-time 3s --precision 0.1 --json " + out);
  INFO(hard.out);
  REQUIRE(hard.exit_code == 0);
  CHECK(hard.out.find("sweep: pass 7: 1 of 1 points unresolved") != std::string::npos);
  CHECK(hard.out.find("resolved: 0 of 1 points") != std::string::npos);
  CHECK(hard.out.find("; --max-time 3s spent") != std::string::npos);
  const nlohmann::json j = test::read_json(out);
  REQUIRE(j["points"].size() == 1);
  CHECK(j["points"][0]["repetitions"].get<int>() > 6);
  CHECK(j["points"][0]["resolved"] == false);
}

TEST_CASE("server role: bad input is refused with exit 2 before any work", "[server]") {
  for (const char* args :
       {"run --role server", "run --role server --offered 0", "run --role server --offered x",
        "run --role server --offered 100 -l 1ms", "run --role server --offered 100 -t file",
        "run --role server --offered 100 --rate 5", "run --offered 100", "run --arrivals poisson",
        "run --role servers --offered 100", "run --role server --offered 100 --arrivals sometimes",
        "sweep --rates 0", "sweep --rates 1000,x", "sweep --offered 100", "sweep --duration 1ms",
        "sweep --models nosuch", "sweep -t file", "sweep --rates 100 --from 10"}) {
    INFO(args);
    const test::CommandResult c = test::run_iomodels(args);
    CHECK(c.exit_code == 2);
    CHECK(c.out.find("error") != std::string::npos);
  }
}
