// Description: result files that never clobber: what is at an output path
// decides how it is written (or that it is refused before any work), nothing
// half-written is left behind, and exit codes say what was done.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "util.h"

using namespace iomodels;

namespace {

constexpr const char* kQuickRun = "run -c 2 -r 3 -l 0";

std::string quote(const std::string& s) { return "'" + s + "'"; }

// Names in `dir`, sorted, as one line (for a message).
std::string listing(const std::string& dir) {
  return test::run_shell("ls -A " + quote(dir) + " | tr '\\n' ' '").out;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

TEST_CASE("a character device at --json is written in place and stays a device", "[outputs]") {
  test::TempDir d;
  const std::string n = d.file("n");
  if (::mknod(n.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0)
    test::skip("mknod of a character device is not permitted here");
  const auto r = test::run_iomodels(std::string(kQuickRun) + " --json " + quote(n));
  INFO(r.out);
  CHECK(r.exit_code == 0);
  struct stat st {};
  REQUIRE(::lstat(n.c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(listing(d.path) == "n ");
}

TEST_CASE(
    "run with --json - writes the result to standard output and the summary to standard error",
    "[outputs]") {
  const auto r = test::run_shell("{ " + std::string(IOMODELS_BINARY) + " " + kQuickRun +
                                 " --json - 2>/dev/null; }");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto doc = nlohmann::json::parse(r.out);  // nothing but the JSON
  CHECK(doc.contains("items_per_second"));
  const auto via_dev = test::run_shell("{ " + std::string(IOMODELS_BINARY) + " " + kQuickRun +
                                       " --json /dev/stdout 2>/dev/null; }");
  REQUIRE(via_dev.exit_code == 0);
  CHECK(nlohmann::json::parse(via_dev.out).contains("items_per_second"));
}

TEST_CASE("a symbolic link at --json has its target replaced and stays a link", "[outputs]") {
  test::TempDir d;
  { std::ofstream(d.file("real.json")) << "old\n"; }
  REQUIRE(::symlink("real.json", d.file("link.json").c_str()) == 0);
  const auto r =
      test::run_iomodels(std::string(kQuickRun) + " --json " + quote(d.file("link.json")));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  struct stat st {};
  REQUIRE(::lstat(d.file("link.json").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(test::read_json(d.file("real.json")).contains("items_per_second"));
  CHECK(listing(d.path) == "link.json real.json ");
}

TEST_CASE("output paths that cannot take a result are refused before the run", "[outputs]") {
  test::TempDir d;
  REQUIRE(::mkdir(d.file("dir").c_str(), 0755) == 0);
  REQUIRE(::mkfifo(d.file("fifo").c_str(), 0644) == 0);
  REQUIRE(::symlink("nowhere", d.file("dangling").c_str()) == 0);
  REQUIRE(::symlink("fifo", d.file("to-fifo").c_str()) == 0);
  { std::ofstream(d.file("same")) << "keep\n"; }
  struct Case {
    std::string args, flag;
  };
  const std::vector<Case> cases = {
      {"--json " + quote(d.file("dir")), "--json"},
      {"--json " + quote(d.file("fifo")), "--json"},
      {"--json " + quote(d.file("to-fifo")), "--json"},
      {"--json " + quote(d.file("dangling")), "--json"},
      {"--json " + quote(d.file("missing/x.json")), "--json"},
      {"--trace " + quote(d.file("dir")), "--trace"},
      {"--json " + quote(d.file("same")) + " --trace " + quote(d.file("same")),
       "--json and --trace name the same file"},
      {"--json /dev/fd/9", "--json"},  // not open
  };
  for (const Case& c : cases) {
    // -r 100000 at 1 s per request would take a day: a refusal must come first.
    const auto r = test::run_iomodels("run -c 1 -l 1s -r 100000 " + c.args);
    INFO(c.args << " -> " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.rfind("iomodels: error: " + c.flag, 0) == 0);
    CHECK(r.out.find('\n') == r.out.size() - 1);  // one line
  }
  std::ifstream f(d.file("same"));
  std::string line;
  std::getline(f, line);
  CHECK(line == "keep");
  CHECK(listing(d.path) == "dangling dir fifo same to-fifo ");
}

TEST_CASE("a read-only directory or file at --json is refused before the run", "[outputs]") {
  if (::geteuid() == 0) {
    // root passes access() checks: run the binary as nobody.
    if (test::run_shell("command -v setpriv").exit_code != 0) test::skip("setpriv is missing");
  }
  test::TempDir d;
  REQUIRE(::mkdir(d.file("ro").c_str(), 0555) == 0);
  ::chmod(d.path.c_str(), 0755);
  const std::string as_user =
      ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  const auto r = test::run_shell(as_user + IOMODELS_BINARY + " run -c 1 -l 1s -r 100000 --json " +
                                 quote(d.file("ro/x.json")));
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.out.rfind("iomodels: error: --json: ", 0) == 0);
}

TEST_CASE("bench checks --benchmark_out and --latency-out before the grid runs", "[outputs]") {
  test::TempDir d;
  REQUIRE(::mkdir(d.file("dir").c_str(), 0755) == 0);
  // A grid that would run for minutes: the refusal comes first.
  const std::string grid = "bench --models blocking --connections 1 --latencies 1s ";
  for (const std::string& bad :
       {"--benchmark_out=" + d.file("dir"), "--benchmark_out=" + d.file("missing/out.json"),
        "--latency-out " + d.file("dir")}) {
    const auto r = test::run_iomodels(grid + bad);
    INFO(bad << " -> " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(first_line(r.out).find("error: --") != std::string::npos);
  }
}

TEST_CASE("bench refuses Google Benchmark flags it would misread with exit 2", "[outputs]") {
  for (const char* bad :
       {"--benchmark_format=xml", "--benchmark_out_format=yaml", "--benchmark_repetitions=-1",
        "--benchmark_repetitions=two", "--benchmark_min_time=-3", "--benchmark_out"}) {
    const auto r =
        test::run_iomodels(std::string("bench --models blocking --connections 1 ") + bad);
    INFO(bad << " -> " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.rfind("iomodels: error: --benchmark_", 0) == 0);
    CHECK(r.out.find('\n') == r.out.size() - 1);
  }
}

TEST_CASE("a bench whose every point failed exits 1", "[outputs]") {
  // Every request takes longer than the timeout: every point fails.
  const auto r = test::run_iomodels(
      "bench --models blocking,epoll --connections 1 --latencies 2s --timeout 1s "
      "--benchmark_min_time=0.01");
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("2 failed") != std::string::npos);
}

TEST_CASE("an interrupted bench leaves no temporary file beside --benchmark_out", "[outputs]") {
  test::TempDir d;
  const std::string out = d.file("out.json");
  const std::string cmd =
      std::string(IOMODELS_BINARY) +
      " bench --models blocking --connections 1 --latencies 1ms --benchmark_min_time=30"
      " --benchmark_out=" +
      quote(out) + " >/dev/null 2>&1 & pid=$!; " + "for i in $(seq 200); do ls " + quote(d.path) +
      " | grep -q tmp && break; sleep 0.05; done; ls " + quote(d.path) +
      "; kill -TERM $pid; wait $pid; echo rc=$?";
  const auto r = test::run_shell(cmd);
  INFO(r.out);
  CHECK(r.out.find("out.json.tmp.") != std::string::npos);  // it was there while running
  CHECK(r.out.find("rc=143") != std::string::npos);         // SIGTERM ended it
  CHECK(listing(d.path).empty());
}
