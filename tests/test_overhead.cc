// Description: the minimal loops and `iomodels overhead`. Each mechanism
// that has a minimal loop completes the workload on every peer transport
// (exactly the requests and bytes due, responses in many pieces included);
// the file transport and mechanisms without a loop are refused with the
// reason; the command runs end to end on a tiny scenario with a JSON row per
// registered model, and refuses bad flags with exit code 2.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "overhead/echo.h"
#include "overhead/minimal.h"
#include "sys/uring.h"
#include "util.h"

using namespace iomodels;

namespace {

// The mechanisms of the registered models that have a minimal loop.
std::set<Mechanism> minimal_mechanisms() {
  std::set<Mechanism> ms;
  for (const ModelInfo* m : all_models())
    if (overhead::has_minimal_loop(m->mechanism)) ms.insert(m->mechanism);
  return ms;
}

overhead::MinimalOptions options(Mechanism m, Transport t, uint32_t conns, uint32_t size,
                                 uint64_t rounds) {
  overhead::MinimalOptions o;
  o.mechanism = m;
  o.workload.transport = t;
  o.workload.connections = conns;
  o.workload.size = size;
  o.rounds = rounds;
  o.timeout_ns = 20'000'000'000ull;
  return o;
}

// One mechanism's loop on every peer transport: every request, every byte.
void check_minimal_loop(Mechanism m) {
  if (m == Mechanism::kIoUring && !sys::uring_probe().available)
    test::skip("io_uring: " + sys::uring_probe().reason);
  for (const Transport t : all_transports()) {
    // 4 KiB mostly in one piece; 256 KiB in many, past a pipe's 64 KiB.
    for (const uint32_t size : {4096u, 256u * 1024}) {
      INFO(mechanism_name(m) << " on " << transport_name(t) << ", " << size << " B");
      overhead::MinimalResult r;
      const Status s = overhead::measure_minimal(options(m, t, 5, size, 7), &r);
      INFO(s.message());
      REQUIRE(s.ok());
      CHECK(r.count.requests == 5 * 7);
      CHECK(r.count.bytes == 5 * 7 * uint64_t{size});
      CHECK(r.cpu_us_per_req() > 0);
      CHECK(r.m.wall_s > 0);
    }
  }
}

class MinimalLoopCase final : public Catch::ITestInvoker {
 public:
  explicit MinimalLoopCase(Mechanism m) : m_(m) {}
  void invoke() const override { check_minimal_loop(m_); }

 private:
  Mechanism m_;
};

// One test case per mechanism with a minimal loop among the registered
// models' ("minimal loop: epoll"), so each is run, counted and skipped on
// its own, as the per-model cases in util.h.
const bool kOverheadRegistered = [] {
  for (const Mechanism m : minimal_mechanisms())
    Catch::AutoReg(
        new MinimalLoopCase(m), CATCH_INTERNAL_LINEINFO, Catch::StringRef(),
        Catch::NameAndTags("minimal loop: " + std::string(mechanism_name(m)), "[overhead]"));
  return true;
}();

}  // namespace

TEST_CASE("minimal loops: one for each of blocking read, epoll and io_uring", "[overhead]") {
  // The registered models use these three among their mechanisms.
  CHECK(minimal_mechanisms() ==
        std::set<Mechanism>{Mechanism::kBlockingRead, Mechanism::kEpoll, Mechanism::kIoUring});
}

TEST_CASE("minimal loops: the file transport and other mechanisms are refused with the reason",
          "[overhead]") {
  overhead::MinimalResult r;
  overhead::MinimalOptions o = options(Mechanism::kEpoll, Transport::kFile, 2, 4096, 2);
  Status s = overhead::measure_minimal(o, &r);
  CHECK(s.not_applicable());
  CHECK(s.message().find("file transport") != std::string::npos);
  for (const ModelInfo* m : all_models()) {
    if (overhead::has_minimal_loop(m->mechanism)) continue;
    CHECK(overhead::make_minimal_loop(m->mechanism) == nullptr);
    s = overhead::measure_minimal(options(m->mechanism, Transport::kSocketpair, 2, 64, 2), &r);
    CHECK(s.not_applicable());
  }
}

TEST_CASE("iomodels overhead: a row per registered model, end to end", "[overhead]") {
  const test::TempDir dir("iomodels_overhead");
  const auto r = test::run_iomodels("overhead -c 2 -s 512 -l 0 -r 3 --repeat 2 --markdown --json " +
                                    dir.file("o.json"));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("| model | mechanism | full µs/req |") != std::string::npos);
  const nlohmann::json j = test::read_json(dir.file("o.json"));
  CHECK(j.at("repeat") == 2);
  CHECK(j.at("scenario").at("connections") == 2);
  const auto& rows = j.at("rows");
  REQUIRE(rows.size() == all_models().size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const ModelInfo& m = *all_models()[i];
    const auto& row = rows[i];
    INFO(m.name << ": " << row.dump());
    CHECK(row.at("model") == std::string(m.name));
    CHECK(row.at("mechanism") == std::string(mechanism_name(m.mechanism)));
    const std::string why = why_not(m, WorkloadOptions{});
    if (!why.empty()) {
      CHECK(row.at("status") == "not applicable");
      continue;
    }
    REQUIRE(row.at("status") == "ok");
    for (const char* v :
         {"full", "verify_off", "histogram_off", "counters_off", "trace_hooks_off", "all_off"}) {
      const auto& cpu = row.at("cpu_us_per_req").at(v);
      CHECK(cpu.at("runs").size() == 2);
      CHECK(cpu.at("median").get<double>() > 0);
      CHECK(cpu.at("min").get<double>() <= cpu.at("max").get<double>());
    }
    for (const char* d : {"verify", "histogram", "counters", "trace_hooks", "all"})
      CHECK(row.at("delta_us_per_req").at(d).at("runs").size() == 2);
    if (overhead::has_minimal_loop(m.mechanism)) {
      CHECK(row.at("minimal_cpu_us_per_req").at("runs").size() == 2);
      CHECK(row.at("ratio_full_to_minimal").get<double>() > 0);
    } else {
      CHECK(row.at("minimal_cpu_us_per_req").is_null());
      CHECK(row.at("ratio_full_to_minimal").is_null());
    }
  }
}

