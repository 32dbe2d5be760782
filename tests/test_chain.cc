// Description: `iomodels chain`, run as the real binary with its real
// processes and a private nats-server: both modes deliver every message
// verified; each fault kind (stall, crash, slow; B and C) does what it
// says; a stall of C reaches A in sync mode and waits in the queue in queue
// mode; a crash loses nothing in queue mode; an ack wait that runs out makes
// duplicates that are counted; bad flags, a missing broker, a broker killed
// mid-run and Ctrl-C end cleanly, leaving no process and no directory.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "chain/fault.h"
#include "frontend/frontend.h"
#include "measure/recorder.h"
#include "sys/process.h"
#include "util.h"

using namespace iomodels;

namespace {

bool have_nats_server() { return test::run_shell("command -v nats-server").exit_code == 0; }

void need_nats_server() {
  if (!have_nats_server()) test::skip("nats-server is not installed (apt-get install nats-server)");
}

// Runs `chain ARGS --json FILE`, requires exit 0, returns the JSON.
nlohmann::json run_chain(const std::string& args) {
  test::TempDir dir("chain_test");
  const std::string json = dir.file("out.json");
  const auto r = test::run_iomodels("chain " + args + " --json " + json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  return test::read_json(json);
}

// What every run must show: every message A's caller had accepted was
// delivered at C, verified, and the totals add up.
void check_totals(const nlohmann::json& j) {
  INFO(j.dump().substr(0, 2000));
  CHECK(j["corrupt"] == 0);
  CHECK(j["lost"] == 0);
  CHECK(j["a_unanswered"] == 0);
  CHECK(j["sent"].get<uint64_t>() == j["accepted"].get<uint64_t>() + j["a_errors"].get<uint64_t>());
  CHECK(j["delivered"].get<uint64_t>() >= j["accepted"].get<uint64_t>());
  CHECK(j["delivered"].get<uint64_t>() <= j["sent"].get<uint64_t>());
  REQUIRE(j["timeline"].is_array());
  CHECK(j["timeline"].size() >= 10);
  CHECK(j.contains("environment"));
}

// A process started with `sh -c "exec ..."`: its pid is the binary's.
pid_t start_background(const std::string& cmd) {
  sys::SpawnOptions o;
  o.search_path = false;
  o.own_group = false;
  sys::Child child;
  if (sys::spawn({"/bin/sh", "-c", "exec " + cmd}, o, &child) != 0) return -1;
  return child.pid();
}

// Waits up to `limit` for `pid`; its exit code (128 + signal), or -1 if it
// is still running (then it is killed).
int wait_for(pid_t pid, std::chrono::seconds limit) {
  sys::ExitInfo x;
  const auto limit_ns = static_cast<uint64_t>(std::chrono::nanoseconds(limit).count());
  sys::reap(pid, now_ns() + limit_ns, 0, &x);
  return x.timed_out ? -1 : sys::exit_code(x.status);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Processes whose command line mentions `needle` (the run's directory).
int processes_mentioning(const std::string& needle) {
  int n = 0;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      std::string cmd = read_file(std::string("/proc/") + e->d_name + "/cmdline");
      for (char& c : cmd)
        if (c == '\0') c = ' ';
      if (cmd.find(needle) != std::string::npos) ++n;
    }
    ::closedir(d);
  }
  return n;
}

int entries(const std::string& dir) {
  return test::run_shell("ls -A " + dir + " | wc -l").out == "0\n" ? 0 : 1;
}

// The child of `parent` running nats-server, or -1.
pid_t broker_child(pid_t parent) {
  const auto r = test::run_shell("pgrep -P " + std::to_string(parent) + " -x nats-server");
  return r.exit_code == 0 ? static_cast<pid_t>(std::stol(r.out)) : -1;
}

}  // namespace

TEST_CASE("chain: sync mode delivers every request verified", "[chain]") {
  const auto j = run_chain("--mode sync --rate 300 --duration 2s");
  check_totals(j);
  CHECK(j["mode"] == "sync");
  CHECK(j["sent"] == 600);
  CHECK(j["a_errors"] == 0);
  CHECK(j["delivered"] == 600);
  CHECK(j["duplicates"] == 0);
  CHECK(j["broker"].is_null());
  // Open loop: about 300 accepted per second in the steady middle of the run.
  const auto& mid = j["timeline"][10];
  CHECK(mid["a_accepted_per_s"].get<double>() >= 100);
  CHECK(mid["a_p99_us"].get<double>() > 0);
}

TEST_CASE("chain: queue mode delivers every message through the broker", "[chain]") {
  need_nats_server();
  const auto j = run_chain("--mode queue --rate 300 --duration 2s");
  check_totals(j);
  CHECK(j["mode"] == "queue");
  CHECK(j["sent"] == 600);
  CHECK(j["accepted"] == 600);
  CHECK(j["delivered"] == 600);
  CHECK(j["broker"]["started"] == "private");
  CHECK(j["broker"]["version"].get<std::string>().find('.') != std::string::npos);
  bool depth_seen = false;
  for (const auto& t : j["timeline"]) depth_seen |= t["depth_ab"].is_number();
  CHECK(depth_seen);
}

TEST_CASE("chain: a stall of C spreads to A in sync mode", "[chain][timing]") {
  const auto j = run_chain("--mode sync --rate 300 --duration 5s --fault stall:C:2s@2s");
  check_totals(j);
  INFO(j["a_p99_us_during_fault"] << " " << j["a_errors"]);
  // A waits for C: errors, or a p99 during the fault at least the stall.
  CHECK((j["a_errors"].get<uint64_t>() > 0 ||
         j["a_p99_us_during_fault"].get<double>() >= 2e6 * 0.98));
  CHECK(j["a_p99_us_during_fault"].get<double>() > 10 * j["a_p99_us_before_fault"].get<double>());
}

TEST_CASE("chain: a stall of C waits in the queue in queue mode", "[chain][timing]") {
  need_nats_server();
  const auto j = run_chain("--mode queue --rate 300 --duration 5s --fault stall:C:2s@2s");
  check_totals(j);
  INFO(j.dump().substr(0, 600));
  CHECK(j["a_errors"] == 0);
  CHECK(j["delivered"] == j["sent"]);
  CHECK(j["a_p99_us_during_fault"].get<double>() <= 10 * j["a_p99_us_before_fault"].get<double>());
  // The backlog grows by about what arrived during the stall, then drains.
  CHECK(j["backlog_max"].get<double>() >= 300);
  REQUIRE(j["drain_s"].is_number());
  CHECK(j["drain_s"].get<double>() < 2.0);
}

TEST_CASE("chain: a crash of C in queue mode loses nothing", "[chain]") {
  need_nats_server();
  const auto j =
      run_chain("--mode queue --rate 300 --duration 3s --ack-wait 500ms --fault crash:C@1s+1s");
  check_totals(j);
  CHECK(j["a_errors"] == 0);
  CHECK(j["delivered"] == j["sent"]);
  CHECK(j["duplicates"].is_number_unsigned());
  CHECK(j["faults"][0]["kind"] == "crash");
}

TEST_CASE("chain: a crash of C in sync mode is seen by A as errors", "[chain]") {
  const auto j = run_chain("--mode sync --rate 300 --duration 3s --fault crash:C@1s+1s");
  check_totals(j);
  CHECK(j["a_errors"].get<uint64_t>() > 100);
  CHECK(j["b_errors"].get<uint64_t>() > 100);
  // Restarted: requests after the fault are accepted again.
  CHECK(j["accepted"].get<uint64_t>() > 300);
}

TEST_CASE("chain: an ack wait that runs out makes duplicates and they are counted",
          "[chain][timing]") {
  need_nats_server();
  // A duplicate needs a message C holds unacknowledged past the ack wait: one
  // delivered to C's pending fetch while C is stopped, redelivered when C
  // fetches again. Whether a pull was pending at the instant of SIGSTOP is a
  // race (one stall made a duplicate in 24 of 30 runs), so four stalls: each
  // of 16 runs counted 3 or 4.
  const auto j = run_chain(
      "--mode queue --rate 300 --duration 4s --ack-wait 200ms --fault stall:C:400ms@1s "
      "--fault stall:C:400ms@1.7s --fault stall:C:400ms@2.4s --fault stall:C:400ms@3.1s");
  check_totals(j);
  CHECK(j["delivered"] == j["sent"]);
  CHECK(j["duplicates"].get<uint64_t>() >= 1);
}

TEST_CASE("chain: a slow C builds a backlog in queue mode", "[chain][timing]") {
  need_nats_server();
  // 1 ms of work x20 = 20 ms a message: C keeps up with 50/s, 300/s arrive.
  const auto j =
      run_chain("--mode queue --rate 300 --duration 3s --work 1ms --fault slow:C:20x@1s+1s");
  check_totals(j);
  CHECK(j["delivered"] == j["sent"]);
  CHECK(j["backlog_max"].get<double>() >= 100);
  CHECK(j["faults"][0]["factor"] == 20);
}

TEST_CASE("chain: faults on B reach A in sync mode", "[chain][timing]") {
  const auto j = run_chain(
      "--mode sync --rate 300 --duration 4s --fault stall:B:1s@1s --fault slow:B:10x@2.5s+1s");
  check_totals(j);
  CHECK(j["a_p99_us_during_fault"].get<double>() >= 0.9e6);
  CHECK(j["faults"].size() == 2);
}

TEST_CASE("chain: bad flags exit 2 naming the option", "[chain]") {
  const std::pair<const char*, const char*> cases[] = {
      {"--mode both", "--mode"},
      {"--rate 0", "--rate"},
      {"--fault stall:C", "--fault"},
      {"--fault stall:A:1s@1s", "--fault"},
      {"--fault crash:C@1s", "--fault"},
      {"--fault slow:C:10@1s+1s", "--fault"},
      {"--fault pause:C:1s@1s", "--fault"},
      {"--duration 3s --fault stall:C:2s@2s", "--fault"},
      {"--fault stall:C:1s@1s --fault crash:C@1.5s+1s", "--fault"},
      {"--mode sync --broker nats://127.0.0.1:4222", "--broker"},
      {"--mode queue --broker nowhere", "--broker"},
      {"--json /nonexistent/dir/x.json", "--json"},
  };
  for (const auto& [args, flag] : cases) {
    const auto r = test::run_iomodels(std::string("chain ") + args);
    INFO(args << ": " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find(flag) != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
  const chain::Fault f = chain::parse_fault("slow:B:10x@3s+2s");
  CHECK(f.kind == chain::FaultKind::kSlow);
  CHECK(f.role == chain::Role::kB);
  CHECK(f.factor == 10);
  CHECK(f.at_ns == 3'000'000'000ull);
  CHECK(f.for_ns == 2'000'000'000ull);
  CHECK_THROWS_AS(chain::parse_fault("crash:C@3s+0s"), frontend::UsageError);
}

TEST_CASE("chain: without nats-server queue mode exits 2 with the install hint", "[chain]") {
  test::TempDir empty("chain_nopath");
  const auto r =
      test::run_shell("PATH=" + empty.path + " " + IOMODELS_BINARY + " chain --mode queue");
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("apt-get install nats-server") != std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
}

TEST_CASE("chain: a broker killed mid-run is a clear error and no hang", "[chain]") {
  need_nats_server();
  test::TempDir dir("chain_kill");
  const std::string log = dir.file("log");
  const pid_t pid =
      start_background("env TMPDIR=" + dir.path + " " + IOMODELS_BINARY +
                       " chain --mode queue --rate 300 --duration 5s > " + log + " 2>&1");
  pid_t broker = -1;
  for (int i = 0; i < 200 && broker < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    broker = broker_child(pid);
  }
  REQUIRE(broker > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ::kill(broker, SIGKILL);
  const int code = wait_for(pid, std::chrono::seconds(30));
  const std::string out = read_file(log);
  INFO(out);
  CHECK(code == 1);
  CHECK(out.find("broker") != std::string::npos);
  CHECK(processes_mentioning(dir.path) == 0);
  ::remove(log.c_str());
  CHECK(entries(dir.path) == 0);
}

TEST_CASE("chain: Ctrl-C leaves no process and no directory behind", "[chain]") {
  for (const char* mode : {"queue", "sync"}) {
    if (std::string(mode) == "queue" && !have_nats_server()) continue;
    test::TempDir dir("chain_int");
    const std::string log = dir.path + ".log";
    const pid_t pid =
        start_background("env TMPDIR=" + dir.path + " " + IOMODELS_BINARY + " chain --mode " +
                         mode + " --rate 300 --duration 10s > " + log + " 2>&1");
    // Until the services run (a record file appears in the run's directory).
    for (int i = 0; i < 200 && test::run_shell("ls " + dir.path + "/*/a.records").exit_code != 0;
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(pid, SIGINT);
    const int code = wait_for(pid, std::chrono::seconds(20));
    const std::string out = read_file(log);
    ::remove(log.c_str());
    INFO(mode << ": " << out);
    CHECK(code == 128 + SIGINT);
    CHECK(processes_mentioning(dir.path) == 0);
    CHECK(entries(dir.path) == 0);
  }
}

TEST_CASE("chain: tools/plot_chain.py draws the runs", "[chain][tools]") {
  test::TempDir dir("chain_plot");
  const auto r = test::run_iomodels(
      "chain --mode sync --rate 200 --duration 1s --fault slow:C:5x@0.2s+0.5s --json " +
      dir.file("sync.json"));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto p = test::run_shell(std::string("/usr/bin/python3 ") + IOMODELS_SOURCE_DIR +
                                 "/tools/plot_chain.py " + dir.file("sync.json") + " " +
                                 dir.file("sync.json") + " -o " + dir.file("c.png"));
  INFO(p.out);
  CHECK(p.exit_code == 0);
  std::ifstream png(dir.file("c.png"), std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
  // Not a chain result: refused with the reason.
  const auto bad = test::run_shell(std::string("/usr/bin/python3 ") + IOMODELS_SOURCE_DIR +
                                   "/tools/plot_chain.py /dev/null -o " + dir.file("d.png"));
  CHECK(bad.exit_code != 0);
}
