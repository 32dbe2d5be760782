// Description: the thread-per-core models (every model the registry marks
// thread_per_core): their loops pinned one CPU each, round-robin, and one wait
// set (epoll instance, io_uring) each, read back from the kernel; 8 loops over
// 1,000 connections in both roles with every byte verified (10,000: heavy);
// --threads refused where it does not apply, clamped to the connections; a
// peer killed mid-run an error within seconds. (Every transport, 1 MiB
// responses and leaks: the model matrix, which loops over the registry.)
#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "peer/peer.h"
#include "sys/cpus.h"
#include "util.h"

using namespace iomodels;

namespace {

bool tpc_model(const ModelInfo& m) { return m.thread_per_core; }

// What /proc/self/fd shows for the model's wait set.
std::string tpc_wait_set_link(const ModelInfo& m) {
  return m.mechanism == Mechanism::kIoUring ? "anon_inode:[io_uring]" : "anon_inode:[eventpoll]";
}

// How many of this process's fds are links to `target`.
int tpc_fds_linked_to(const std::string& target) {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char link[256];
      const std::string path = std::string("/proc/self/fd/") + e->d_name;
      const ssize_t len = ::readlink(path.c_str(), link, sizeof link - 1);
      if (len > 0 && std::string(link, static_cast<size_t>(len)) == target) ++n;
    }
    ::closedir(d);
  }
  return n;
}

// The model's loop threads by loop index: each names itself "<loop> loop <k>"
// (/proc/self/task/<tid>/comm).
std::map<int, pid_t> tpc_loop_threads() {
  std::map<int, pid_t> out;
  for (const auto& [tid, comm] : test::thread_names()) {
    const size_t at = comm.find(" loop ");
    if (at != std::string::npos) out[std::atoi(comm.c_str() + at + 6)] = tid;
  }
  return out;
}

std::string tpc_fact(const ScenarioResult& r, const std::string& key) {
  for (const Model::Fact& f : r.model_facts)
    if (f.key == key) return f.text;
  return "(no " + key + ")";
}

double tpc_seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// With the model on two CPUs, N loops: loop k runs on CPU k % 2 of them and
// nowhere else, and the process holds N more epoll instances (rings) while
// the session is open, and none of them after.
void tpc_check_pinned(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  const sys::CpuList allowed = sys::affinity();
  if (allowed.size() < 2) test::skip("pinning loops to distinct CPUs needs two CPUs to use");
  const std::string link = tpc_wait_set_link(m);
  for (const uint32_t n : {2u, 3u}) {
    INFO(m.name << " with --threads " << n << " on CPUs " << allowed[0] << "," << allowed[1]);
    Scenario sc = test::scenario(std::string(m.name), Transport::kSocketpair, 6, 64, "0", 5);
    sc.model_cpus = {allowed[0], allowed[1]};
    sc.workload.peer_cpus = {allowed[1]};
    sc.run.threads = n;
    const int sets = tpc_fds_linked_to(link);
    std::unique_ptr<Session> s;
    const Status st = Session::open(sc, &s);
    INFO(st.message());
    REQUIRE(st.ok());
    ScenarioResult r;
    REQUIRE(s->measure(5, &r).ok());
    CHECK(r.latency.count() == 6 * 5);
    CHECK(tpc_fds_linked_to(link) == sets + static_cast<int>(n));
    const std::map<int, pid_t> loops = tpc_loop_threads();
    REQUIRE(loops.size() == n);
    for (const auto& [k, tid] : loops) {
      INFO("loop " << k << ", thread " << tid);
      CHECK(sys::affinity(tid) == sys::CpuList{allowed[static_cast<size_t>(k) % 2]});
    }
    CHECK(tpc_fact(r, "threads") == std::to_string(n));
    CHECK(tpc_fact(r, "connections_per_thread") == (n == 2 ? "3" : "2"));
    CHECK(tpc_fact(r, "pinned").find("round-robin") != std::string::npos);
    s.reset();
    CHECK(tpc_fds_linked_to(link) == sets);
    CHECK(tpc_loop_threads().empty());
  }
}

// 8 loops over 1,000 socketpair connections on this machine's cores, in both
// roles: every request completed and every byte verified (by the model in the
// client role, by the load generator in the server role).
void tpc_check_eight_loops(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  for (const Role role : {Role::kClient, Role::kServer}) {
    DYNAMIC_SECTION(role_name(role) << " role") {
      Scenario sc = test::scenario(std::string(m.name), Transport::kSocketpair, 1000, 512, "0", 3);
      sc.run.threads = 8;
      if (role == Role::kServer) {
        sc.workload.role = Role::kServer;
        sc.workload.offered_per_s = 50'000;
      }
      ScenarioResult r;
      const Status st = run_scenario(sc, &r);
      INFO(st.message());
      REQUIRE(st.ok());
      CHECK(r.requests == 3000);
      CHECK(r.latency.count() == 3000);
      CHECK(r.peer.protocol_errors == 0);
      if (role == Role::kServer) {
        REQUIRE(r.peer.generator);
        CHECK(r.peer.generator->bad_bytes == 0);
        CHECK(r.peer.generator->responses == 3000);
      } else {
        CHECK(r.peer.requests >= 3000);
      }
      CHECK(tpc_fact(r, "threads") == "8");
      CHECK(tpc_fact(r, "connections_per_thread") == "125");
    }
  }
}