TEST_CASE("iomodels overhead --models: only those rows, in the order given", "[overhead]") {
  const test::TempDir dir("iomodels_overhead");
  const auto r = test::run_iomodels(
      "overhead --models epoll,blocking -c 2 -l 0 -r 2 --repeat 1 "
      "--json " +
      dir.file("o.json"));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = test::read_json(dir.file("o.json"));
  REQUIRE(j.at("rows").size() == 2);
  CHECK(j.at("rows")[0].at("model") == "epoll");
  CHECK(j.at("rows")[1].at("model") == "blocking");
  CHECK(j.at("minimal_loops").size() == 2);
}

TEST_CASE("iomodels overhead: bad flags name the option and exit 2", "[overhead][robustness]") {
  const struct {
    const char* args;
    const char* option;
  } bad[] = {
      {"overhead --repeat 0", "--repeat"},
      {"overhead --models nosuch", "--models"},
      {"overhead --models epoll,,uring", "--models"},
      {"overhead --rate 100", "--rate"},
      {"overhead --pattern lockstep", "--pattern"},
      {"overhead --connections 0", "--connections"},
      {"overhead --requests 0", "--requests"},
  };
  for (const auto& b : bad) {
    const auto r = test::run_iomodels(b.args);
    INFO(b.args << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    CHECK(r.out.find(std::string("error: ") + b.option + ":") != std::string::npos);
  }
  // The switches are what overhead varies: they are not its flags.
  const auto r = test::run_iomodels("overhead --histogram off");
  CHECK(r.exit_code == 2);
}

TEST_CASE("the peer's floor: a minimal echo answers every request on every transport",
          "[overhead]") {
  if (!sys::uring_probe().available) test::skip("io_uring: " + sys::uring_probe().reason);
  for (Transport t : all_transports()) {
    for (Mechanism m : minimal_mechanisms()) {
      DYNAMIC_SECTION(transport_name(t) << " driven by " << mechanism_name(m)) {
        const int fds = test::open_fds();
        overhead::EchoResult r;
        // Responses larger than a pipe's or socket's buffer: sent in pieces.
        const Status s = overhead::measure_echo(options(m, t, 5, 300'000, 20), &r);
        INFO(s.message());
        REQUIRE(s.ok());
        CHECK(r.client.count.requests == 100);
        CHECK(r.client.count.bytes == 100ull * 300'000);
        CHECK(r.echo_us_per_req > 0);
        CHECK(test::open_fds() == fds);
        errno = 0;
        CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
        CHECK(errno == ECHILD);  // the echo reaped
      }
    }
  }
  SECTION("a think time, the server role and the file transport are refused with the reason") {
    overhead::EchoResult r;
    auto o = options(Mechanism::kEpoll, Transport::kSocketpair, 2, 64, 2);
    o.workload.latency.kind = LatencySpec::Kind::kFixed;
    o.workload.latency.a_ns = 1'000'000;
    CHECK(overhead::measure_echo(o, &r).not_applicable());
    o = options(Mechanism::kEpoll, Transport::kFile, 2, 64, 2);
    CHECK(overhead::measure_echo(o, &r).not_applicable());
    o = options(Mechanism::kEpoll, Transport::kSocketpair, 2, 64, 2);
    o.workload.role = Role::kServer;
    CHECK(overhead::measure_echo(o, &r).not_applicable());
  }
}

TEST_CASE("iomodels overhead: the peer's floor beside a minimal echo, paired by round",
          "[overhead]") {
  test::TempDir dir;
  const std::string json = dir.path + "/o.json";
  auto r = test::run_iomodels("overhead --models epoll -c 4 -l 0 -r 50 --repeat 2 --json " + json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("The peer's floor: its CPU per request") != std::string::npos);
  auto j = test::read_json(json);
  CHECK(j["peer_floor"]["status"] == "ok");
  CHECK(j["peer_floor"]["ratio_peer_to_echo"]["runs"].size() == 2);
  CHECK(j["peer_floor"]["echo_cpu_us_per_req"]["median"].get<double>() > 0);
  r = test::run_iomodels("overhead --models epoll -c 2 -l 1ms -r 5 --repeat 1 --json " + json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  j = test::read_json(json);
  CHECK(j["peer_floor"]["status"] == "not applicable");
}
