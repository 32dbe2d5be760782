// Description: a peer that scales out. --peer-threads: the forked peer's
// threads serve every byte verified on every transport, in both roles, and a
// statistics request sums every thread's figures (ShardGroup, also asked by
// two threads at once); run --peer A,B: the connections spread over two
// standalone peers (on loopback, and in two network namespaces where this
// machine can make them), the merged figures the sum of what each peer logs.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "calibrate/process.h"
#include "peer/shards.h"
#include "peer_client.h"
#include "util.h"

using namespace iomodels;
using nlohmann::json;

namespace peer_threads_test {

// A thread of a fake sharded peer: answers from its mailbox with figures
// that name it (requests 10 * (k + 1), one lateness of k + 1 us), and, when
// `gather_too`, asks for every thread's figures itself once, at the same
// time as thread 0.
void member(detail::ShardGroup* g, uint32_t k, bool gather_too, std::atomic<uint64_t>* gathered) {
  int resets = 0;
  g->join(k, [k, &resets](uint64_t cmd, detail::ShardFigures* f) {
    f->threads += 1;
    f->requests += 10 * (k + 1);
    f->lateness.record(1000 * (k + 1));
    f->busiest_cpu_ns = std::max<uint64_t>(f->busiest_cpu_ns, k);
    f->sent += k;
    if (cmd == static_cast<uint64_t>(ControlCommand::kStatsAndReset)) ++resets;
  });
  if (gather_too) {
    detail::ShardFigures f;
    g->gather(k, static_cast<uint64_t>(ControlCommand::kStats), &f);
    gathered->store(f.requests);
  }
  for (;;) {
    pollfd p[2] = {{g->mailbox(k), POLLIN, 0}, {g->stop_fd(), POLLIN, 0}};
    if (::poll(p, 2, 5000) <= 0 || (p[1].revents & POLLIN) != 0) break;
    g->on_mail(k);
  }
  g->leave(k, nullptr);
}

// The number after `key` in the peer's log ("served 123 requests ...").
uint64_t logged(const std::string& log, const std::string& key) {
  const size_t at = log.find(key);
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(log.substr(at + key.size()));
}

// Runs argv (a path first), no shell; its exit code and output.
test::CommandResult run_argv(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const std::string& a : argv) cmd += "'" + a + "' ";
  return test::run_shell(cmd);
}

// A run against several peers: its JSON checked against what each peer
// served (every byte verified by the run; its peer figures the sum).
json run_against(const std::vector<std::string>& prefix, const std::string& peers,
                 const std::string& tokens, const std::string& model, const std::string& out) {
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), {IOMODELS_BINARY, "run", "-t", "tcp", "--peer", peers, "-m", model, "-c",
                           "8", "-r", "25", "-s", "4096", "-l", "0", "--json", out});
  if (!tokens.empty()) argv.insert(argv.end(), {"--peer-token", tokens});
  const test::CommandResult r = run_argv(argv);
  INFO(model << ": " << r.out);
  REQUIRE(r.exit_code == 0);
  const json doc = test::read_json(out);
  CHECK(doc.at("requests").get<uint64_t>() == 200);
  CHECK(doc.at("bytes").get<uint64_t>() == 200 * 4096);
  CHECK(doc.at("scenario").at("verify") == true);
  const json& peer = doc.at("peer");
  CHECK(peer.at("remote") == true);
  REQUIRE(peer.at("peers").is_array());
  REQUIRE(peer.at("peers").size() == 2);
  uint64_t sum = 0, threads = 0;
  double late_max = 0;
  for (const json& p : peer.at("peers")) {
    CHECK(p.at("requests").get<uint64_t>() == 100);  // connection i to peer i % 2
    sum += p.at("requests").get<uint64_t>();
    threads += p.at("threads").get<uint64_t>();
    late_max = std::max(late_max, p.at("late_max_us").get<double>());
  }
  CHECK(peer.at("requests").get<uint64_t>() == sum);
  CHECK(peer.at("threads").get<uint64_t>() == threads);
  CHECK(peer.at("late_max_us").get<double>() == late_max);
  return doc;
}

