// Description: the io_uring feature ladder (uring-ladder, iomodels ladder):
// every prefix of the ladder on every transport, in both roles where the
// transport has them, with every byte verified and the steps in force read
// back from the result; each skip's reason; the ring's explicit task-run
// modes and registered fd read back; bundles over responses that fill many
// buffers; zero-copy responses; the command's tables, JSON and refusals.
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/uring_ladder.h"
#include "sys/uring.h"
#include "util.h"

using namespace iomodels;
using nlohmann::json;

namespace ladder_test {

void skip_without_uring() {
  if (const sys::UringProbe& u = sys::uring_probe(); !u.available)
    test::skip("io_uring: " + u.reason);
}

// The ladder's cumulative masks: none, then each step added in turn.
std::vector<uint32_t> prefixes() {
  std::vector<uint32_t> out = {kLadderBase};
  uint32_t mask = kLadderBase;
  for (const LadderStepInfo& s : ladder_steps()) out.push_back(mask |= ladder_bit(s.step));
  return out;
}

std::string fact(const ScenarioResult& r, const std::string& key) {
  for (const Model::Fact& f : r.model_facts)
    if (f.key == key) return f.text;
  return "(none)";
}

// Runs uring-ladder with `mask` on `sc`; every request verified.
void run_prefix(Scenario sc, uint32_t mask) {
  sc.model = "uring-ladder";
  sc.run.ladder_steps = mask;
  ScenarioResult r;
  const Status st = run_scenario(sc, &r);
  INFO(std::string(transport_name(sc.workload.transport))
       << (sc.workload.role == Role::kServer ? " server" : " client") << " steps "
       << ladder_steps_text(mask, sc.workload) << ": " << st.message());
  REQUIRE(st.ok());
  CHECK(r.requests == uint64_t{sc.workload.connections} * sc.rounds);
  CHECK(r.bytes == r.requests * sc.workload.size);
  CHECK(fact(r, "ladder_steps") == ladder_steps_text(mask, sc.workload));
}

void every_prefix(Transport t) {
  skip_without_uring();
  for (uint32_t mask : prefixes()) {
    Scenario sc = test::scenario("uring-ladder", t, 8, 4096, "0", 30);
    if (t == Transport::kFile) sc.workload.file_bytes = 8ull << 20;
    run_prefix(sc, mask);
    if (t == Transport::kFile) continue;  // no server role on a file
    sc.workload.role = Role::kServer;
    sc.workload.offered_per_s = 20000;
    run_prefix(sc, mask);
  }
}

const bool kEveryPrefix = test::register_per_transport(
    "uring-ladder: every prefix of the ladder serves every byte, both roles, on ", "[ladder]",
    every_prefix);

}  // namespace ladder_test

using namespace ladder_test;

TEST_CASE("uring-ladder's steps in force and the reasons for those skipped", "[ladder]") {
  skip_without_uring();
  WorkloadOptions w;
  w.transport = Transport::kSocketpair;
  w.role = Role::kClient;
  w.size = 65536;
  CHECK(ladder_step_skipped(LadderStep::kSendZc, w).find("client role") != std::string::npos);
  w.role = Role::kServer;
  CHECK(ladder_step_skipped(LadderStep::kSendZc, w).find("TCP") != std::string::npos);
  w.transport = Transport::kTcp;
  w.size = 64;
  CHECK(ladder_step_skipped(LadderStep::kSendZc, w).find("under 4 KiB") != std::string::npos);
  w.transport = Transport::kPipe;
  CHECK(ladder_step_skipped(LadderStep::kBundle, w).find("socket") != std::string::npos);
  w.transport = Transport::kFile;
  CHECK(ladder_step_skipped(LadderStep::kMultishot, w).find("regular file") != std::string::npos);
  CHECK(ladder_step_skipped(LadderStep::kFixedFiles, w).empty());

  // SQPOLL replaces both task-run steps, DEFER_TASKRUN replaces COOP.
  w.transport = Transport::kSocketpair;
  const uint32_t coop = ladder_bit(LadderStep::kCoopTaskrun),
                 defer = ladder_bit(LadderStep::kDeferTaskrun),
                 sqpoll = ladder_bit(LadderStep::kSqpoll);
  const sys::UringProbe& u = sys::uring_probe();
  if (u.coop_taskrun && u.defer_taskrun) {
    CHECK(ladder_in_force(coop | defer, w) == defer);
    CHECK(ladder_steps_text(coop | defer, w) == "defer-taskrun");
  }
  if (u.sqpoll) CHECK(ladder_in_force(coop | defer | sqpoll, w) == sqpoll);
  CHECK(ladder_steps_text(kLadderBase, w) == "none (a plain proactor)");
  CHECK(find_ladder_step("bundle") != nullptr);
  CHECK(find_ladder_step("nope") == nullptr);
}

