// Description: `iomodels peer --listen` serves run/bench over TCP like the
// forked peer, and stops cleanly on SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "util.h"

using namespace iomodels;

namespace {

// Reads the peer's first stderr line, "iomodels peer: listening on
// 127.0.0.1:PORT, ...", and returns PORT (0 if it never came).
uint16_t read_port(int fd) {
  std::string line;
  char c;
  while (line.size() < 200 && ::read(fd, &c, 1) == 1 && c != '\n') line += c;
  const size_t at = line.find("127.0.0.1:");
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(line.substr(at + 10)));
}

}  // namespace

TEST_CASE("a standalone peer serves runs over tcp and stops on SIGTERM", "[remote]") {
  // Port 0: the peer picks a free port and prints it (a fixed port could be
  // taken by any other connection on the machine).
  int err[2];
  REQUIRE(::pipe(err) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(err[1], 2);
    ::close(err[0]);
    ::execl(IOMODELS_BINARY, "iomodels", "peer", "--listen", "127.0.0.1:0", "--latency", "200us",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err[1]);
  const uint16_t port = read_port(err[0]);
  REQUIRE(port != 0);
  const std::string listen = "127.0.0.1:" + std::to_string(port);

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
  std::string rest;
  char buf[256];
  ssize_t n;
  while ((n = ::read(err[0], buf, sizeof buf)) > 0) rest.append(buf, static_cast<size_t>(n));
  ::close(err[0]);
  CHECK(rest.find("stopped") != std::string::npos);
}