// Two standalone peers' logs at their stop, checked against the run's
// figures for each (the last run: a peer logs its window since the last reset).
void check_logs(const json& doc, const std::string& log_a, const std::string& log_b) {
  INFO(log_a << "\n" << log_b);
  const json& parts = doc.at("peer").at("peers");
  const uint64_t a = logged(log_a, "served "), b = logged(log_b, "served ");
  CHECK(a == parts[0].at("requests").get<uint64_t>());
  CHECK(b == parts[1].at("requests").get<uint64_t>());
  CHECK(a + b == doc.at("peer").at("requests").get<uint64_t>());
  CHECK(log_a.find("2 threads") != std::string::npos);
  CHECK(log_b.find("1 thread") != std::string::npos);
}

// Three network namespaces: the peers in a and b, the run in c, joined to
// each by a veth pair (c's ca to a's va, c's cb to b's vb). Deleted when
// this object goes. create() is the probe: "" when made, else what failed.
struct ThreeNamespaces {
  std::string ip = calibrate::find_executable("ip");
  std::string a, b, c;
  std::vector<std::string> made;
  std::string net = "10." + std::to_string(64 + ::getpid() % 128) + "." +
                    std::to_string(::getpid() / 128 % 60 * 4) + ".";

  ThreeNamespaces() {
    const std::string base = "iomm-" + std::to_string(::getpid()) + "-";
    a = base + "a";
    b = base + "b";
    c = base + "c";
  }
  ThreeNamespaces(const ThreeNamespaces&) = delete;
  ThreeNamespaces& operator=(const ThreeNamespaces&) = delete;
  ~ThreeNamespaces() {
    for (const std::string& ns : made) run_argv({ip, "netns", "del", ns});
  }
  std::string addr_a() const { return net + "1"; }
  std::string addr_b() const { return net + "5"; }

  std::string create() {
    if (::geteuid() != 0) return "not root (euid " + std::to_string(::geteuid()) + ")";
    if (ip.empty()) return "no `ip` (iproute2) in PATH";
    for (const std::string& ns : {a, b, c}) {
      const test::CommandResult r = run_argv({ip, "netns", "add", ns});
      if (r.exit_code != 0) return "`ip netns add " + ns + "` failed: " + r.out;
      made.push_back(ns);
    }
    const std::vector<std::vector<std::string>> steps = {
        {ip, "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "ca", "netns", c},
        {ip, "link", "add", "vb", "netns", b, "type", "veth", "peer", "name", "cb", "netns", c},
        {ip, "-n", a, "addr", "add", net + "1/30", "dev", "va"},
        {ip, "-n", c, "addr", "add", net + "2/30", "dev", "ca"},
        {ip, "-n", b, "addr", "add", net + "5/30", "dev", "vb"},
        {ip, "-n", c, "addr", "add", net + "6/30", "dev", "cb"},
        {ip, "-n", a, "link", "set", "va", "up"},
        {ip, "-n", b, "link", "set", "vb", "up"},
        {ip, "-n", c, "link", "set", "ca", "up"},
        {ip, "-n", c, "link", "set", "cb", "up"},
        {ip, "-n", c, "link", "set", "lo", "up"}};
    for (const auto& argv : steps) {
      const test::CommandResult r = run_argv(argv);
      if (r.exit_code != 0) return calibrate::command_text(argv) + " failed: " + r.out;
    }
    return "";
  }
  std::vector<std::string> in(const std::string& ns) const { return {ip, "netns", "exec", ns}; }
};

// A standalone peer started by argv, its log on a pipe; stopped (SIGTERM)
// and reaped when this goes.
struct LoggedPeer {
  pid_t pid = -1;
  int err = -1;
  uint16_t port = 0;
  LoggedPeer(const std::vector<std::string>& argv, const std::string& addr) {
    pid = test::spawn_with_stderr_pipe(argv, &err);
    if (pid > 0) port = test::read_port(err, addr);
  }
  LoggedPeer(const LoggedPeer&) = delete;
  LoggedPeer& operator=(const LoggedPeer&) = delete;
  ~LoggedPeer() { stop(); }
  std::string stop() {
    if (pid <= 0) return {};
    ::kill(pid, SIGTERM);
    std::string log = test::read_rest(err);
    ::waitpid(pid, nullptr, 0);
    ::close(err);
    pid = -1;
    return log;
  }
};

}  // namespace peer_threads_test

