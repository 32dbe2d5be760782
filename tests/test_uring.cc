// Description: what only the io_uring models promise, for every model the
// registry says waits with io_uring: a kernel probe that can refuse them, far
// fewer syscalls per request than the epoll models, all of them
// io_uring_enter, and an io_uring_enter count that strace confirms. (Bytes,
// dead peers and leaks: the model matrix, test_model_matrix.cc.)
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "models/tpc.h"
#include "util.h"

using namespace iomodels;

namespace {

bool waits_with_io_uring(const ModelInfo& m) { return m.mechanism == Mechanism::kIoUring; }

Status run_verified(const Scenario& sc, ScenarioResult* r) {
  const Status s = run_scenario(sc, r);
  INFO(sc.model << ": " << s.message());
  REQUIRE(s.ok());
  REQUIRE(r->latency.count() == sc.rounds * sc.workload.connections);
  return s;
}

double syscalls_per_request(const ScenarioResult& r) {
  return static_cast<double>(r.m.calls.syscalls) / static_cast<double>(r.requests);
}

// Batching: epoll needs a read and a write per request (about 2 syscalls)
// plus its waits; an io_uring model submits and reaps many requests in one
// io_uring_enter, and makes no other syscall while it runs.
void check_batches(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  ScenarioResult ur;
  run_verified(test::scenario(std::string(m.name), Transport::kSocketpair, 64, 64, "0", 500), &ur);
  const double ur_per_req = syscalls_per_request(ur);
  int compared = 0;
  for (const ModelInfo* e : all_models()) {
    if (e->mechanism != Mechanism::kEpoll) continue;
    ScenarioResult ep;
    run_verified(test::scenario(std::string(e->name), Transport::kSocketpair, 64, 64, "0", 500),
                 &ep);
    INFO(m.name << " " << ur_per_req << " syscalls/request, " << e->name << " "
                << syscalls_per_request(ep));
    CHECK(ur_per_req < 0.5 * syscalls_per_request(ep));
    ++compared;
  }
  CHECK(compared > 0);
  INFO(m.name << ": " << ur_per_req << " syscalls/request, " << ur.m.calls.uring_enter
              << " io_uring_enter of " << ur.m.calls.syscalls << " syscalls");
  CHECK(ur_per_req < 1.0);
  CHECK(ur.m.calls.uring_enter > 0);
  if (m.thread_per_core) {
    // Its only syscall but for the futex calls that start and collect the
    // loops: a wait per loop per run, the last one's wake, and the caller's
    // wake and waits.
    const uint64_t loops = detail::tpc_thread_count({}, {}, 64);
    CHECK(ur.m.calls.syscalls - ur.m.calls.uring_enter <= 2 * loops + 4);
  } else {
    CHECK(ur.m.calls.uring_enter == ur.m.calls.syscalls);  // its only syscall
  }
}

// Empty if strace can trace a child here; else why not (not installed, or
// ptrace refused, as in many containers).
std::string strace_unavailable() {
  if (::access("/usr/bin/strace", X_OK) != 0) return "/usr/bin/strace is not installed";
  const test::CommandResult r = test::run_shell("/usr/bin/strace -f -o /dev/null /bin/true");
  if (r.exit_code != 0)
    return "strace cannot trace here (exit " + std::to_string(r.exit_code) + "): " + r.out;
  return "";
}

// The binary's own io_uring_enter count (every call goes through src/sys)
// against what strace sees the whole process make.
void check_strace_agrees(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  if (const std::string why = strace_unavailable(); !why.empty()) test::skip(why);
  const test::TempDir dir("iomodels_strace");
  const std::string out = dir.file("strace.txt");
  const std::string json = dir.file("run.json");
  // LeakSanitizer cannot run under ptrace: in an ASan build the traced run
  // would fail at exit. Leaks are checked by every other test.
  const int rc = std::system(("ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 /usr/bin/strace -f -c "
                              "-e trace=io_uring_enter -o " +
                              out + " " + IOMODELS_BINARY + " run -m " + std::string(m.name) +
                              " -t socketpair -c 64 -s 64 -l 0 -r 300 --peer-loop epoll --json " +
                              json + " >/dev/null 2>&1")
                                 .c_str());
  std::ifstream sf(out);
  std::stringstream text;
  text << sf.rdbuf();
  INFO("strace exit " << rc << ":\n" << text.str());
  REQUIRE(rc == 0);
  // strace -c's table: "% time  seconds  usecs/call  calls  [errors]  syscall".
  long strace_calls = -1;
  std::string line;
  while (std::getline(text, line)) {
    if (line.find("io_uring_enter") == std::string::npos) continue;
    std::istringstream f(line);
    double pct, secs;
    long usecs;
    f >> pct >> secs >> usecs >> strace_calls;
  }
  const nlohmann::json j = test::read_json(json);
  const auto requests = j.at("requests").get<double>();
  const auto counted = std::llround(j.at("uring_enter_per_req").get<double>() * requests);
  INFO("strace saw " << strace_calls << " io_uring_enter calls; iomodels counted " << counted
                     << " in the timed region");
  REQUIRE(strace_calls > 0);
  // strace also sees the untimed warm-up round (64 requests: at most one
  // enter each, plus a few), and nothing else calls io_uring_enter: strace -f
  // follows the forked peer too, so the peer runs its epoll loop, whose
  // responses at latency 0 leave by write().
  CHECK(strace_calls >= counted);
  CHECK(strace_calls <= counted + 64 + 8);
}

[[maybe_unused]] const bool kBatches = test::register_per_model(
    "io_uring: far fewer syscalls per request than epoll, all io_uring_enter: ", "[uring][timing]",
    check_batches, waits_with_io_uring);
[[maybe_unused]] const bool kStrace =
    test::register_per_model("io_uring: io_uring_enter counted as strace counts it: ", "[uring]",
                             check_strace_agrees, waits_with_io_uring);

}  // namespace

TEST_CASE("every io_uring model has a kernel probe, so a refused io_uring is a skip", "[uring]") {
  int n = 0;
  for (const ModelInfo* m : all_models()) {
    if (!waits_with_io_uring(*m)) continue;
    INFO(m->name);
    CHECK(m->unavailable != nullptr);
    ++n;
  }
  CHECK(n > 0);
}
