// Description: the thread-per-core models in the server role on tcp, where
// each loop listens on one shared port with SO_REUSEPORT and accepts what the
// kernel hands it: 4 loops x 64 connections with every byte verified by the
// load generator, the loops' listeners read back from the kernel (SO_REUSEPORT,
// one port, one per loop), the spread over the loops in the facts adding up
// (connections, and the requests of each measurement window); 8 loops x 8
// connections, where a loop may get none; the client role and the other
// transports keep the sharding by index; the binary's JSON and summary.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "util.h"

using namespace iomodels;

namespace tpc_reuseport_test {

bool is_tpc(const ModelInfo& m) { return m.thread_per_core; }

std::string fact(const ScenarioResult& r, const std::string& key) {
  for (const Model::Fact& f : r.model_facts)
    if (f.key == key) return f.text;
  return "";
}

bool has_fact(const ScenarioResult& r, const std::string& key) {
  for (const Model::Fact& f : r.model_facts)
    if (f.key == key) return true;
  return false;
}

// "9 7 8 8" -> {9, 7, 8, 8}.
std::vector<uint64_t> numbers(const std::string& text) {
  std::vector<uint64_t> out;
  std::istringstream in(text);
  uint64_t x;
  while (in >> x) out.push_back(x);
  return out;
}

// The port in "SO_REUSEPORT ×4 on port 41234 (127.0.0.1)"; 0 if absent.
int port_of(const std::string& listeners) {
  const size_t at = listeners.find("on port ");
  return at == std::string::npos ? 0 : std::atoi(listeners.c_str() + at + 8);
}

// A listening TCP socket of this process, as the kernel reports it.
struct Listener {
  int port = 0;
  bool loopback = false;
  bool reuseport = false;
};

// Every listening IPv4 socket among this process's descriptors.
std::vector<Listener> listening_sockets() {
  std::vector<Listener> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    int listening = 0, reuse = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_in a{};
    socklen_t alen = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) != 0 || a.sin_family != AF_INET)
      continue;
    len = sizeof reuse;
    ::getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuse, &len);
    out.push_back({ntohs(a.sin_port), a.sin_addr.s_addr == htonl(INADDR_LOOPBACK), reuse == 1});
  }
  ::closedir(d);
  return out;
}

Scenario tcp_server(const ModelInfo& m, uint32_t conns, uint32_t loops, uint64_t rounds) {
  Scenario sc = test::scenario(std::string(m.name), Transport::kTcp, conns, 4096, "0", rounds);
  sc.workload.role = Role::kServer;
  sc.workload.offered_per_s = 20'000;
  sc.run.threads = loops;
  return sc;
}

// One window's counts: every request answered, and every response byte
// verified by the load generator.
void check_window(const ScenarioResult& r, uint64_t want) {
  CHECK(r.requests == want);
  CHECK(r.peer.protocol_errors == 0);
  REQUIRE(r.peer.generator);
  CHECK(r.peer.generator->bad_bytes == 0);
  CHECK(r.peer.generator->responses == want);
  CHECK(r.peer.generator->corrected.count() == want);
}

// The spread over `loops` loops of `conns` connections: one count per loop
// adding up, and each loop's requests its connections' share of the window.
void check_spread(const ScenarioResult& r, uint32_t loops, uint32_t conns, uint64_t rounds) {
  INFO("facts: connections_per_loop " << fact(r, "connections_per_loop") << "; requests_per_loop "
                                      << fact(r, "requests_per_loop"));
  const std::vector<uint64_t> per_loop = numbers(fact(r, "connections_per_loop"));
  const std::vector<uint64_t> requests = numbers(fact(r, "requests_per_loop"));
  REQUIRE(per_loop.size() == loops);
  REQUIRE(requests.size() == loops);
  CHECK(std::accumulate(per_loop.begin(), per_loop.end(), uint64_t{0}) == conns);
  for (size_t k = 0; k < loops; ++k) CHECK(requests[k] == per_loop[k] * rounds);
  CHECK(std::accumulate(requests.begin(), requests.end(), uint64_t{0}) == uint64_t{conns} * rounds);
}

// 4 loops x 64 connections: each loop listens on one port with SO_REUSEPORT
// (read back from the kernel while the session is open), the generator's
// connections all reach a loop, every byte is verified, and each window's
// requests per loop are that window's.
void four_loops(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  const int fds = test::open_fds();
  const Scenario sc = tcp_server(m, 64, 4, 20);
  std::unique_ptr<Session> session;
  const Status st = Session::open(sc, &session);
  INFO(st.message());
  REQUIRE(st.ok());
  REQUIRE(session->warm_up(2).ok());
  ScenarioResult r;
  const Status ms = session->measure(sc.rounds, &r);
  INFO(ms.message());
  REQUIRE(ms.ok());
  check_window(r, 64 * 20);
  CHECK(fact(r, "threads") == "4");
  const std::string listeners = fact(r, "listeners");
  INFO("listeners: " << listeners);
  CHECK(listeners.find("SO_REUSEPORT ×4") != std::string::npos);
  const int port = port_of(listeners);
  REQUIRE(port > 0);
  check_spread(r, 4, 64, 20);

  // The kernel's view: four listeners on that port, each with SO_REUSEPORT,
  // on the loopback address; the workload holds no listener of its own.
  std::vector<Listener> on_port;
  for (const Listener& l : listening_sockets())
    if (l.port == port) on_port.push_back(l);
  CHECK(on_port.size() == 4);
  for (const Listener& l : on_port) {
    CHECK(l.reuseport);
    CHECK(l.loopback);
  }
  CHECK(session->workload().conns().empty());

  // A second window of another length: its own requests per loop.
  ScenarioResult r2;
  REQUIRE(session->measure(7, &r2).ok());
  check_window(r2, 64 * 7);
  check_spread(r2, 4, 64, 7);
  CHECK(fact(r2, "connections_per_loop") == fact(r, "connections_per_loop"));

  session.reset();
  for (const Listener& l : listening_sockets()) CHECK(l.port != port);
  CHECK(test::open_fds() == fds);
}

