// Description: CPU placement and the workload's pattern, as the user sees
// them: the peer and every thread a model makes run where --cpus put them
// (read back from the kernel), the placement is in the result, and `run` and
// `bench` name and use the same pattern for the same scenario.
#include <dirent.h>
#include <sched.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "sys/cpus.h"
#include "util.h"

using namespace iomodels;

namespace {

std::set<int> tids() {
  std::set<int> out;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.insert(std::atoi(e->d_name));
    ::closedir(d);
  }
  return out;
}

std::vector<int> cpus_of(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(tid, sizeof set, &set) != 0) return {};
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

void check_placement(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  const sys::CpuList allowed = sys::affinity();
  if (allowed.size() < 2) test::skip("placement needs two CPUs this process may use");
  Scenario sc = test::scenario(std::string(m.name), Transport::kSocketpair, 8, 64, "0", 20);
  sc.model_cpus = {allowed.front()};
  sc.workload.peer_cpus = {allowed.back()};
  const std::set<int> before = tids();
  std::unique_ptr<Session> s;
  const Status st = Session::open(sc, &s);
  INFO(st.message());
  REQUIRE(st.ok());
  REQUIRE(s->rounds(5).ok());
  CHECK(cpus_of(s->workload().peer_pid()) == std::vector<int>{allowed.back()});
  CHECK(cpus_of(0) == std::vector<int>{allowed.front()});  // the thread that runs the model
  int made = 0;
  for (int tid : tids()) {
    if (before.count(tid) != 0) continue;
    INFO("thread " << tid << " made during the session");
    CHECK(cpus_of(tid) == std::vector<int>{allowed.front()});
    ++made;
  }
  if (m.mechanism == Mechanism::kThreads) CHECK(made > 0);
  s.reset();
  CHECK(cpus_of(0) == allowed);  // the caller's own CPUs come back
}

[[maybe_unused]] const bool kPlacement = test::register_per_model(
    "placement: the peer and the model's threads: ", "[placement]", check_placement);

}  // namespace

TEST_CASE("run records the placement it applied", "[placement]") {
  const sys::CpuList allowed = sys::affinity();
  if (allowed.size() < 2) test::skip("placement needs two CPUs this process may use");
  const test::TempDir dir("iomodels_place");
  const std::string json = dir.file("run.json");
  const std::string model = std::to_string(allowed.front());
  const std::string peer = std::to_string(allowed.back());
  const auto r = test::run_iomodels("run -m epoll -c 4 -s 64 -l 0 -r 20 --cpus model=" + model +
                                    ",peer=" + peer + " --json " + json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("placement     model on CPU " + model + ", peer on CPU " + peer) !=
        std::string::npos);
  const nlohmann::json j = test::read_json(json);
  CHECK(j.at("scenario").at("cpus").at("model") == model);
  CHECK(j.at("scenario").at("cpus").at("peer") == peer);
}

TEST_CASE("run and bench name and use the same pattern for the same scenario", "[placement]") {
  const test::TempDir dir("iomodels_pattern");
  for (const std::string pattern : {"free", "lockstep"}) {
    DYNAMIC_SECTION(pattern) {
      const std::string run_json = dir.file("run-" + pattern + ".json");
      const std::string bench_json = dir.file("bench-" + pattern + ".json");
      const auto r = test::run_iomodels("run -m epoll -c 4 -s 64 -l 0 -r 16 --pattern " + pattern +
                                        " --json " + run_json);
      INFO(r.out);
      REQUIRE(r.exit_code == 0);
      const auto b = test::run_iomodels(
          "bench --models epoll --connections 4 --sizes 64 --latencies 0 --pattern " + pattern +
          " --benchmark_min_time=0.01 --benchmark_out_format=json --benchmark_out=" + bench_json);
      INFO(b.out);
      REQUIRE(b.exit_code == 0);
      const nlohmann::json rj = test::read_json(run_json);
      const nlohmann::json bj = test::read_json(bench_json);
      CHECK(rj.at("scenario").at("pattern") == pattern);
      CHECK(bj.at("context").at("pattern") == pattern);
      bool named = false;
      for (const auto& bm : bj.at("benchmarks")) {
        const std::string name = bm.at("name");
        const bool lockstep_name = name.find("/lockstep") != std::string::npos;
        CHECK(lockstep_name == (pattern == "lockstep"));
        named = true;
      }
      CHECK(named);
    }
  }
}
