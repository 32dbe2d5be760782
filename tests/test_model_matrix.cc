// Description: the model matrix. One test case per registered model, made
// from the registry at start-up ("model matrix: <name>"), so a new model is
// tested as soon as it is registered. On every transport the model applies to
// it verifies every byte at 1, 64 and 1,000 connections and with 1 MiB
// responses, reports a peer killed mid-run (or before the run) as an error
// within seconds, and leaves no fd or thread behind; on a transport it does
// not apply to, it is refused with the reason. A model whose mechanism the
// kernel lacks is a skip (exit 77) with the probe's reason. (File checks that
// do not depend on the model: test_file.cc.)
#include <fcntl.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "util.h"

using namespace iomodels;

namespace {

// The data file is small: 8 MiB holds every read size used here, and it is
// written once per test case process.
constexpr uint64_t kFileBytes = 8ull << 20;

bool has_peer(Transport t) { return t != Transport::kFile; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One model's matrix: the scenarios it runs, on the peer's transports and on
// a data file named on the file system the tests run from (a disk's, where
// RWF_NOWAIT and the page cache behave as they do for a user's file).
class Matrix {
 public:
  explicit Matrix(const ModelInfo& m) : m_(m), dir_("iomodels_matrix", ".") {}

  const ModelInfo& model() const { return m_; }

  std::vector<Transport> transports() const {
    std::vector<Transport> ts(all_transports().begin(), all_transports().end());
    ts.push_back(Transport::kFile);
    return ts;
  }

  Scenario scenario(Transport t, uint32_t conns, uint32_t size, const char* latency,
                    uint64_t rounds) const {
    // The file transport has no peer, so no think time.
    Scenario sc =
        test::scenario(std::string(m_.name), t, conns, size, has_peer(t) ? latency : "0", rounds);
    sc.workload.file_bytes = kFileBytes;
    if (t == Transport::kFile) sc.workload.file_path = dir_.file("data");  // made once, reused
    return sc;
  }

  // True if `s` is a refusal in setup that the model's mechanism documents
  // and that why_not cannot foresee (it does not know the fd numbers or the
  // file system), checked here; false if the run must go on (then s is ok).
  bool refused_as_documented(const Scenario& sc, const Status& s) const {
    if (!s.not_applicable()) {
      INFO(s.message());
      REQUIRE(s.ok());
      return false;
    }
    INFO(s.message());
    if (m_.mechanism == Mechanism::kSelect) {
      // select(2) takes fds as a bitmap of FD_SETSIZE bits: it cannot watch
      // an fd past it. Only where the connections alone may take that many.
      CHECK(sc.workload.connections > FD_SETSIZE / 2);
      CHECK(s.message().find("FD_SETSIZE") != std::string::npos);
    } else if (m_.mechanism == Mechanism::kNonblockingRead) {
      // A non-blocking read of a file is preadv2(RWF_NOWAIT), which the file
      // system may not offer (tmpfs here, for one).
      CHECK(sc.workload.transport == Transport::kFile);
      CHECK(s.message().find("RWF_NOWAIT") != std::string::npos);
    } else {
      FAIL("refused in setup, not foreseen by why_not");
    }
    return true;
  }

 private:
  const ModelInfo& m_;
  const test::TempDir dir_;
};

// Runs sc and checks every request of every connection completed with every
// byte verified (the models verify the payload and fail the run otherwise).
// False if the model refused as documented.
bool check_verified(const Matrix& mx, const Scenario& sc) {
  ScenarioResult r;
  const Status s = run_scenario(sc, &r);
  if (mx.refused_as_documented(sc, s)) return false;
  const uint64_t requests = uint64_t{sc.workload.connections} * sc.rounds;
  CHECK(r.requests == requests);
  CHECK(r.latency.count() == requests);
  CHECK(r.bytes == requests * sc.workload.size);
  if (has_peer(sc.workload.transport)) {
    CHECK(r.peer.requests >= requests);
    CHECK(r.peer.protocol_errors == 0);
    // The peer's think time is a floor: no response comes back sooner than
    // the latency asked for, whichever model asks and however many ask.
    if (sc.workload.latency.kind == LatencySpec::Kind::kFixed)
      CHECK(r.latency.min() >= sc.workload.latency.a_ns);
  } else {
    CHECK(r.peer.none);
    CHECK(r.peer.requests == 0);
    // No request is sent: a blocking read makes one pread per response.
    if (mx.model().mechanism == Mechanism::kBlockingRead) CHECK(r.m.calls.syscalls == requests);
  }
  return true;
}

// 1 MiB responses. Over a pipe or a unix socket they cannot arrive in one
// piece, because the connection holds less than that: the model has to put
// the response together from many reads (or completions).
void check_large_responses(const Matrix& mx, Transport t) {
  constexpr uint32_t kSize = 1u << 20;
  const Scenario sc = mx.scenario(t, 4, kSize, "0", 3);
  std::unique_ptr<Session> session;
  Status s = Session::open(sc, &session);
  if (mx.refused_as_documented(sc, s)) return;
  REQUIRE(session != nullptr);
  REQUIRE(session->workload().conns().size() == 4);
  const int fd = session->workload().conns()[0].rfd;
  if (t == Transport::kPipe) {
    CHECK(::fcntl(fd, F_GETPIPE_SZ) < static_cast<int>(kSize));
  } else if (t == Transport::kSocketpair) {
    int rcvbuf = 0;
    socklen_t len = sizeof rcvbuf;
    REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0);
    CHECK(rcvbuf < static_cast<int>(kSize));
  }
  REQUIRE(session->warm_up(sc.warmup_rounds).ok());
  ScenarioResult r;
  s = session->measure(sc.rounds, &r);
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(r.latency.count() == 4 * sc.rounds);
  CHECK(r.bytes == 4 * sc.rounds * kSize);
}

// The peer dies mid-run: an error that names the connection, well within
// the 30 s timeout (so it came from the dead peer, not the watchdog), and
// the broken session refuses the next run instead of hanging in it.
void check_peer_killed_mid_run(const Matrix& mx, Transport t) {
  // Far more rounds than the 200 ms before the kill holds (1 ms each): the
  // run can only end by the kill.
  Scenario sc = mx.scenario(t, 8, 4096, "1ms", 1'000'000);
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
  auto t0 = std::chrono::steady_clock::now();
  s = session->rounds(sc.rounds);
  const double took_s = seconds_since(t0);
  killer.join();
  INFO(s.message() << " (after " << took_s << " s)");
  CHECK_FALSE(s.ok());
  CHECK_FALSE(s.not_applicable());
  CHECK(took_s < 5.0);
  CHECK(s.message().find("connection") != std::string::npos);
  CHECK(s.message().find("timed out") == std::string::npos);

  t0 = std::chrono::steady_clock::now();
  const Status again = session->rounds(1);
  INFO("the next run: " << again.message());
  CHECK_FALSE(again.ok());
  CHECK(seconds_since(t0) < 5.0);
}

// The peer died before the run: the first request's write fails (EPIPE, and
// no SIGPIPE ends the process) or its read sees EOF; either way an error.
void check_peer_dead_before_run(const Matrix& mx, Transport t) {
  std::unique_ptr<Session> session;
  Status s = Session::open(mx.scenario(t, 4, 4096, "0", 3), &session);
  INFO(s.message());
  REQUIRE(s.ok());
  session->workload().kill_peer();
  // Let the kernel tear the peer's ends down, so the first write fails.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto t0 = std::chrono::steady_clock::now();
  s = session->rounds(3);
  INFO(s.message());
  CHECK_FALSE(s.ok());
  CHECK(seconds_since(t0) < 5.0);
  CHECK(s.message().find("timed out") == std::string::npos);
}

// The file transport's default: an unnamed file in tmpfs, as a user gets
// without --file. Aligned 4 KiB reads, and 64 KiB + 1 B (unaligned, more
// than one chunk per read).
void check_default_file(const Matrix& mx) {
  for (const uint32_t size : {4096u, 64 * 1024u + 1}) {
    Scenario sc = mx.scenario(Transport::kFile, 8, size, "0", 20);
    sc.workload.file_path.clear();
    INFO(size << " B reads in " << kDefaultFileDir);
    check_verified(mx, sc);
  }
}

// Open fds and threads after sessions are closed are what they were before.
// A first run creates what lives as long as the process (the io_uring probe,
// caches), so the counts are taken after one.
void check_no_leaks(const Matrix& mx, Transport t) {
  if (!check_verified(mx, mx.scenario(t, 16, 512, "0", 3))) return;
  const int fds = test::open_fds();
  const int threads = test::threads_quiet();
  for (int k = 0; k < 2; ++k) {
    std::unique_ptr<Session> session;
    const Status s = Session::open(mx.scenario(t, 32, 4096, "0", 10), &session);
    INFO(s.message());
    REQUIRE(s.ok());
    REQUIRE(session->warm_up(1).ok());
    for (int i = 0; i < 3; ++i) REQUIRE(session->rounds(10).ok());
  }
  CHECK(test::open_fds() == fds);
  CHECK(test::threads_settled(threads) == threads);
}

struct Shape {
  uint32_t conns;
  uint32_t size;        // response bytes: a page, the smallest, a small one
  const char* latency;  // the peer's think time; the file has none
  uint64_t rounds;
};
// Small rounds keep a model's case to seconds: the slowest models (blocking,
// threadpool) serve connections one (or a pool's worth) at a time.
constexpr Shape kShapes[] = {{1, 4096, "1ms", 10}, {64, 1, "1ms", 3}, {1000, 512, "0", 3}};

void model_matrix(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  const Matrix mx(m);
  for (Transport t : mx.transports()) {
    const Scenario probe = mx.scenario(t, 1, 4096, "0", 1);
    if (const std::string why = why_not(m, probe.workload); !why.empty()) {
      // Not applicable is a decision the model states, and a run must be
      // refused with it rather than run as something else.
      DYNAMIC_SECTION(transport_name(t) << ": refused with the reason") {
        std::unique_ptr<Session> session;
        const Status s = Session::open(probe, &session);
        INFO(s.message());
        CHECK(s.not_applicable());
        CHECK(s.message().find(why) != std::string::npos);
        CHECK(session == nullptr);
      }
      continue;
    }
    for (const Shape& sh : kShapes) {
      DYNAMIC_SECTION(transport_name(t) << ": every byte verified at " << sh.conns
                                        << " connections, " << sh.size << " B responses") {
        check_verified(mx, mx.scenario(t, sh.conns, sh.size, sh.latency, sh.rounds));
      }
    }
    DYNAMIC_SECTION(transport_name(t) << ": 1 MiB responses, received in pieces") {
      check_large_responses(mx, t);
    }
    if (has_peer(t)) {
      DYNAMIC_SECTION(transport_name(t) << ": a peer killed mid-run is an error within 5 s") {
        check_peer_killed_mid_run(mx, t);
      }
      DYNAMIC_SECTION(transport_name(t) << ": a peer dead before the run is an error") {
        check_peer_dead_before_run(mx, t);
      }
    } else {
      DYNAMIC_SECTION("file: the default unnamed file in tmpfs") { check_default_file(mx); }
    }
    DYNAMIC_SECTION(transport_name(t) << ": no fd or thread left behind") { check_no_leaks(mx, t); }
  }
}

[[maybe_unused]] const bool kMatrixRegistered =
    test::register_per_model("model matrix: ", "[models][matrix]", model_matrix);

}  // namespace