TEST_CASE("Ring: an explicit task-run mode is that mode, and a registered ring fd is entered",
          "[ladder]") {
  skip_without_uring();
  const sys::UringProbe& u = sys::uring_probe();
  {
    sys::Ring ring;
    REQUIRE(ring.init({.task_run = sys::TaskRun::kNone}).ok());
    CHECK(ring.describe() == "no setup flags");
  }
  if (u.coop_taskrun) {
    sys::Ring ring;
    REQUIRE(ring.init({.task_run = sys::TaskRun::kCoop}).ok());
    CHECK(ring.describe() == "coop_taskrun, taskrun_flag");
  }
  if (u.defer_taskrun) {
    sys::Ring ring;
    REQUIRE(ring.init({.task_run = sys::TaskRun::kDefer}).ok());
    CHECK(ring.describe() == "single_issuer, defer_taskrun");
  }
  {
    sys::Ring ring;  // SQPOLL's thread issues the requests: no DEFER_TASKRUN
    CHECK_FALSE(ring.init({.sqpoll = true, .task_run = sys::TaskRun::kDefer}).ok());
  }
  if (!u.ring_fd_register) test::skip("this kernel cannot register a ring fd");
  sys::Ring ring;
  REQUIRE(ring.init({.register_ring_fd = true}).ok());
  REQUIRE(ring.ring_fd_registered());
  // A NOP through the registered slot completes: the enter named the slot.
  Status err;
  io_uring_sqe* sqe = ring.sqe(&err);
  REQUIRE(sqe != nullptr);
  io_uring_prep_nop(sqe);
  CHECK(ring.enter(1, 1'000'000'000) >= 0);
  unsigned reaped = 0;
  REQUIRE(
      ring.reap([](const io_uring_cqe& c) { return c.res == 0 ? Status() : Status::error("nop"); },
                &reaped)
          .ok());
  CHECK(reaped == 1);
}

TEST_CASE("uring-ladder: bundles over 1 MiB responses that fill many buffers, every byte verified",
          "[ladder]") {
  skip_without_uring();
  for (Transport t : {Transport::kSocketpair, Transport::kTcp}) {
    Scenario sc = test::scenario("uring-ladder", t, 4, 1u << 20, "0", 20);
    if (!ladder_step_skipped(LadderStep::kBundle, sc.workload).empty())
      test::skip("bundles: " + ladder_step_skipped(LadderStep::kBundle, sc.workload));
    run_prefix(sc, ladder_bit(LadderStep::kMultishot) | ladder_bit(LadderStep::kBundle));
  }
}

TEST_CASE("uring-ladder: zero-copy responses in the server role on tcp, every byte verified",
          "[ladder]") {
  skip_without_uring();
  Scenario sc = test::scenario("uring-ladder", Transport::kTcp, 8, 64 * 1024, "0", 30);
  sc.workload.role = Role::kServer;
  sc.workload.offered_per_s = 5000;
  if (const std::string why = ladder_step_skipped(LadderStep::kSendZc, sc.workload); !why.empty())
    test::skip("send-zc: " + why);
  run_prefix(sc, ladder_bit(LadderStep::kSendZc));
  run_prefix(sc, ladder_bit(LadderStep::kSendZc) | ladder_bit(LadderStep::kFixedFiles) |
                     ladder_bit(LadderStep::kMultishot));
  // Under load, a response is often due before the last one's completion or
  // its zero-copy notification is reaped: it waits, and must then answer the
  // request it was due for, not the one the exchange has moved on to (which
  // the generator would see as wrong bytes and close the connection on).
  sc.workload.connections = 64;
  sc.workload.offered_per_s = 20000;
  sc.rounds = 100;
  run_prefix(sc, ladder_bit(LadderStep::kSendZc) | ladder_bit(LadderStep::kDeferTaskrun));
  if (sys::uring_probe().sqpoll)
    run_prefix(sc, ladder_bit(LadderStep::kSendZc) | ladder_bit(LadderStep::kSqpoll));
}

TEST_CASE("iomodels ladder: a table per cell, each step over the one before, skips named, JSON",
          "[ladder]") {
  skip_without_uring();
  const test::TempDir dir("iomodels_ladder");
  const std::string out = dir.file("ladder.json");
  const test::CommandResult r = test::run_iomodels(
      "ladder --roles client,server --regimes jitter --sizes 4KiB -c 8 -r 20 --load 5000 "
      "--steps ring-fd,fixed-files,send-zc --repeat 2 --json " +
      out);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("client role, latency uniform:") != std::string::npos);
  CHECK(r.out.find("server role, 5000 requests/s offered, poisson arrivals") != std::string::npos);
  CHECK(r.out.find("+ fixed-files") != std::string::npos);
  CHECK(r.out.find("send-zc skipped: ") != std::string::npos);
  CHECK(r.out.find("(fewer than 6 rounds)") != std::string::npos);
  CHECK(r.out.find("÷ epoll") != std::string::npos);
  const json doc = test::read_json(out);
  REQUIRE(doc.at("cells").size() == 2);
  for (const json& cell : doc.at("cells")) {
    const json& steps = cell.at("steps");
    REQUIRE(steps.size() == 3);  // plain, + ring-fd, + fixed-files
    CHECK(steps[0].at("steps_in_force") == "none (a plain proactor)");
    CHECK(steps[2].at("steps_in_force") == "ring-fd, fixed-files");
    CHECK(steps[1].at("ratio_to_before").at("before") == "plain");
    for (const json& s : steps) CHECK(s.at("cpu_us_per_req").size() == 2);
    CHECK(cell.at("skipped")[0].at("step") == "send-zc");
    CHECK(cell.at("reference").at("model") == "epoll");
    // The cheapest step is picked by its own figures: no verdict on it.
    CHECK(cell.at("reference")
              .at("best_ratio")
              .at("verdict")
              .get<std::string>()
              .find("chosen after the fact") != std::string::npos);
  }
}

TEST_CASE("iomodels ladder and run --ladder-steps refuse bad input with exit code 2", "[ladder]") {
  for (const char* args :
       {"ladder --steps nope", "ladder --roles both", "ladder --regimes calm", "ladder --sizes 0",
        "ladder -t file --roles server", "ladder --reference nope", "ladder --repeat 0",
        "ladder --role server", "run -m epoll --ladder-steps all",
        "run -m uring-ladder --ladder-steps ring-fd,nope"}) {
    const test::CommandResult r = test::run_iomodels(args);
    INFO(args << ": " << r.out);
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("uring-ladder: every prefix of the ladder reads every byte of the file transport",
          "[ladder]") {
  every_prefix(Transport::kFile);
}
