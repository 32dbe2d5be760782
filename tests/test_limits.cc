// Description: hostile conditions met with an error and the right exit code,
// never an abort or a hang: memory and descriptor limits, a FIFO where the
// data file should be, waits longer than --timeout.
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "util.h"

using namespace iomodels;

TEST_CASE("a run under a memory limit fails with one line and exit 1 and never aborts",
          "[limits]") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  test::skip("the sanitizers reserve terabytes of address space: ulimit -v cannot apply");
#endif
  // From too little for the watchdog's thread, through thread creation
  // failing part way, to enough: each limit fails cleanly or succeeds.
  int failed = 0;
  for (const char* kib : {"60000", "70000", "80000", "85000", "90000", "120000"}) {
    auto r = test::run_shell(std::string("ulimit -v ") + kib + "; { " + IOMODELS_BINARY +
                             " run -m threads -c 1000 -l 1ms -r 5 >/dev/null; }");
    // Warnings about the machine's load may come too; the rest is the error.
    std::string kept, line;
    std::istringstream lines(r.out);
    while (std::getline(lines, line))
      if (line.find("warning:") == std::string::npos) kept += line + "\n";
    r.out = kept;
    INFO("ulimit -v " << kib << " -> exit " << r.exit_code << ": " << r.out);
    CHECK((r.exit_code == 0 || r.exit_code == 1));
    CHECK(r.out.find("terminate") == std::string::npos);
    if (r.exit_code == 1) {
      ++failed;
      CHECK(r.out.rfind("iomodels: ", 0) == 0);
      CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    }
  }
  CHECK(failed > 0);  // the lowest limits are too low: the failure path was taken
}

TEST_CASE("a FIFO at --file is refused before any open blocks", "[limits]") {
  test::TempDir d;
  REQUIRE(::mkfifo(d.file("f").c_str(), 0644) == 0);
  const auto r =
      test::run_shell("timeout 20 " + std::string(IOMODELS_BINARY) +
                      " run -m blocking -t file --file " + d.file("f") + " --timeout 1s -r 3");
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.out.rfind("iomodels: error: --file: ", 0) == 0);
}

TEST_CASE("a --poll-interval longer than --timeout is refused", "[limits]") {
  const auto r = test::run_iomodels("run -m polling-sleep -c 1 --poll-interval 5s --timeout 1s");
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK(r.out.rfind("iomodels: error: --poll-interval: ", 0) == 0);
}

TEST_CASE("one connection runs under a limit of 64 open files", "[limits]") {
  for (const char* t : {"socketpair", "pipe", "tcp"}) {
    const auto r = test::run_shell(std::string("ulimit -n 64; ") + IOMODELS_BINARY +
                                   " run -m epoll -c 1 -l 0 -r 10 -t " + t);
    INFO(t << ": " << r.out);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("an interrupted fill of --file leaves no file behind", "[limits]") {
  test::TempDir d;
  // A fill large enough to be interrupted while it runs.
  const std::string data = d.file("data");
  const auto r = test::run_shell(
      std::string(IOMODELS_BINARY) + " run -m blocking -t file --file " + data +
      " --file-size 4GiB -r 3 >/dev/null 2>&1 & pid=$!; sleep 0.5; kill -TERM $pid; "
      "wait $pid; echo rc=$?; ls -A " +
      d.path);
  INFO(r.out);
  CHECK(r.out.find("rc=143") != std::string::npos);
  CHECK(r.out.find("data") == std::string::npos);
}