using namespace peer_threads_test;

TEST_CASE("peer threads: a statistics request sums every thread's figures", "[peer]") {
  detail::ShardGroup g(4, 4);
  std::atomic<uint64_t> gathered_by_1{0}, unused{0};
  std::vector<std::thread> threads;
  threads.emplace_back(member, &g, 1, true, &gathered_by_1);
  threads.emplace_back(member, &g, 2, false, &unused);
  threads.emplace_back(member, &g, 3, false, &unused);
  g.join(0, [](uint64_t, detail::ShardFigures* f) {
    f->threads += 1;
    f->requests += 1;
    f->lateness.record(500);
  });
  for (const ControlCommand cmd : {ControlCommand::kStats, ControlCommand::kStatsAndReset}) {
    detail::ShardFigures f;
    // Thread 0 waits for its turn while thread 1 gathers (and answers it).
    pollfd p{g.mailbox(0), POLLIN, 0};
    while (::poll(&p, 1, 0) > 0) g.on_mail(0);
    g.gather(0, static_cast<uint64_t>(cmd), &f);
    CHECK(f.threads == 4);
    CHECK(f.requests == 1 + 20 + 30 + 40);
    CHECK(f.lateness.count() == 4);
    CHECK(f.lateness.max() == 4000);
    CHECK(f.busiest_cpu_ns == 3);
    CHECK(f.sent == 1 + 2 + 3);
    const PeerStats st = detail::stats_from_wire(detail::stats_wire(f, 0));
    CHECK(st.requests == 91);
    CHECK(st.threads == 4);
    CHECK(st.late_max_ns == 4000);
  }
  // Thread 1's own request, made at the same time, summed all four too
  // (thread 0 answered it while waiting for its turn, or before).
  while (gathered_by_1.load() == 0) {
    pollfd p{g.mailbox(0), POLLIN, 0};
    if (::poll(&p, 1, 10) > 0) g.on_mail(0);
  }
  CHECK(gathered_by_1 == 91);
  g.stop();
  for (std::thread& t : threads) t.join();
  g.leave(0, nullptr);
}

namespace peer_threads_test {

void serve_with_threads(Transport t) {
  for (const char* model : {"epoll", "uring"}) {
    test::skip_if_unavailable(*find_model(model));
    for (const Role role : {Role::kClient, Role::kServer}) {
      for (const uint32_t n : {2u, 8u}) {
        for (const uint32_t conns : {16u, 4u}) {
          DYNAMIC_SECTION(model << ", " << role_name(role) << ", " << n << " threads, " << conns
                                << " connections") {
            Scenario sc = test::scenario(model, t, conns, 4096, "0", 20);
            sc.workload.peer_threads = n;
            sc.workload.role = role;
            std::string why;
            if (role == Role::kClient) {
              REQUIRE(parse_latency("100us", &sc.workload.latency, &why));
            } else {
              sc.workload.offered_per_s = 8000;
            }
            ScenarioResult r;
            const Status s = run_scenario(sc, &r);
            INFO(s.message());
            REQUIRE(s.ok());  // every payload byte verified, or the run fails
            const uint64_t total = uint64_t{conns} * 20;
            CHECK(r.latency.count() == total);
            CHECK(r.peer.requests == total);  // the threads' counts, summed
            CHECK(r.peer.threads == std::min(n, conns));
            CHECK(r.peer.protocol_errors == 0);
            if (role == Role::kServer) {
              REQUIRE(r.peer.generator);
              CHECK(r.peer.generator->responses == total);
              CHECK(r.peer.generator->bad_bytes == 0);
              CHECK(r.peer.generator->corrected.count() == total);
            }
          }
        }
      }
    }
  }
}

const bool kRegistered = test::register_per_transport(
    "peer threads: every byte verified in both roles on ", "[peer]", serve_with_threads);

}  // namespace peer_threads_test

