// Description: `run --exec`: a program of the user's on the same peer. A
// client written from docs/protocol.md's text works; every rule the peer
// checks is enforced (tests/exec/misbehave.py breaks each on purpose); a
// program that hangs is killed with its group at --timeout; one that cannot
// start is exit 2 before any work; nothing (descriptor, thread, process) is
// left behind.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

const std::string kSource = IOMODELS_SOURCE_DIR;
const std::string kMisbehave = kSource + "/tests/exec/misbehave.py";

void need_python() {
  if (::access("/usr/bin/python3", X_OK) != 0) test::skip("no /usr/bin/python3");
}

// The pids a misbehave.py run wrote into `path`.
std::vector<pid_t> pids_in(const std::string& path) {
  std::vector<pid_t> out;
  std::ifstream f(path);
  for (pid_t p; f >> p;) out.push_back(p);
  return out;
}

// True while `pid` exists and is not a zombie of ours.
bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

}  // namespace

TEST_CASE("run --exec: the client in docs/protocol.md, taken from its text, is measured",
          "[exec]") {
  need_python();
  test::TempDir dir;
  std::ifstream doc(kSource + "/docs/protocol.md");
  std::stringstream ss;
  ss << doc.rdbuf();
  const std::string text = ss.str();
  const size_t a = text.find("```python\nimport os, socket");
  REQUIRE(a != std::string::npos);
  const size_t b = text.find("```", a + 10);
  REQUIRE(b != std::string::npos);
  const std::string client = dir.path + "/client.py";
  std::ofstream(client) << text.substr(a + 10, b - a - 10);
  const std::string json = dir.path + "/r.json";
  const auto r = test::run_iomodels("run --exec \"/usr/bin/python3 " + client +
                                    "\" -c 3 -s 4097 -l 1ms -r 7 --json " + json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto j = test::read_json(json);
  CHECK(j["requests"] == 21);
  CHECK(j["scenario"]["model"] == "client.py");
  CHECK(j["quadrant"] == "program");
  CHECK(j["peer"]["requests"] == 21);
  CHECK(j["exec"]["latencies_reported"] == 0);
  CHECK(j["latency_us"].is_null());
  CHECK(j["exec"]["turnaround_us"]["p50"].get<double>() > 0);
  CHECK(j["cpu_util"].get<double>() > 0);
}

TEST_CASE("run --exec: every rule the peer checks fails the run, naming it", "[exec]") {
  need_python();
  struct Case {
    const char* mode;
    const char* message;
  };
  const Case cases[] = {
      {"wrong-size", "1 with a wrong size"},
      {"wrong-byte",
       "the program exited with status 1; the peer had served 3 of its 8 requests, 0 of 2 "
       "connections complete"},
      {"stop-early", "after 4 of its 8 requests; 1 of 2 connections complete"},
      {"bad-report",
       "IOMODELS_REPORT_FD: line 1 ('oops') is not '<conn> <id> <latency_ns>': three unsigned"},
      {"report-negative", "IOMODELS_REPORT_FD: line 1 ('0 0 -7') is not '<conn> <id>"},
      {"report-conn", "line 1 ('5 0 1000') names connection 5; the program has 0..1"},
      {"report-id", "line 1 ('0 4 1000') names request 4; each connection sends ids 0..3"},
      {"report-twice", "line 2 ('0 0 1000') reports request 0 of connection 0 a second time"},
      {"report-long", "reports a latency of 1000000000000000 ns, longer than the program ran"},
  };
  for (Transport t : {Transport::kSocketpair, Transport::kPipe}) {
    for (const Case& c : cases) {
      DYNAMIC_SECTION(transport_name(t) << ": " << c.mode) {
        const auto r =
            test::run_iomodels("run -t " + std::string(transport_name(t)) + " --exec \"" +
                               kMisbehave + " " + c.mode + "\" -c 2 -r 4 -l 1ms");
        INFO(r.out);
        CHECK(r.exit_code == 1);
        CHECK(r.out.find(c.message) != std::string::npos);
      }
    }
  }
  SECTION("the control case passes, with every latency reported") {
    const auto r = test::run_iomodels("run -t pipe --exec \"" + kMisbehave + " good\" -c 2 -r 4");
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("latency (us)") != std::string::npos);
  }
}

TEST_CASE("run --exec: a program that hangs is killed with its group at --timeout", "[exec]") {
  need_python();
  test::TempDir dir;
  const std::string pids = dir.path + "/pids";
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = test::run_iomodels("run --exec \"" + kMisbehave + " hang " + pids +
                                    "\" -c 2 -r 4 -l 1ms --timeout 1s");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("made no request for 1s (--timeout): killed") != std::string::npos);
  CHECK(s < 5.0);
  const auto p = pids_in(pids);
  REQUIRE(p.size() == 1);
  CHECK_FALSE(alive(p[0]));
}

TEST_CASE("run --exec: what a program leaves running in its group is killed", "[exec]") {
  need_python();
  test::TempDir dir;
  const std::string pids = dir.path + "/pids";
  const auto r =
      test::run_iomodels("run --exec \"" + kMisbehave + " orphan " + pids + "\" -c 2 -r 3 -l 1ms");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("it left processes running in its group: killed") != std::string::npos);
  const auto p = pids_in(pids);
  REQUIRE(p.size() == 2);
  for (pid_t pid : p) CHECK_FALSE(alive(pid));
}