// The most connections a run may have, on 8 loops: every byte verified.
void tpc_check_ten_thousand(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  const uint64_t need = fds_needed(Transport::kSocketpair, kMaxConnections) + 256;
  if (raise_fd_limit() < need)
    test::skip("RLIMIT_NOFILE's hard limit is below the " + std::to_string(need) +
               " descriptors 10,000 socketpair connections need in this process");
  Scenario sc =
      test::scenario(std::string(m.name), Transport::kSocketpair, kMaxConnections, 256, "1ms", 2);
  sc.run.threads = 8;
  ScenarioResult r;
  const Status st = run_scenario(sc, &r);
  INFO(st.message());
  REQUIRE(st.ok());
  CHECK(r.latency.count() == uint64_t{kMaxConnections} * 2);
  CHECK(r.peer.protocol_errors == 0);
  CHECK(tpc_fact(r, "connections_per_thread") == "1250");
}

// The peer dies mid-run: every loop's connections see it gone, and the run
// is an error naming a connection well within the 30 s timeout.
void tpc_check_peer_killed(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  Scenario sc =
      test::scenario(std::string(m.name), Transport::kSocketpair, 8, 4096, "1ms", 1'000'000);
  sc.run.threads = 4;
  sc.run.timeout_ns = 30'000'000'000ull;
  std::unique_ptr<Session> session;
  Status s = Session::open(sc, &session);
  INFO(s.message());
  REQUIRE(s.ok());
  REQUIRE(session->warm_up(2).ok());
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    session->workload().kill_peer();
  });
  const auto t0 = std::chrono::steady_clock::now();
  s = session->rounds(sc.rounds);
  const double took_s = tpc_seconds_since(t0);
  killer.join();
  INFO(s.message() << " (after " << took_s << " s)");
  CHECK_FALSE(s.ok());
  CHECK(took_s < 5.0);
  CHECK(s.message().find("connection") != std::string::npos);
  CHECK(s.message().find("timed out") == std::string::npos);
}

[[maybe_unused]] const bool kTpcPinned =
    test::register_per_model("tpc: loops pinned one CPU each, one wait set each: ", "[models][tpc]",
                             tpc_check_pinned, tpc_model);
[[maybe_unused]] const bool kTpcEight = test::register_per_model(
    "tpc: 8 loops x 1,000 connections, both roles, every byte verified: ", "[models][tpc]",
    tpc_check_eight_loops, tpc_model);
[[maybe_unused]] const bool kTpcTenK = test::register_per_model(
    "tpc: 8 loops x 10,000 connections, every byte verified: ", "[models][tpc][heavy]",
    tpc_check_ten_thousand, tpc_model);
[[maybe_unused]] const bool kTpcKilled =
    test::register_per_model("tpc: a peer killed mid-run is an error within 5 s: ", "[models][tpc]",
                             tpc_check_peer_killed, tpc_model);

// The first thread-per-core model, for the binary's tests.
std::string tpc_first_model() {
  for (const ModelInfo* m : all_models())
    if (m->thread_per_core) return std::string(m->name);
  return "";
}

// One line, no more (the message and its newline).
bool tpc_one_line(const std::string& out) {
  return std::count(out.begin(), out.end(), '\n') == 1 && out.back() == '\n';
}

}  // namespace

TEST_CASE("tpc: --threads outside 0..1024, or not a count, exits 2 naming it", "[tpc][cli]") {
  const std::string m = tpc_first_model();
  REQUIRE_FALSE(m.empty());
  for (const char* bad : {"1025", "4096", "-1", "x", "2.5", "''"}) {
    const test::CommandResult r =
        test::run_iomodels("run -m " + m + " -c 2 -r 1 -l 0 --threads " + bad);
    INFO("--threads " << bad << ": " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--threads") != std::string::npos);
    CHECK(tpc_one_line(r.out));
  }
}

TEST_CASE("tpc: --threads with a model that is not thread-per-core exits 2", "[tpc][cli]") {
  for (const ModelInfo* m : all_models()) {
    if (m->thread_per_core) continue;
    const test::CommandResult r =
        test::run_iomodels("run -m " + std::string(m->name) + " -c 2 -r 1 -l 0 --threads 2");
    INFO(m->name << ": " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--threads") != std::string::npos);
    CHECK(r.out.find(tpc_first_model()) != std::string::npos);  // names the ones that take it
    CHECK(tpc_one_line(r.out));
  }
}

TEST_CASE("tpc: --threads 0 is auto; more threads than connections are clamped, and said",
          "[tpc][cli]") {
  const std::string m = tpc_first_model();
  REQUIRE_FALSE(m.empty());
  const test::TempDir dir("iomodels_tpc");
  const std::string json = dir.file("run.json");
  test::CommandResult r =
      test::run_iomodels("run -m " + m + " -c 3 -r 2 -l 0 --threads 8 --json " + json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = test::read_json(json);
  CHECK(j.at("scenario").at("loop_threads") == 8);
  CHECK(j.at("model_facts").at("threads") == 3);
  CHECK(j.at("model_facts").at("threads_asked").get<std::string>().find("clamped") !=
        std::string::npos);
  CHECK(r.out.find("threads 3") != std::string::npos);  // the summary's model line

  r = test::run_iomodels("run -m " + m + " -c 64 -r 2 -l 0 --threads 0 --json " + json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(test::read_json(json).at("model_facts").at("threads") ==
        std::min<long>(std::max(1L, online), 64));

  r = test::run_iomodels("run --help");
  CHECK(r.out.find("--threads") != std::string::npos);
}
