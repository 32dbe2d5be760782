// Description: the switches of the harness's per-request work (verify,
// histogram, counters, trace hooks). For every registered model: with a part
// off the run still completes every request, and what that part produced is
// gone (no latency recorded, no syscall counted, no request on the timeline);
// the figures and the JSON leave those figures out instead of printing 0; the
// process-wide counting comes back on after the window; bad values exit 2.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "measure/trace.h"
#include "sys/sys.h"
#include "util.h"
#include "workload/exchange.h"

using namespace iomodels;

namespace {

// Small enough for every model (blocking serialises the waits), with partial
// reads: 64 KiB does not fit a pipe's or a socket's buffer at once.
Scenario small(const ModelInfo& m, uint32_t size = 4096) {
  return test::scenario(std::string(m.name), Transport::kSocketpair, 3, size, "0", 4);
}

// Requests that the timeline shows begun ("b" events of category "request").
size_t traced_requests(const Trace& t) {
  size_t n = 0;
  const nlohmann::json doc = nlohmann::json::parse(t.to_json());
  for (const auto& e : doc.at("traceEvents"))
    if (e.value("cat", "") == "request" && e.value("ph", "") == "b") ++n;
  return n;
}

void check_switches(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  const uint64_t requests = 3 * 4;

  SECTION("histogram off: every request completes, none is timed, no percentile") {
    Scenario sc = small(m, 64 * 1024);
    sc.run.histogram = false;
    ScenarioResult r;
    const Status s = run_scenario(sc, &r);
    INFO(s.message());
    REQUIRE(s.ok());
    CHECK(r.requests == requests);
    CHECK(r.latency.count() == 0);
    CHECK_FALSE(r.figures.has_latency);
    CHECK(r.figures.has_syscalls);
    CHECK(r.m.calls.syscalls > 0);
    const nlohmann::json j = result_json(sc, r);
    CHECK(j.at("latency_us").is_null());
    CHECK(j.at("latency_spectrum").is_null());
    CHECK(j.at("scenario").at("histogram") == false);
  }

  SECTION("histogram on: every request is timed") {
    Scenario sc = small(m);
    ScenarioResult r;
    REQUIRE(run_scenario(sc, &r).ok());
    CHECK(r.latency.count() == requests);
    CHECK(r.figures.has_latency);
    CHECK(result_json(sc, r).at("latency_us").at("p99").get<double>() > 0);
  }

  SECTION("counters off: no syscall counted in the window, counting back on after it") {
    Scenario sc = small(m);
    sc.run.counters = false;
    ScenarioResult r;
    REQUIRE(run_scenario(sc, &r).ok());
    CHECK(r.requests == requests);
    CHECK(r.latency.count() == requests);
    CHECK(r.m.calls.syscalls == 0);
    CHECK(r.m.calls.uring_enter == 0);
    CHECK_FALSE(r.figures.has_syscalls);
    CHECK(sys::counting());
    const nlohmann::json j = result_json(sc, r);
    CHECK(j.at("syscalls_per_req").is_null());
    CHECK(j.at("eagain_per_req").is_null());
  }

  SECTION("trace hooks off: a timeline installed meanwhile gets no request") {
    for (const bool hooks : {true, false}) {
      Scenario sc = small(m);
      sc.run.trace_hooks = hooks;
      Trace trace;
      trace.install();
      ScenarioResult r;
      const Status s = run_scenario(sc, &r);
      trace.uninstall();
      INFO("trace hooks " << hooks << ": " << s.message());
      REQUIRE(s.ok());
      CHECK(r.requests == requests);
      // Warm-up included: one round more than the timed ones.
      if (hooks)
        CHECK(traced_requests(trace) == requests + 3);
      else
        CHECK(traced_requests(trace) == 0);
    }
  }
}

const bool kSwitchesRegistered =
    test::register_per_model("switches: ", "[switches]", check_switches);

}  // namespace

TEST_CASE("switches: verification off takes a wrong byte, on refuses it", "[switches]") {
  uint8_t good[64];
  fill_payload(0, 1, 0, good, sizeof good);
  uint8_t bad[64];
  std::copy(good, good + sizeof good, bad);
  bad[17] ^= 0x40;
  for (const bool verify : {true, false}) {
    Exchange ex;
    ex.init(ClientConn{-1, -1, 0}, sizeof bad, verify);
    ex.begin(0);
    Status err;
    INFO("verify " << verify);
    CHECK(ex.feed(bad, sizeof bad, &err) == !verify);
    if (verify) CHECK(err.message().find("byte 17") != std::string::npos);
    if (!verify) CHECK(ex.complete());
  }
}

TEST_CASE("switches: run prints no percentile and no syscall count for a part that is off",
          "[switches]") {
  const test::TempDir dir("iomodels_switches");
  const auto r = test::run_iomodels(
      "run -m epoll -c 2 -r 5 -l 0 --histogram off --counters off "
      "--trace-hooks off --verify off --json " +
      dir.file("r.json"));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("latency (us)") == std::string::npos);
  CHECK(r.out.find("not measured (--histogram off)") != std::string::npos);
  CHECK(r.out.find("syscalls not counted (--counters off)") != std::string::npos);
  const nlohmann::json j = test::read_json(dir.file("r.json"));
  CHECK(j.at("latency_us").is_null());
  CHECK(j.at("syscalls_per_req").is_null());
  CHECK(j.at("requests") == 10);
  for (const char* k : {"verify", "histogram", "counters", "trace_hooks"})
    CHECK(j.at("scenario").at(k) == false);
}

TEST_CASE("switches: a bad value names the option and exits 2", "[switches][robustness]") {
  const struct {
    const char* args;
    const char* option;
  } bad[] = {
      {"run --histogram maybe", "--histogram"},
      {"run --counters 1", "--counters"},
      {"run --trace-hooks yes", "--trace-hooks"},
      {"run --verify=0", "--verify"},
      {"run -m epoll -r 2 --trace /tmp/iomodels-never.json --trace-hooks off", "--trace-hooks"},
      {"bench --histogram no", "--histogram"},
      {"bench --counters=offf", "--counters"},
  };
  for (const auto& b : bad) {
    const auto r = test::run_iomodels(b.args);
    INFO(b.args << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    CHECK(r.out.find(std::string("error: ") + b.option + ":") != std::string::npos);
  }
}
