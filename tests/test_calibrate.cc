// Description: `iomodels calibrate` end to end through the real binary: the
// fio and sockperf parts with a tiny budget (skipped, with a message, where
// the tool is not installed), a missing tool, bad flags, and clean-up on SIGINT.
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "calibrate/process.h"
#include "util.h"

using namespace iomodels;
using nlohmann::json;

namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Processes (other than this one) whose command line mentions `text`.
int processes_naming(const std::string& text) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return 0;
  while (dirent* e = ::readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid()) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
    if (cmdline.find(text) != std::string::npos) ++n;
  }
  ::closedir(d);
  return n;
}

// One side's medians are the medians of its samples, and positive.
void check_side(const json& side, size_t pairs) {
  const json& samples = side.at("samples");
  REQUIRE(samples.size() == pairs);
  for (const char* key : {"ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"}) {
    INFO(key);
    std::vector<double> v;
    for (const json& s : samples) {
      CHECK(s.at(key).get<double>() > 0);
      v.push_back(s.at(key));
    }
    std::sort(v.begin(), v.end());
    CHECK(side.at("median").at(key).get<double>() == Approx(v[v.size() / 2]));
  }
  for (const json& s : samples) CHECK(s.at("p99_us").get<double>() >= s.at("p50_us").get<double>());
}

// The ratio is iomodels' median over the tool's.
void check_ratios(const json& row) {
  for (const char* key : {"ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"}) {
    INFO(key);
    const double ours = row.at("iomodels").at("median").at(key);
    const double theirs = row.at("tool_result").at("median").at(key);
    CHECK(row.at("ratio").at(key).get<double>() == Approx(ours / theirs));
  }
}

}  // namespace

TEST_CASE("calibrate: bad flags are one-line errors with exit code 2", "[calibrate]") {
  for (const char* args : {"--pairs 2", "--pairs x", "--qd 0", "--qd 1,,16", "--only disk",
                           "--size 1000", "--budget 1ms", "--budget soon", "--verify maybe",
                           "--msg-size 8", "--file-size 1KiB", "--step often"}) {
    INFO(args);
    const test::CommandResult r = test::run_iomodels(std::string("calibrate ") + args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.rfind("iomodels: error: ", 0) == 0);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
}

TEST_CASE("calibrate: a missing tool is skipped with how to install it", "[calibrate]") {
  const test::TempDir tmp_dir("iomodels_calibrate");
  const std::string& dir = tmp_dir.path;
  const std::string out = dir + "/cal.json";
  const test::CommandResult r =
      test::run_iomodels("calibrate --only fio --fio " + dir + "/no-such-fio --json " + out);
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("apt-get install fio") != std::string::npos);
  const json doc = test::read_json(out);
  CHECK(doc.at("rows").empty());
  REQUIRE(doc.at("skipped").size() == 1);
  CHECK(doc.at("skipped").at(0).at("part") == "fio");
  CHECK(doc.at("skipped").at(0).at("reason").get<std::string>().find("apt-get install fio") !=
        std::string::npos);
}

TEST_CASE("calibrate: fio against blocking, uring and threadpool on one file",
          "[calibrate][heavy]") {
  if (calibrate::find_executable("fio").empty())
    test::skip("fio is not installed (apt-get install fio): calibrate's fio part not tested");
  // The uring row needs io_uring itself.
  test::skip_if_unavailable(*find_model("uring"));
  const test::TempDir tmp_dir("iomodels_calibrate");
  const std::string& dir = tmp_dir.path;
  const std::string out = dir + "/cal.json";
  const test::CommandResult r = test::run_iomodels(
      "calibrate --only fio --qd 1 --pairs 3 --budget 50ms --file-size 16MiB --json " + out);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("verification OFF") != std::string::npos);
  CHECK(r.out.find("iomodels / tool") != std::string::npos);
  const json doc = test::read_json(out);
  CHECK(doc.at("parameters").at("verify") == false);
  CHECK(doc.at("tools").at("fio").get<std::string>().find("fio") != std::string::npos);
  // The data file calibrate made had no name: nothing to remove, ever.
  const std::string file = doc.at("parameters").at("file");
  CHECK(file == "an unnamed file (O_TMPFILE) in /dev/shm");

  const json& rows = doc.at("rows");
  REQUIRE(rows.size() == 3);
  std::map<std::string, std::string> pairs;
  for (const json& row : rows) {
    INFO(row.dump());
    pairs[row.at("model")] = row.at("tool");
    CHECK(row.at("qd") == 1);
    CHECK(row.at("scenario").at("transport") == "file");
    CHECK(row.at("scenario").at("connections") == 1);
    if (row.contains("not_applicable")) {
      // Only io_uring can be missing from a kernel (disabled by sysctl or seccomp).
      CHECK(row.at("model") == "uring");
      continue;
    }
    REQUIRE_FALSE(row.contains("failed"));
    check_side(row.at("iomodels"), 3);
    check_side(row.at("tool_result"), 3);
    check_ratios(row);
    CHECK(row.at("goal").contains("met"));
    CHECK(row.at("tool_command").get<std::string>().find("--readonly") != std::string::npos);
    // threadpool hands each request to its pool, as posixaio hands each read to its threads.
    CHECK(row.at("step") == (row.at("model") == "threadpool" ? "round" : "batch"));
  }
  CHECK(pairs["blocking"] == "fio psync, 1 job");
  CHECK(pairs["uring"] == "fio io_uring, iodepth 1");
  CHECK(pairs["threadpool"] == "fio posixaio, iodepth 1");
}

