// Description: a program under `run --exec` that breaks a rule of
// docs/protocol.md is refused: the peer closes that connection unanswered
// (what it had queued dropped), counts the rule and the connection, and goes
// on serving the others. Both loops, every transport a program may get; a
// built-in model's peer (no checks) still answers what it is asked.
#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "peer/payload.h"
#include "peer_util.h"
#include "util.h"
#include "workload/workload.h"

using namespace iomodels;

// Named, the test cases too: a unity batch puts this file beside others
// whose helpers have the same names.
namespace peer_refuse {

constexpr uint32_t kSize = 64;
constexpr uint32_t kConns = 3;
// Long enough that a response is still owed when a request right behind its
// own arrives, short enough for the good exchanges to be quick.
constexpr const char* kLatency = "20ms";

std::vector<PeerLoopChoice> loops() {
  std::vector<PeerLoopChoice> v = {PeerLoopChoice::kEpoll};
  std::string why;
  if (uring_peer_available(&why)) v.insert(v.begin(), PeerLoopChoice::kUring);
  return v;
}

const char* loop_name(PeerLoopChoice l) {
  return l == PeerLoopChoice::kUring ? "io_uring" : "epoll";
}

// A local peer that checks a program of `requests` requests per connection.
std::unique_ptr<Workload> exec_workload(Transport t, PeerLoopChoice loop, uint64_t requests) {
  WorkloadOptions o;
  o.transport = t;
  o.peer_loop = loop;
  o.connections = kConns;
  o.size = kSize;
  o.exec_requests = requests;
  std::string why;
  REQUIRE(parse_latency(kLatency, &o.latency, &why));
  std::unique_ptr<Workload> w;
  const Status s = Workload::create(o, &w);
  INFO(s.message());
  REQUIRE(s.ok());
  return w;
}

// The bytes the peer sent on c before closing it, or -1 if it did not close
// it within 5 s. A reset counts as closed: tcp says so when the peer closes
// with bytes unread.
long bytes_until_closed(const ClientConn& c) {
  long got = 0;
  uint8_t buf[4096];
  for (;;) {
    if (!test::wait_ready(c.rfd, POLLIN)) return -1;
    const ssize_t n = ::read(c.rfd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return got;
    if (n < 0) return -1;
    got += n;
  }
}

// One request of the program's, answered in full and verified.
bool exchange(test::WireClient& cl, const ClientConn& c, uint64_t id, std::string* err) {
  const Request rq{c.index, kSize, id};
  if (!test::send_all(c.wfd, &rq, sizeof rq)) {
    *err = "send failed";
    return false;
  }
  return cl.receive(c, kSize, id, err);
}

struct Case {
  const char* name;
  uint64_t requests;         // IOMODELS_REQUESTS
  uint64_t good_first;       // good requests exchanged before the bad ones
  std::vector<Request> bad;  // then sent in one write, on connection 0
  ExecPeerStats want;        // the counts of broken rules
};

std::vector<Case> cases() {
  std::vector<Case> v;
  ExecPeerStats x;
  x.wrong_size = 1;
  v.push_back({"a wrong size", 4, 0, {Request{0, kSize + 3, 0}}, x});
  x = {};
  x.early = 1;
  v.push_back({"a request before the previous response",
               4,
               0,
               {Request{0, kSize, 0}, Request{0, kSize, 1}},
               x});
  x = {};
  x.wrong_id = 1;
  v.push_back({"an id out of order", 4, 1, {Request{0, kSize, 5}}, x});
  x = {};
  x.wrong_conn = 1;
  v.push_back({"a connection index out of range", 4, 0, {Request{kConns + 5, kSize, 0}}, x});
  x = {};
  x.extra = 1;
  v.push_back({"a request beyond IOMODELS_REQUESTS", 2, 2, {Request{0, kSize, 2}}, x});
  return v;
}

void check_refused(Transport t, PeerLoopChoice loop, const Case& k) {
  auto w = exec_workload(t, loop, k.requests);
  test::WireClient cl(*w);
  const ClientConn& bad = w->conns()[0];
  std::string err;
  for (uint64_t id = 0; id < k.good_first; ++id) {
    const bool ok = exchange(cl, bad, id, &err);
    INFO("good request " << id << ": " << err);
    REQUIRE(ok);
  }
  REQUIRE(test::send_all(bad.wfd, k.bad.data(), k.bad.size() * sizeof(Request)));
  // Nothing more comes on it, not even the response owed to a good request
  // sent before the bad one: the end of file.
  CHECK(bytes_until_closed(bad) == 0);
  // The other connections are still served, every request of theirs.
  for (size_t i = 1; i < w->conns().size(); ++i) {
    const ClientConn& c = w->conns()[i];
    for (uint64_t id = 0; id < k.requests; ++id) {
      const bool ok = exchange(cl, c, id, &err);
      INFO("connection " << i << ", request " << id << ": " << err);
      REQUIRE(ok);
    }
  }
  PeerStats st;
  const Status s = w->peer_stats(&st, false);
  INFO(s.message());
  REQUIRE(s.ok());
  REQUIRE(st.exec);
  const ExecPeerStats& x = *st.exec;
  CHECK(x.early == k.want.early);
  CHECK(x.wrong_conn == k.want.wrong_conn);
  CHECK(x.wrong_size == k.want.wrong_size);
  CHECK(x.wrong_id == k.want.wrong_id);
  CHECK(x.extra == k.want.extra);
  CHECK(x.refused_conns == 1);
  // The others, and the refused one if it had sent all it was to.
  CHECK(x.complete_conns == kConns - 1 + (k.good_first == k.requests ? 1 : 0));
  CHECK(st.protocol_errors == 0);
}

TEST_CASE("run --exec: a request that breaks a rule closes its connection unanswered",
          "[peer][exec]") {
  for (PeerLoopChoice loop : loops()) {
    for (Transport t : {Transport::kSocketpair, Transport::kPipe, Transport::kTcp}) {
      for (const Case& k : cases()) {
        DYNAMIC_SECTION(loop_name(loop) << ", " << transport_name(t) << ": " << k.name) {
          check_refused(t, loop, k);
        }
      }
    }
  }
}

TEST_CASE("a built-in model's peer still answers requests sent back to back", "[peer]") {
  for (PeerLoopChoice loop : loops()) {
    DYNAMIC_SECTION(loop_name(loop)) {
      // The rules are a program's under --exec; a model may keep several
      // requests in flight on one connection.
      auto w = test::make_workload(Transport::kSocketpair, 1, kSize, kLatency, loop);
      test::WireClient cl(*w);
      const ClientConn& c = w->conns()[0];
      uint64_t ids[2];
      for (uint64_t& id : ids) REQUIRE(cl.send(c, kSize, &id));
      std::string err;
      for (uint64_t id : ids) {
        const bool ok = cl.receive(c, kSize, id, &err);
        INFO("request " << id << ": " << err);
        CHECK(ok);
      }
      PeerStats st;
      REQUIRE(w->peer_stats(&st, false).ok());
      CHECK(st.requests == 2);
      CHECK_FALSE(st.exec);
    }
  }
}

}  // namespace peer_refuse
