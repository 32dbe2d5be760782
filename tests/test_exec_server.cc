// Description: `run --exec --role server`: a program of the user's as the
// server of the load generator's schedule. It is handed its listener by
// systemd's socket activation (tcp) or its ends of the connections, on every
// transport; every byte it sends is checked; a wrong byte, an early death, a
// bad exit or a server that will not stop fails the run, naming it; nothing
// (descriptor, thread, process) is left behind.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "run/exec.h"
#include "util.h"

using namespace iomodels;

namespace {

const std::string kServer = std::string(IOMODELS_SOURCE_DIR) + "/tests/exec/misbehave_server.py";

void need_python3() {
  if (::access("/usr/bin/python3", X_OK) != 0) test::skip("no /usr/bin/python3");
}

std::vector<pid_t> written_pids(const std::string& path) {
  std::vector<pid_t> out;
  std::ifstream f(path);
  for (pid_t p; f >> p;) out.push_back(p);
  return out;
}

std::string server_run(Transport t, const std::string& mode, const std::string& extra = "") {
  return "run --role server --offered 2000 -t " + std::string(transport_name(t)) + " --exec \"" +
         kServer + " " + mode + "\" " + extra;
}

}  // namespace

TEST_CASE("run --exec --role server: a server is measured on every transport", "[exec]") {
  need_python3();
  for (Transport t : all_transports()) {
    DYNAMIC_SECTION(transport_name(t)) {
      test::TempDir dir;
      const std::string json = dir.path + "/r.json";
      // 'good' exits 3 unless tcp's socket activation is as promised.
      const auto r = test::run_iomodels(server_run(t, "good", "-c 3 -s 4097 -r 40 --json " + json));
      INFO(r.out);
      REQUIRE(r.exit_code == 0);
      const auto j = test::read_json(json);
      CHECK(j["scenario"]["model"] == "misbehave_server.py");
      CHECK(j["exec"]["role"] == "server");
      CHECK(j["exec"]["ended"] == "exited with status 0 once its connections closed");
      CHECK(j["requests"].get<uint64_t>() >= 120);
      CHECK(j["generator"]["bad_bytes"] == 0);
      CHECK(j["generator"]["responses"].get<uint64_t>() == j["requests"].get<uint64_t>());
      CHECK(j["latency_us"]["p50"].get<double>() > 0);
      CHECK(j["cpu_us_per_req"].get<double>() > 0);
    }
  }
}

TEST_CASE("run --exec --role server: what breaks the server role fails the run, naming it",
          "[exec]") {
  need_python3();
  struct Case {
    const char* mode;
    const char* message;
  };
  const Case cases[] = {
      {"wrong-byte", "the program's responses had a wrong byte"},
      {"die", "the program exited with status 4 during the"},
      {"close-one", "the program closed 1 of its connections"},
      {"exit-1",
       "the program exited with status 1 at the end of its connections, after the measurement"},
  };
  for (Transport t : all_transports()) {
    for (const Case& c : cases) {
      DYNAMIC_SECTION(transport_name(t) << ": " << c.mode) {
        const auto r = test::run_iomodels(server_run(t, c.mode, "-c 2 -r 40"));
        INFO(r.out);
        CHECK(r.exit_code == 1);
        CHECK(r.out.find(c.message) != std::string::npos);
      }
    }
  }
}

TEST_CASE("run --exec --role server: a server that ignores SIGTERM is killed with its group",
          "[exec]") {
  need_python3();
  test::TempDir dir;
  const std::string pids = dir.path + "/pids";
  const auto t0 = std::chrono::steady_clock::now();
  const auto r =
      test::run_iomodels(server_run(Transport::kTcp, "ignore-term " + pids, "-c 2 -r 20"));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("did not exit within 5s of SIGTERM") != std::string::npos);
  CHECK(s < 15.0);
  const auto p = written_pids(pids);
  REQUIRE(p.size() == 1);
  CHECK(::kill(p[0], 0) != 0);
}

TEST_CASE("run --exec --role server: what a server leaves in its group is killed", "[exec]") {
  need_python3();
  test::TempDir dir;
  const std::string pids = dir.path + "/pids";
  const auto r =
      test::run_iomodels(server_run(Transport::kSocketpair, "orphan " + pids, "-c 2 -r 20"));
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("it left processes running in its group: killed") != std::string::npos);
  const auto p = written_pids(pids);
  REQUIRE(p.size() == 2);
  for (pid_t pid : p) CHECK(::kill(pid, 0) != 0);
}

TEST_CASE("run --exec --role server: the server role's bad input is refused with exit 2",
          "[exec]") {
  for (const char* extra : {"--role server", "--role server --offered 100 --rate 5",
                            "--role server --offered 100 -l 1ms", "--role server --offered 0"}) {
    const auto r = test::run_iomodels(std::string("run --exec true ") + extra);
    INFO(extra << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
}

TEST_CASE("run --exec --role server leaves no descriptor, thread or process behind", "[exec]") {
  need_python3();
  Scenario sc;
  sc.workload.role = Role::kServer;
  sc.workload.offered_per_s = 2000;
  sc.workload.connections = 4;
  sc.workload.size = 512;
  sc.rounds = 10;
  ExecSpec spec;
  REQUIRE(parse_exec_command(kServer + " good", &spec).ok());
  for (Transport t : all_transports()) {
    DYNAMIC_SECTION(transport_name(t)) {
      sc.workload.transport = t;
      const int fds = test::open_fds();
      const int threads = test::threads_quiet();
      ScenarioResult r;
      const Status s = run_exec(sc, spec, &r);
      INFO(s.message());
      CHECK(s.ok());
      CHECK(test::open_fds() == fds);
      CHECK(test::threads_settled(threads) == threads);
      errno = 0;
      CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
      CHECK(errno == ECHILD);
    }
  }
}

TEST_CASE("run --exec --role server: the server in docs/protocol.md, taken from its text, serves",
          "[exec]") {
  need_python3();
  test::TempDir dir;
  std::ifstream doc(std::string(IOMODELS_SOURCE_DIR) + "/docs/protocol.md");
  std::stringstream ss;
  ss << doc.rdbuf();
  const std::string text = ss.str();
  const size_t a =
      text.find("```python\nimport os, struct, socket, sys, threading  # smallest server");
  REQUIRE(a != std::string::npos);
  const size_t b = text.find("```", a + 10);
  REQUIRE(b != std::string::npos);
  const std::string server = dir.path + "/server.py";
  std::ofstream(server) << text.substr(a + 10, b - a - 10);
  for (Transport t : all_transports()) {
    DYNAMIC_SECTION(transport_name(t)) {
      const std::string json = dir.path + "/r.json";
      const auto r = test::run_iomodels(
          "run --role server --offered 3000 -t " + std::string(transport_name(t)) +
          " --exec \"/usr/bin/python3 " + server + "\" -c 3 -s 4097 -r 30 --json " + json);
      INFO(r.out);
      REQUIRE(r.exit_code == 0);
      const auto j = test::read_json(json);
      CHECK(j["scenario"]["model"] == "server.py");
      CHECK(j["generator"]["bad_bytes"] == 0);
      CHECK(j["requests"].get<uint64_t>() >= 90);
    }
  }
}
