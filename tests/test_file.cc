// Description: the file transport: every model that applies reads the data
// file at random aligned offsets with every byte verified; the readiness
// models are refused with the kernel's own answer; a corrupted byte, a
// foreign file and bad flags are caught.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
#include <string>

#include "workload/exchange.h"
#include "util.h"

using namespace iomodels;

namespace {

constexpr uint64_t kSmallFile = 8ull << 20;

Scenario file_scenario(const std::string& model, uint32_t conns, uint32_t size, uint64_t rounds) {
  Scenario sc = test::scenario(model, Transport::kFile, conns, size, "0", rounds);
  sc.workload.file_bytes = kSmallFile;
  return sc;
}

// The models the issue names for files, plus the ones built on them.
const char* const kFileModels[] = {"blocking",   "threads",     "threadpool",
                                   "uring",      "uring-fixed", "uring-sqpoll",
                                   "coro-uring", "polling",     "polling-sleep"};

}  // namespace

TEST_CASE("file offsets are aligned, in range, spread out and the same for every model", "[file]") {
  const uint64_t slots = (kSmallFile - 4096) / kFileAlign + 1;
  std::set<uint64_t> seen;
  for (uint64_t id = 1; id <= 1000; ++id) {
    const uint64_t off = Exchange::file_offset(1, 3, id, slots);
    CHECK(off % kFileAlign == 0);
    CHECK(off <= kSmallFile - 4096);
    seen.insert(off);
  }
  // 1000 draws from 2048 slots: about 780 distinct when uniform.
  CHECK(seen.size() > 700);
  CHECK(Exchange::file_offset(1, 3, 7, slots) == Exchange::file_offset(1, 3, 7, slots));
  CHECK(Exchange::file_offset(1, 3, 7, slots) != Exchange::file_offset(2, 3, 7, slots));
}

TEST_CASE("every file model reads the data file with every byte verified", "[file][models]") {
  // On the file system the tests run from (not tmpfs), so RWF_NOWAIT and
  // O_DIRECT behave as on a real disk.
  const test::TempDir dir("iomodels_file", ".");  // not tmpfs, as above
  struct Case {
    uint32_t conns, size;
    uint64_t rounds;
  };
  // 4 KiB reads, and 64 KiB + 1 (unaligned, more than one chunk per read).
  const Case cases[] = {{1, 4096, 200}, {16, 4096, 100}, {8, 64 * 1024 + 1, 20}};
  for (const char* model : kFileModels) {
    for (const Case& c : cases) {
      // The unnamed tmpfs file, and a named one on a real file system.
      for (bool named : {false, true}) {
        DYNAMIC_SECTION(model << ", " << c.conns << " reads in flight, " << c.size << " B, "
                              << (named ? "named file" : "tmpfs")) {
          Scenario sc = file_scenario(model, c.conns, c.size, c.rounds);
          if (named) sc.workload.file_path = dir.file("data");
          ScenarioResult r;
          const Status s = run_scenario(sc, &r);
          if (s.not_applicable()) {
            // Only the polling models may decline, and only for RWF_NOWAIT.
            CHECK(std::string(model).rfind("polling", 0) == 0);
            CHECK(s.message().find("RWF_NOWAIT") != std::string::npos);
            WARN("skipped: " << s.message());
            continue;
          }
          INFO(s.message());
          REQUIRE(s.ok());
          CHECK(r.latency.count() == uint64_t{c.conns} * c.rounds);
          CHECK(r.bytes == uint64_t{c.conns} * c.rounds * c.size);
          CHECK(r.peer.none);
          CHECK(r.peer.requests == 0);
          // No request is sent: `blocking` makes one pread per response.
          if (std::string(model) == "blocking") CHECK(r.m.calls.syscalls == r.requests);
        }
      }
    }
  }
}

TEST_CASE("epoll, poll, select and multishot are refused on files with the kernel's reason",
          "[file]") {
  WorkloadOptions w;
  w.transport = Transport::kFile;
  for (const char* m : {"epoll", "epoll-et", "coro-epoll"}) {
    const std::string why = why_not(*find_model(m), w);
    INFO(m << ": " << why);
    CHECK(why.find("EPERM") != std::string::npos);
    CHECK(why.find("Operation not permitted") != std::string::npos);  // asked, not assumed
  }
  for (const char* m : {"poll", "select"}) {
    const std::string why = why_not(*find_model(m), w);
    INFO(m << ": " << why);
    CHECK(why.find("always ready") != std::string::npos);
    CHECK(why.find("POLLIN at once") != std::string::npos);
    CHECK(why.find("O_NONBLOCK") != std::string::npos);
  }
  CHECK(!why_not(*find_model("uring-multishot"), w).empty());
  for (const char* m : kFileModels) {
    if (std::string(m).rfind("polling", 0) == 0) continue;  // decided per file system in setup
    CHECK(why_not(*find_model(m), w).empty());
  }
  // The same reasons on the real binary: list, and run with exit code 2.
  const test::CommandResult list = test::run_iomodels("list");
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("not applicable on file: a regular file has no readiness") !=
        std::string::npos);
  const test::CommandResult run = test::run_iomodels("run -m epoll -t file --file-size 1MiB");
  CHECK(run.exit_code == 2);
  CHECK(run.out.find("EPERM") != std::string::npos);
}