TEST_CASE("peer threads: values outside 1..64 and a peer that is not forked are refused",
          "[peer]") {
  for (const char* args :
       {"run --peer-threads 0", "run --peer-threads 65", "run --peer-threads two",
        "run -t file --peer-threads 2", "run -t tcp --peer 127.0.0.1:1 --peer-threads 2",
        "peer --peer-threads 0", "peer --peer-threads 65"}) {
    const test::CommandResult r = test::run_iomodels(args);
    INFO(args << ": " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--peer-threads") != std::string::npos);
  }
  for (const char* args : {"run -t tcp --peer 127.0.0.1:7000,127.0.0.1:7000",
                           "run -t tcp --peer 127.0.0.1:7000,nonsense"}) {
    const test::CommandResult r = test::run_iomodels(args);
    INFO(args << ": " << r.out);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("--peer") != std::string::npos);
  }
}

TEST_CASE(
    "two peers on loopback serve one run: connection i on peer i % 2 and their figures summed",
    "[remote]") {
  for (const char* m : {"epoll", "uring"}) test::skip_if_unavailable(*find_model(m));
  LoggedPeer a({IOMODELS_BINARY, "peer", "--listen", "127.0.0.1:0", "--latency", "0",
                "--peer-threads", "2", "--token", "tok-a"},
               "127.0.0.1");
  LoggedPeer b(
      {IOMODELS_BINARY, "peer", "--listen", "127.0.0.1:0", "--latency", "0", "--token", "tok-b"},
      "127.0.0.1");
  REQUIRE(a.port != 0);
  REQUIRE(b.port != 0);
  const std::string peers =
      "127.0.0.1:" + std::to_string(a.port) + ",127.0.0.1:" + std::to_string(b.port);
  const test::TempDir dir("iomodels_peers");
  json last;
  for (const char* m : {"epoll", "uring"})
    last = run_against({}, peers, "tok-a,tok-b", m, dir.file(std::string(m) + ".json"));
  check_logs(last, a.stop(), b.stop());
}

TEST_CASE("two peers in two network namespaces serve one run from a third", "[remote]") {
  for (const char* m : {"epoll", "uring"}) test::skip_if_unavailable(*find_model(m));
  ThreeNamespaces net;
  if (const std::string why = net.create(); !why.empty())
    test::skip("cannot make three network namespaces joined by veth pairs here: " + why);
  std::vector<std::string> argv_a = net.in(net.a), argv_b = net.in(net.b);
  argv_a.insert(argv_a.end(), {IOMODELS_BINARY, "peer", "--listen", net.addr_a() + ":0",
                               "--latency", "200us", "--peer-threads", "2", "--token", "ns-a"});
  argv_b.insert(argv_b.end(), {IOMODELS_BINARY, "peer", "--listen", net.addr_b() + ":0",
                               "--latency", "200us", "--token", "ns-b"});
  LoggedPeer a(argv_a, net.addr_a());
  LoggedPeer b(argv_b, net.addr_b());
  REQUIRE(a.port != 0);
  REQUIRE(b.port != 0);
  const std::string peers = net.addr_a() + ":" + std::to_string(a.port) + "," + net.addr_b() + ":" +
                            std::to_string(b.port);
  const test::TempDir dir("iomodels_netns_peers");
  json last;
  for (const char* m : {"epoll", "uring"})
    last = run_against(net.in(net.c), peers, "ns-a,ns-b", m, dir.file(std::string(m) + ".json"));
  CHECK(last.at("scenario").at("peer") == peers);
  check_logs(last, a.stop(), b.stop());
}