TEST_CASE("calibrate: sockperf ping-pong (recv and epoll modes) against epoll and blocking on tcp",
          "[calibrate][heavy]") {
  if (calibrate::find_executable("sockperf").empty())
    test::skip(
        "sockperf is not installed (apt-get install sockperf): calibrate's sockperf part "
        "not tested");
  const test::TempDir tmp_dir("iomodels_calibrate");
  const std::string& dir = tmp_dir.path;
  const std::string out = dir + "/cal.json";
  const test::CommandResult r = test::run_iomodels(
      "calibrate --only sockperf --pairs 3 --budget 50ms --msg-size 64 --json " + out);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const json doc = test::read_json(out);
  const json& rows = doc.at("rows");
  REQUIRE(rows.size() == 3);
  CHECK(rows.at(0).at("model") == "epoll");
  CHECK(rows.at(1).at("model") == "blocking");
  CHECK(rows.at(2).at("model") == "epoll");
  CHECK(rows.at(2).at("tool_command").get<std::string>().find("-F e") != std::string::npos);
  for (const json& row : rows) {
    INFO(row.dump());
    REQUIRE_FALSE(row.contains("failed"));
    CHECK(row.at("scenario").at("transport") == "tcp");
    CHECK(row.at("scenario").at("size") == 64);
    CHECK(row.at("scenario").at("latency") == "0");
    check_side(row.at("iomodels"), 3);
    check_side(row.at("tool_result"), 3);
    check_ratios(row);
    // A loopback round trip takes microseconds, not milliseconds.
    CHECK(row.at("tool_result").at("median").at("p50_us").get<double>() < 2000);
    CHECK(row.at("iomodels").at("median").at("p50_us").get<double>() < 2000);
  }
  // The first two rows compare with the same sockperf runs; the third with
  // sockperf's epoll mode, other runs.
  CHECK(rows.at(0).at("tool_result") == rows.at(1).at("tool_result"));
  CHECK(rows.at(0).at("tool_result") != rows.at(2).at("tool_result"));
  CHECK(rows.at(0).at("goal").at("what").get<std::string>().find("1.05") != std::string::npos);
}

TEST_CASE("calibrate: SIGINT removes the data file it made and stops fio", "[calibrate]") {
  if (calibrate::find_executable("fio").empty())
    test::skip("fio is not installed (apt-get install fio): calibrate's clean-up not tested");
  const test::TempDir tmp_dir("iomodels_calibrate");
  const std::string& dir = tmp_dir.path;
  const std::string file = dir + "/data";
  sys::SpawnOptions o;
  o.search_path = false;
  o.own_group = false;
  sys::Child child;
  REQUIRE(sys::spawn({IOMODELS_BINARY, "calibrate", "--only", "fio", "--budget", "2s",
                      "--file-size", "16MiB", "--file", file, "--json", dir + "/cal.json"},
                     o, &child) == 0);
  const pid_t pid = child.pid();
  // Wait for the data file, then until a fio reads it (first the runs that
  // measure fio's start-up CPU, then the pairs').
  for (int i = 0; i < 500 && !exists(file); ++i) ::usleep(10'000);
  REQUIRE(exists(file));
  for (int i = 0; i < 500 && processes_naming("--filename=" + file) == 0; ++i) ::usleep(10'000);
  CHECK(processes_naming("--filename=" + file) > 0);
  ::usleep(300'000);
  ::kill(pid, SIGINT);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGINT);
  CHECK_FALSE(exists(file));
  CHECK_FALSE(exists(dir + "/cal.json"));
  // No fio left running on that file (killed processes may take a moment to go).
  bool left = true;
  for (int i = 0; i < 100 && left; ++i) {
    left = processes_naming(file) > 0;
    if (left) ::usleep(20'000);
  }
  CHECK_FALSE(left);
}

TEST_CASE("calibrate killed with SIGKILL leaves no data file behind", "[calibrate]") {
  if (calibrate::find_executable("fio").empty())
    test::skip("fio is not installed (apt-get install fio): calibrate's fio part not tested");
  // Names in /dev/shm before and after: a 256 MiB fill is under way at the kill.
  const std::string list = "ls -A /dev/shm | sort";
  const std::string before = test::run_shell(list).out;
  const test::CommandResult r =
      test::run_shell(std::string(IOMODELS_BINARY) +
                      " calibrate --only fio --json /dev/null >/dev/null 2>&1 & pid=$!; sleep 0.5; "
                      "kill -KILL $pid; wait $pid; echo rc=$?");
  INFO(r.out);
  CHECK(r.out.find("rc=137") != std::string::npos);
  CHECK(test::run_shell(list).out == before);
}