TEST_CASE("a corrupted byte of the data file fails the run and names its offset", "[file]") {
  const test::TempDir dir("iomodels_file", ".");  // not tmpfs, as above
  Scenario sc = file_scenario("blocking", 1, 1 << 20, 5);
  sc.workload.file_path = dir.file("data");
  sc.workload.file_bytes = 1 << 20;  // one slot: every read is the whole file
  std::unique_ptr<Session> s;
  REQUIRE(Session::open(sc, &s).ok());
  REQUIRE(s->rounds(1).ok());
  {
    const int fd = ::open(sc.workload.file_path.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    const uint8_t bad = 0x5a ^ payload_byte(kFileDataConn, 0, 777'777);
    REQUIRE(::pwrite(fd, &bad, 1, 777'777) == 1);
    ::close(fd);
  }
  const Status st = s->rounds(1);
  REQUIRE_FALSE(st.ok());
  INFO(st.message());
  CHECK(st.message().find("file offset 777777") != std::string::npos);
  s.reset();
  // With verification off the same run passes: the check is what failed it.
  sc.run.verify = false;
  std::unique_ptr<Session> s2;
  // The damaged file is no longer iomodels' data only if a sampled page is
  // hit; either way the run must not report a wrong byte as right.
  if (Session::open(sc, &s2).ok()) CHECK(s2->rounds(1).ok());
}

TEST_CASE("a named data file is made once, reused, and a foreign file is refused", "[file]") {
  const test::TempDir dir("iomodels_file", ".");  // not tmpfs, as above
  const std::string path = dir.file("data");
  Scenario sc = file_scenario("uring", 4, 4096, 10);
  sc.workload.file_path = path;
  ScenarioResult r;
  REQUIRE(run_scenario(sc, &r).ok());
  struct stat a {
  }, b{};
  REQUIRE(::stat(path.c_str(), &a) == 0);
  CHECK(static_cast<uint64_t>(a.st_size) == kSmallFile);
  REQUIRE(run_scenario(sc, &r).ok());  // reused, not rewritten
  REQUIRE(::stat(path.c_str(), &b) == 0);
  CHECK(a.st_mtim.tv_sec == b.st_mtim.tv_sec);
  CHECK(a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
  CHECK(test::count_entries(dir.path.c_str()) == 1);  // no temporary left behind

  // A different size, or someone else's bytes: refused, as bad input.
  sc.workload.file_bytes = kSmallFile / 2;
  Status s = run_scenario(sc, &r);
  CHECK(s.invalid());
  CHECK(s.message().find("exists with") != std::string::npos);
  const std::string other = dir.file("other");
  {
    const int fd = ::open(other.c_str(), O_CREAT | O_WRONLY, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, kSmallFile) == 0);  // zeros: the right size, the wrong bytes
    ::close(fd);
  }
  sc.workload.file_bytes = kSmallFile;
  sc.workload.file_path = other;
  s = run_scenario(sc, &r);
  CHECK(s.invalid());
  CHECK(s.message().find("does not hold iomodels' data") != std::string::npos);
  const test::CommandResult cli =
      test::run_iomodels("run -m blocking -t file --file-size 8MiB --file '" + other + "'");
  CHECK(cli.exit_code == 2);
  CHECK(cli.out.find("does not hold iomodels' data") != std::string::npos);
}

TEST_CASE("O_DIRECT reads (--direct) skip the page cache, every byte verified", "[file]") {
  const test::TempDir dir("iomodels_file", ".");  // not tmpfs, as above
  for (const char* model : {"blocking", "threadpool", "uring", "uring-fixed"}) {
    DYNAMIC_SECTION(model) {
      Scenario sc = file_scenario(model, 4, 8192, 20);
      sc.workload.file_path = dir.file("direct");
      sc.workload.direct = true;
      ScenarioResult r;
      const Status s = run_scenario(sc, &r);
      if (!s.ok() && s.message().find("does not support O_DIRECT") != std::string::npos) {
        WARN("skipped: " << s.message());
        continue;
      }
      INFO(s.message());
      REQUIRE(s.ok());
      CHECK(r.latency.count() == 4 * 20);
    }
  }
}

TEST_CASE("file transport flags: bad input is one line and exit code 2", "[file]") {
  struct Bad {
    const char* args;
    const char* says;
  };
  const Bad bad[] = {
      {"run -m blocking -t file -l 1ms", "--latency: the file transport has no peer"},
      {"run -m blocking --direct", "--direct: needs --transport file"},
      {"run -m blocking --file /tmp/x", "--file: needs --transport file"},
      {"run -m blocking -t file --direct -s 100", "multiple of 4KiB"},
      {"run -m blocking -t file --file-size 5000", "--file-size: '5000' is not a multiple"},
      {"run -m blocking -t file --file-size 1MiB -s 2MiB", "--size"},
      {"run -m blocking -t file --file-size 4KiB -s 8KiB", "larger than the data file"},
  };
  for (const Bad& b : bad) {
    const test::CommandResult r = test::run_iomodels(b.args);
    INFO(b.args << " -> " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find(b.says) != std::string::npos);
    CHECK(r.out.find('\n') == r.out.size() - 1);  // one line
  }
}

TEST_CASE("file runs leave no descriptor behind", "[file]") {
  const int before = test::open_fds();
  for (const char* model : {"blocking", "threads", "threadpool", "uring", "coro-uring"}) {
    ScenarioResult r;
    REQUIRE(run_scenario(file_scenario(model, 8, 4096, 5), &r).ok());
  }
  CHECK(test::open_fds() == before);
}
