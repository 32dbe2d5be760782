// Description: `iomodels peer --listen` serves run/bench over TCP like the
// forked peer, and stops cleanly on SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "util.h"

using namespace iomodels;

namespace {

bool can_connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("a standalone peer serves runs over tcp and stops on SIGTERM", "[remote]") {
  const uint16_t port = static_cast<uint16_t>(20000 + ::getpid() % 20000);
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl(IOMODELS_BINARY, "iomodels", "peer", "--listen", listen.c_str(), "--latency", "200us",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool up = false;
  for (int i = 0; i < 200 && !(up = can_connect(port)); ++i) ::usleep(10'000);
  REQUIRE(up);

  for (const char* model : {"blocking", "epoll", "uring"}) {
    const ModelInfo* m = find_model(model);
    if (m == nullptr || (m->unavailable && !m->unavailable().empty())) continue;
    Scenario sc = test::scenario(model, Transport::kTcp, 16, 4096, "0", 10);
    sc.workload.remote = listen;
    ScenarioResult r;
    const Status s = run_scenario(sc, &r);
    INFO(model << ": " << s.message());
    REQUIRE(s.ok());
    CHECK(r.latency.count() == 160);
    CHECK(r.peer.remote);
    CHECK(r.peer.requests >= 160);
    CHECK(r.latency.percentile(0.5) >= 200'000);  // the remote peer's own latency applies
  }

  // A remote peer needs tcp.
  Scenario bad = test::scenario("epoll", Transport::kSocketpair, 1, 64, "0", 1);
  bad.workload.remote = listen;
  ScenarioResult r;
  CHECK_FALSE(run_scenario(bad, &r).ok());

  REQUIRE(::kill(pid, SIGTERM) == 0);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}
