// Description: the file transport: offsets; the readiness models refused with
// the kernel's own answer; O_DIRECT reads verified for every model that reads
// files; the io_uring models' file_reads fact (io-wq on tmpfs, inline on a
// file that takes RWF_NOWAIT) checked against the io-wq threads the kernel
// made; a corrupted byte, a foreign file and bad flags caught. (Every model
// reading tmpfs and named files, verified, without leaks: the model matrix,
// test_model_matrix.cc.)
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>

#include "util.h"
#include "workload/exchange.h"

using namespace iomodels;

namespace {

constexpr uint64_t kSmallFile = 8ull << 20;

Scenario file_scenario(const std::string& model, uint32_t conns, uint32_t size, uint64_t rounds) {
  Scenario sc = test::scenario(model, Transport::kFile, conns, size, "0", rounds);
  sc.workload.file_bytes = kSmallFile;
  return sc;
}

// The mechanisms that wait for readiness: a regular file has none.
bool waits_for_readiness(const ModelInfo& m) {
  return m.mechanism == Mechanism::kEpoll || m.mechanism == Mechanism::kPoll ||
         m.mechanism == Mechanism::kSelect;
}

// Empty if files under `base` can be opened with O_DIRECT; else why not.
std::string direct_unsupported(const std::string& base) {
  const test::TempDir dir("iomodels_direct", base);
  const int fd = ::open(dir.file("probe").c_str(), O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) return "O_DIRECT under " + dir.path + ": " + errno_text(-errno);
  ::close(fd);
  return "";
}

// Whether files under `base` take non-blocking reads (RWF_NOWAIT); asked
// here, apart from the models' own probe.
bool takes_nowait_reads(const std::string& base) {
  const test::TempDir dir("iomodels_nowait", base);
  const int fd = ::open(dir.file("probe").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  char b = 'x';
  iovec iov{&b, 1};
  const bool yes = ::pwrite(fd, &b, 1, 0) == 1 &&
                   (::preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno == EAGAIN);
  ::close(fd);
  return yes;
}

// The tids of this process's io-wq worker threads (comm "iou-wrk-<tid of
// the thread they serve>").
std::set<int> io_wq_workers() {
  std::set<int> out;
  for (const auto& [tid, name] : test::thread_names())
    if (name.rfind("iou-wrk-", 0) == 0) out.insert(tid);
  return out;
}

// Every io_uring model that reads files, on a file made under `base` (""
// for the default, unnamed in tmpfs): its file_reads fact begins with
// `expect`, and its run made io-wq worker threads exactly when that says
// io-wq. The run is on a thread of its own, whose io-wq goes with it, and
// the workers are counted while the session is open.
void check_file_reads(const std::string& base, const std::string& expect) {
  for (const ModelInfo* m : all_models()) test::skip_if_unavailable(*m);
  int ran = 0;
  for (const ModelInfo* m : all_models()) {
    if (m->mechanism != Mechanism::kIoUring) continue;
    std::unique_ptr<test::TempDir> dir;
    Scenario sc = file_scenario(std::string(m->name), 4, 4096, 50);
    if (!base.empty()) {
      dir = std::make_unique<test::TempDir>("iomodels_file", base);
      sc.workload.file_path = dir->file("data");
    }
    if (!why_not(*m, sc.workload).empty()) continue;  // multishot: refused on files
    INFO(m->name << " on " << (base.empty() ? "tmpfs" : base));
    Status s;
    ScenarioResult r;
    std::set<int> made;
    std::thread([&] {
      const std::set<int> before = io_wq_workers();
      std::unique_ptr<Session> session;
      s = Session::open(sc, &session);
      if (s.ok()) s = session->measure(50, &r);
      // Before the session ends: an SQ thread's or a loop thread's workers
      // go with the ring.
      for (int t : io_wq_workers())
        if (before.count(t) == 0) made.insert(t);
    }).join();
    INFO(s.message());
    REQUIRE(s.ok());
    std::string fact = "(none)";
    for (const Model::Fact& f : r.model_facts)
      if (f.key == "file_reads") fact = f.text;
    INFO("file_reads: " << fact << "; io-wq workers made: " << made.size());
    CHECK(fact.rfind(expect + ":", 0) == 0);
    if (expect == "io-wq")
      CHECK(!made.empty());
    else
      CHECK(made.empty());
    ++ran;
  }
  CHECK(ran >= 3);  // uring, uring-fixed, uring-sqpoll and the rest
}

}  // namespace

TEST_CASE("io_uring on tmpfs: every read goes to io-wq, and the result says so", "[file]") {
  if (takes_nowait_reads(kDefaultFileDir))
    test::skip(std::string(kDefaultFileDir) + " takes RWF_NOWAIT reads on this kernel");
  check_file_reads("", "io-wq");
}

TEST_CASE("io_uring on a file that takes RWF_NOWAIT: reads complete inline, no io-wq", "[file]") {
  if (!takes_nowait_reads("."))
    test::skip("the file system the tests run from takes no RWF_NOWAIT reads");
  check_file_reads(".", "inline");
}

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

TEST_CASE("the readiness models and multishot are refused on files with the kernel's reason",
          "[file]") {
  WorkloadOptions w;
  w.transport = Transport::kFile;
  // An unavailable model's why_not says only that, not why files do not suit it.
  for (const ModelInfo* m : all_models()) test::skip_if_unavailable(*m);
  int applies = 0;
  for (const ModelInfo* m : all_models()) {
    const std::string why = why_not(*m, w);
    INFO(m->name << ": " << why);
    if (waits_for_readiness(*m) && m->mechanism == Mechanism::kEpoll) {
      CHECK(why.find("EPERM") != std::string::npos);
      CHECK(why.find("Operation not permitted") != std::string::npos);  // asked, not assumed
    } else if (waits_for_readiness(*m)) {
      // poll(2) and select(2).
      CHECK(why.find("always ready") != std::string::npos);
      CHECK(why.find("POLLIN at once") != std::string::npos);
      CHECK(why.find("O_NONBLOCK") != std::string::npos);
    } else if (m->name == "uring-multishot") {
      // The one exception by design: a multishot read follows a stream.
      CHECK(why.find("IORING_OP_READ_MULTISHOT") != std::string::npos);
    } else {
      // Every other model reads files (the polling ones may still decline
      // in setup, per file system, for RWF_NOWAIT).
      CHECK(why.empty());
      ++applies;
    }
  }
  CHECK(applies > 0);
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
  const test::TempDir dir("iomodels_file", ".");  // a disk's file system, not tmpfs
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
  const test::TempDir dir("iomodels_file", ".");  // a disk's file system, not tmpfs
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
  // On the file system the tests run from: tmpfs takes no O_DIRECT.
  if (const std::string why = direct_unsupported("."); !why.empty()) test::skip(why);
  for (const ModelInfo* m : all_models()) test::skip_if_unavailable(*m);
  const test::TempDir dir("iomodels_file", ".");
  int ran = 0;
  for (const ModelInfo* m : all_models()) {
    Scenario sc = file_scenario(std::string(m->name), 4, 8192, 20);
    sc.workload.file_path = dir.file("direct");
    sc.workload.direct = true;
    if (!why_not(*m, sc.workload).empty()) continue;  // refused on files: the model matrix
    DYNAMIC_SECTION(m->name) {
      // With O_DIRECT, preadv2(RWF_NOWAIT) answers EAGAIN to every read
      // (each one needs the device): the non-blocking reads are refused at
      // set-up with that reason instead of spinning until the timeout.
      if (m->mechanism == Mechanism::kNonblockingRead) {
        std::unique_ptr<Session> session;
        const Status s = Session::open(sc, &session);
        INFO(s.message());
        CHECK(s.not_applicable());
        CHECK(s.message().find("O_DIRECT") != std::string::npos);
        return;
      }
      ScenarioResult r;
      const Status s = run_scenario(sc, &r);
      INFO(s.message());
      REQUIRE(s.ok());
      CHECK(r.latency.count() == 4 * 20);
      CHECK(r.bytes == 4 * 20 * 8192);
    }
    ++ran;
  }
  CHECK(ran > 0);
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