TEST_CASE("run --exec --cpus: the program runs where a model would", "[exec]") {
  need_python();
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) test::skip("one CPU: nothing to place");
  test::TempDir dir;
  const std::string cpus = dir.path + "/cpus";
  const auto r = test::run_iomodels("run --exec \"" + kMisbehave + " cpus " + cpus +
                                    "\" -c 2 -r 3 --cpus model=0,peer=1");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  std::ifstream f(cpus);
  std::string got;
  f >> got;
  CHECK(got == "0");
}

TEST_CASE("run --exec: a program that cannot start is refused with exit 2, before any work",
          "[exec]") {
  test::TempDir dir;
  const std::string plain = dir.path + "/not-executable";
  std::ofstream(plain) << "#!/bin/sh\nexit 0\n";
  struct Case {
    std::string cmd, message;
  };
  const std::vector<Case> cases = {
      {plain, "not executable"},
      {dir.path + "/missing", "No such file or directory"},
      {"no-such-program-anywhere", "not found in PATH"},
      {dir.path, "not a regular file"},
      {"", "no program given"},
      {"ls | wc", "run without a shell"},
      {"echo \"unbalanced", "unbalanced quotes"},
      {"echo $(id)", "command substitution"},
  };
  for (const Case& c : cases) {
    const auto r = test::run_iomodels("run --exec '" + c.cmd + "' -c 1 -r 1");
    INFO(c.cmd << "\n" << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--exec") != std::string::npos);
    CHECK(r.out.find(c.message) != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
  SECTION("flags that say nothing of a program are refused, not ignored") {
    for (const char* extra : {"--model blocking", "--pool-threads 2", "--verify off", "-t file",
                              "--pattern lockstep"}) {
      const auto r = test::run_iomodels(std::string("run --exec true ") + extra);
      INFO(extra << "\n" << r.out);
      CHECK(r.exit_code == 2);
    }
    auto r = test::run_iomodels("run --name x");
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--name: only with --exec") != std::string::npos);
    r = test::run_iomodels("run --exec true --name epoll");
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--name: 'epoll' is a built-in model's name") != std::string::npos);
  }
}

TEST_CASE("run --exec leaves no descriptor, thread or process behind", "[exec]") {
  need_python();
  Scenario sc;
  sc.workload.connections = 4;
  sc.workload.size = 512;
  sc.rounds = 3;
  ExecSpec spec;
  REQUIRE(parse_exec_command(kMisbehave + " good", &spec).ok());
  for (Transport t : all_transports()) {
    DYNAMIC_SECTION(transport_name(t)) {
      sc.workload.transport = t;
      if (t == Transport::kTcp) {
        // misbehave.py speaks socketpair and pipe; tcp's client connects
        // itself: the doc's client does not, so a failing program stands in.
        REQUIRE(parse_exec_command("/bin/false", &spec).ok());
      }
      const int fds = test::open_fds();
      const int threads = test::threads_quiet();
      ScenarioResult r;
      const Status s = run_exec(sc, spec, &r);
      INFO(s.message());
      CHECK(s.ok() == (t != Transport::kTcp));
      CHECK(test::open_fds() == fds);
      CHECK(test::threads_settled(threads) == threads);
      errno = 0;
      CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
      CHECK(errno == ECHILD);  // the program and the peer reaped, no zombie
    }
  }
}

TEST_CASE("run --exec: the default name is the script's, past env and an interpreter", "[exec]") {
  const auto name = [](const std::vector<std::string>& argv) {
    ExecSpec spec;
    spec.argv = argv;
    return exec_default_name(spec);
  };
  CHECK(name({"/usr/bin/python3", kMisbehave, "good"}) == "misbehave.py");
  CHECK(name({"/usr/bin/env", "-u", "HOME", "A=1", "/usr/bin/python3", "-u", kMisbehave}) ==
        "misbehave.py");
  CHECK(name({"/usr/bin/env", "--", "/bin/true"}) == "true");
  CHECK(name({"/usr/bin/env", "A=1"}) == "env");
  CHECK(name({"/opt/client"}) == "client");
}

TEST_CASE("run --exec: a window too short for the counters' readings is flagged", "[exec]") {
  need_python();
  const std::string run = "run -t pipe --exec \"/usr/bin/python3 " + kMisbehave + " good\" -c 1 ";
  test::TempDir dir;
  const std::string json = dir.path + "/r.json";
  const auto brief = test::run_iomodels(run + "-l 0 -r 5 --json " + json);
  INFO(brief.out);
  REQUIRE(brief.exit_code == 0);
  // Without the kernel's counters the figures cover the program's life, not
  // a window, and there are no readings to be short of.
  const auto j = test::read_json(json);
  if (j["exec"]["window"] != "first request to last response")
    test::skip("the kernel's counters are not available: " + j["exec"]["window"].dump());
  CHECK(brief.out.find("under 20 readings of the counters (5 ms apart)") != std::string::npos);
  // 150 requests of 1 ms each: a window of at least 150 ms, 30 readings.
  const auto enough = test::run_iomodels(run + "-l 1ms -r 150");
  INFO(enough.out);
  REQUIRE(enough.exit_code == 0);
  CHECK(enough.out.find("readings of the counters") == std::string::npos);
}