// 8 loops x 8 connections: the kernel's hash leaves some loops with none
// (most runs), which idle; the run completes with every byte verified.
void eight_by_eight(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  const Scenario sc = tcp_server(m, 8, 8, 10);
  ScenarioResult r;
  const Status st = run_scenario(sc, &r);
  INFO(st.message());
  REQUIRE(st.ok());
  check_window(r, 8 * 10);
  CHECK(fact(r, "threads") == "8");
  check_spread(r, 8, 8, 10);
}

// The client role on tcp, and the server role on the other transports: the
// sharding by index as before (connection i on loop i % N), no listener.
void by_index_elsewhere(const ModelInfo& m) {
  test::skip_if_unavailable(m);
  struct Case {
    Role role;
    Transport t;
  };
  for (const Case c :
       {Case{Role::kClient, Transport::kTcp}, Case{Role::kServer, Transport::kSocketpair},
        Case{Role::kServer, Transport::kPipe}}) {
    INFO(role_name(c.role) << " role on " << transport_name(c.t));
    Scenario sc = test::scenario(std::string(m.name), c.t, 64, 512, "0", 5);
    sc.workload.role = c.role;
    if (c.role == Role::kServer) sc.workload.offered_per_s = 20'000;
    sc.run.threads = 4;
    std::unique_ptr<Session> session;
    const Status st = Session::open(sc, &session);
    INFO(st.message());
    REQUIRE(st.ok());
    CHECK(session->workload().conns().size() == 64);
    CHECK(listening_sockets().empty());
    ScenarioResult r;
    REQUIRE(session->measure(sc.rounds, &r).ok());
    CHECK(r.requests == 64 * 5);
    CHECK(r.peer.protocol_errors == 0);
    CHECK(fact(r, "connections_per_thread") == "16");
    CHECK_FALSE(has_fact(r, "listeners"));
    CHECK_FALSE(has_fact(r, "connections_per_loop"));
    CHECK_FALSE(has_fact(r, "requests_per_loop"));
  }
}

[[maybe_unused]] const bool kFour = test::register_per_model(
    "tpc reuseport: 4 loops x 64 tcp connections, server role, every byte verified: ",
    "[models][tpc]", four_loops, is_tpc);
[[maybe_unused]] const bool kEight = test::register_per_model(
    "tpc reuseport: 8 loops x 8 connections, some loops without one: ", "[models][tpc]",
    eight_by_eight, is_tpc);
[[maybe_unused]] const bool kByIndex = test::register_per_model(
    "tpc reuseport: the client role and the other transports shard by index: ", "[models][tpc]",
    by_index_elsewhere, is_tpc);

// The first thread-per-core model, for the binary's test.
std::string first_tpc() {
  for (const ModelInfo* m : all_models())
    if (m->thread_per_core) return std::string(m->name);
  return "";
}

}  // namespace tpc_reuseport_test

TEST_CASE("tpc reuseport: run --role server -t tcp shows the listeners and the spread",
          "[tpc][cli]") {
  using namespace tpc_reuseport_test;
  const std::string m = first_tpc();
  REQUIRE_FALSE(m.empty());
  test::skip_if_unavailable(*find_model(m));
  const test::TempDir dir("iomodels_tpc_reuseport");
  const std::string json = dir.file("run.json");
  const test::CommandResult r =
      test::run_iomodels("run -m " + m +
                         " --role server --offered 20000 -t tcp -c 16 -s 512 -r 10 --threads 4 "
                         "--json " +
                         json);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json facts = test::read_json(json).at("model_facts");
  const std::string listeners = facts.at("listeners").get<std::string>();
  CHECK(listeners.find("SO_REUSEPORT ×4 on port ") == 0);
  const std::vector<uint64_t> per_loop =
      numbers(facts.at("connections_per_loop").get<std::string>());
  REQUIRE(per_loop.size() == 4);
  CHECK(std::accumulate(per_loop.begin(), per_loop.end(), uint64_t{0}) == 16);
  const std::vector<uint64_t> requests = numbers(facts.at("requests_per_loop").get<std::string>());
  REQUIRE(requests.size() == 4);
  CHECK(std::accumulate(requests.begin(), requests.end(), uint64_t{0}) == 16 * 10);
  CHECK(r.out.find("listeners SO_REUSEPORT ×4") != std::string::npos);  // the summary's model line
  CHECK(r.out.find("connections_per_loop ") != std::string::npos);
}
