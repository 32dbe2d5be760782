// Description: `iomodels peer --listen` serves every model's runs over TCP
// like the forked peer, and stops cleanly on SIGTERM: on loopback, and across
// two network namespaces joined by a veth pair (a skip, with the reason, where
// a probe doing the same in a throw-away namespace fails; that decision is
// itself tested).
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "calibrate/process.h"
#include "peer/payload.h"
#include "peer_client.h"
#include "util.h"

using namespace iomodels;
using nlohmann::json;

namespace {

using test::connect_to;
using test::count_fds;
using test::cpu_seconds;
using test::read_port;
using test::read_rest;
using test::served;

// Runs argv[0] (a path) with argv, no shell; exit code and stdout+stderr.
test::CommandResult run_argv(const std::vector<std::string>& argv) {
  test::CommandResult r;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return r;
  Fd from(out[0]), to(out[1]);
  sys::SpawnOptions o;
  o.stdout_fd = to.get();
  o.stderr_fd = to.get();
  o.search_path = false;
  o.own_group = false;
  sys::Child child;
  if (sys::spawn(argv, o, &child) != 0) return r;
  to.reset();
  child.start();  // a program that cannot run exits with 127
  r.out = read_rest(from.get());
  sys::ExitInfo x;
  if (sys::reap(child.pid(), 0, 0, &x) == 0) r.exit_code = sys::exit_code(x.status);
  return r;
}

bool pid_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// The names these tests give their namespaces: iomt-<pid>-<role>.
std::string netns_name(char role) { return "iomt-" + std::to_string(::getpid()) + "-" + role; }

// Namespaces left by an earlier run of these tests that was killed before
// its clean-up ran (their pid is gone).
void remove_stale_netns(const std::string& ip) {
  DIR* d = ::opendir("/run/netns");
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    unsigned long pid = 0;
    char role = 0;
    int used = 0;
    if (std::sscanf(e->d_name, "iomt-%lu-%c%n", &pid, &role, &used) == 2 &&
        e->d_name[used] == '\0' && (role == 'a' || role == 'b' || role == 'p') && pid > 0 &&
        !pid_alive(static_cast<pid_t>(pid)))
      stale.push_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& ns : stale) run_argv({ip, "netns", "del", ns});
}

// Whether this process can do what the namespace test does, decided by doing
// it once in a throw-away namespace (deleted again): "" if it can, else the
// first thing that failed and what it said (the test skips with that). Being
// allowed to add a namespace is not enough: in a chroot `ip netns add` works
// but every `ip -n NS ...` fails ("mount --make-rslave /" failed: Invalid
// argument), and a kernel without veth refuses the link.
std::string netns_unavailable() {
  if (::geteuid() != 0) return "not root (euid " + std::to_string(::geteuid()) + ")";
  const std::string ip = calibrate::find_executable("ip");
  if (ip.empty()) return "no `ip` (iproute2) in PATH";
  remove_stale_netns(ip);
  const std::string ns = netns_name('p');
  test::CommandResult r = run_argv({ip, "netns", "add", ns});
  if (r.exit_code != 0) return "`ip netns add " + ns + "` failed: " + r.out;
  const std::vector<std::vector<std::string>> steps = {
      {ip, "-n", ns, "link", "add", "pa", "type", "veth", "peer", "name", "pb"},
      {ip, "-n", ns, "addr", "add", "10.255.255.1/30", "dev", "pa"},
      {ip, "-n", ns, "link", "set", "pa", "up"},
      {ip, "netns", "exec", ns, "/bin/cat", "/sys/class/net/pa/statistics/tx_bytes"}};
  std::string why;
  for (const auto& argv : steps) {
    r = run_argv(argv);
    if (r.exit_code != 0) {
      why = "`" + calibrate::command_text(argv) + "` failed (exit " + std::to_string(r.exit_code) +
            "): " + r.out;
      break;
    }
  }
  r = run_argv({ip, "netns", "del", ns});
  if (why.empty() && r.exit_code != 0) why = "`ip netns del " + ns + "` failed: " + r.out;
  return why;
}

// Two fresh network namespaces, iomt-<pid>-a and iomt-<pid>-b, joined by a
// veth pair: `va` (addr_a/30) in a, `vb` (addr_b/30) in b. Both are deleted
// (and with them the veths) when this object goes, on every path out of a
// test, REQUIRE failures included. Make one only where netns_unavailable()
// said it can be done.
class NetnsPair {
 public:
  NetnsPair() : ip(calibrate::find_executable("ip")), a(netns_name('a')), b(netns_name('b')) {
    // Each namespace has its own addresses and routes, so the subnet cannot
    // clash with the host's; it still varies between runs, to be read apart
    // in captures.
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const unsigned x = 64 + static_cast<unsigned>(::getpid()) % 128;
    const unsigned y = static_cast<unsigned>(ts.tv_nsec / 1000) % 64 * 4;
    const std::string net = "10." + std::to_string(x) + "." + std::to_string(y) + ".";
    addr_a = net + "1";
    addr_b = net + "2";
  }
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;
  ~NetnsPair() {
    if (created_b_) run_argv({ip, "netns", "del", b});
    if (created_a_) run_argv({ip, "netns", "del", a});
  }

  // Creates both namespaces and joins them: the veth pair, its addresses, lo
  // and the veths up. "" on success, else the failing command and its output.
  std::string create() {
    test::CommandResult r = run_argv({ip, "netns", "add", a});
    if (r.exit_code != 0) return "`ip netns add " + a + "` failed: " + r.out;
    created_a_ = true;
    r = run_argv({ip, "netns", "add", b});
    if (r.exit_code != 0) return "`ip netns add " + b + "` failed: " + r.out;
    created_b_ = true;
    const std::vector<std::vector<std::string>> steps = {
        {ip, "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b},
        {ip, "-n", a, "addr", "add", addr_a + "/30", "dev", "va"},
        {ip, "-n", b, "addr", "add", addr_b + "/30", "dev", "vb"},
        {ip, "-n", a, "link", "set", "lo", "up"},
        {ip, "-n", b, "link", "set", "lo", "up"},
        {ip, "-n", a, "link", "set", "va", "up"},
        {ip, "-n", b, "link", "set", "vb", "up"}};
    for (const auto& argv : steps) {
      r = run_argv(argv);
      if (r.exit_code != 0)
        return calibrate::command_text(argv) + " -> exit " + std::to_string(r.exit_code) + ": " +
               r.out;
    }
    return "";
  }

  // argv prefix that runs a command inside namespace `ns`.
  std::vector<std::string> exec_in(const std::string& ns) const {
    return {ip, "netns", "exec", ns};
  }

  std::string ip, a, b, addr_a, addr_b;

 private:
  bool created_a_ = false, created_b_ = false;
};

// A child process (here: the peer inside a namespace) with its stderr on a
// pipe; killed and reaped if still there when this object goes.
struct Child {
  pid_t pid = -1;
  int err = -1;

  // It dies with the test (PR_SET_PDEATHSIG): not left in the namespace.
  explicit Child(const std::vector<std::string>& argv) {
    pid = test::spawn_with_stderr_pipe(argv, &err);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      wait();
    }
    if (err >= 0) ::close(err);
  }
  // Waits for the exit; its wait status.
  int wait() {
    sys::ExitInfo x;
    sys::reap(pid, 0, 0, &x);
    pid = -1;
    return x.status;
  }
};

// Runs netns_unavailable() in a forked child after `prepare` (which changes
// only the child) and returns what it said, or "<available>" if the probe
// went through (its namespace is deleted again either way).
template <typename F>
std::string probe_in_child(F prepare, pid_t* child = nullptr) {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    std::string why = "prepare failed";
    if (prepare()) {
      why = netns_unavailable();
      if (why.empty()) why = "<available>";
    }
    const ssize_t n = ::write(p[1], why.data(), why.size());
    ::_exit(n == static_cast<ssize_t>(why.size()) ? 0 : 1);
  }
  ::close(p[1]);
  if (child != nullptr) *child = pid;
  const std::string why = read_rest(p[0]);
  ::close(p[0]);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  return why;
}

// The namespace `ns` is not (or no longer) in /run/netns.
void check_no_netns(const std::string& ns) {
  DIR* d = ::opendir("/run/netns");
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) CHECK(std::string(e->d_name) != ns);
  ::closedir(d);
}

// Drops CAP_SYS_ADMIN from this process for good: bounding, inheritable,
// effective and permitted (so `ip`, even exec'd as root, lacks it).
bool drop_sys_admin() {
  if (::prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0) return false;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  const unsigned bit = 1u << (CAP_SYS_ADMIN % 32);
  data[CAP_SYS_ADMIN / 32].effective &= ~bit;
  data[CAP_SYS_ADMIN / 32].permitted &= ~bit;
  data[CAP_SYS_ADMIN / 32].inheritable &= ~bit;
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

uint64_t read_counter(const NetnsPair& net, const std::string& ns, const std::string& file) {
  std::vector<std::string> argv = net.exec_in(ns);
  argv.insert(argv.end(), {"/bin/cat", file});
  const test::CommandResult r = run_argv(argv);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  return std::stoull(r.out);
}

}  // namespace

TEST_CASE("a standalone peer serves runs over tcp and stops on SIGTERM", "[remote]") {
  // Every model runs against it; one the kernel cannot run makes this a skip.
  for (const ModelInfo* m : all_models()) test::skip_if_unavailable(*m);
  // Port 0: the peer picks a free port and prints it (a fixed port could be
  // taken by any other connection on the machine).
  int err[2];
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  sys::SpawnOptions o;
  o.stderr_fd = err[1];
  o.search_path = false;
  o.own_group = false;
  sys::Child child;
  REQUIRE(sys::spawn({IOMODELS_BINARY, "peer", "--listen", "127.0.0.1:0", "--latency", "200us"}, o,
                     &child) == 0);
  const pid_t pid = child.pid();
  ::close(err[1]);
  const uint16_t port = read_port(err[0]);
  REQUIRE(port != 0);
  const std::string listen = "127.0.0.1:" + std::to_string(port);

  int ran = 0;
  for (const ModelInfo* m : all_models()) {
    Scenario sc = test::scenario(std::string(m->name), Transport::kTcp, 16, 4096, "0", 10);
    sc.workload.remote = listen;
    if (!why_not(*m, sc.workload).empty()) continue;  // refused on tcp: the model matrix
    ScenarioResult r;
    const Status s = run_scenario(sc, &r);
    INFO(m->name << ": " << s.message());
    REQUIRE(s.ok());
    CHECK(r.latency.count() == 160);
    CHECK(r.peer.remote);
    CHECK(r.peer.requests >= 160);
    CHECK(r.latency.percentile(0.5) >= 200'000);  // the remote peer's own latency applies
    ++ran;
  }
  CHECK(ran > 0);

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
  const std::string rest = read_rest(err[0]);
  ::close(err[0]);
  CHECK(rest.find("stopped") != std::string::npos);
}

TEST_CASE("a peer in one network namespace serves runs from another over a veth pair", "[remote]") {
  if (const std::string why = netns_unavailable(); !why.empty())
    test::skip("cannot make network namespaces joined by a veth pair here: " + why);
  for (const ModelInfo* m : all_models()) test::skip_if_unavailable(*m);
  NetnsPair net;
  {
    const std::string failed = net.create();
    INFO(failed);
    REQUIRE(failed.empty());
  }
  std::vector<std::string> peer_argv = net.exec_in(net.a);
  peer_argv.insert(peer_argv.end(), {IOMODELS_BINARY, "peer", "--listen", net.addr_a + ":0",
                                     "--latency", "1ms", "--token", "veth-secret"});
  Child peer(peer_argv);
  REQUIRE(peer.pid > 0);
  const uint16_t port = read_port(peer.err, net.addr_a);
  REQUIRE(port != 0);
  const std::string remote = net.addr_a + ":" + std::to_string(port);

  const test::TempDir dir("iomodels_remote");
  constexpr uint64_t kConns = 8, kRounds = 50, kSize = 4096;
  uint64_t ran = 0;
  for (const ModelInfo* m : all_models()) {
    const std::string model(m->name);
    WorkloadOptions w;
    w.transport = Transport::kTcp;
    w.remote = remote;
    if (!why_not(*m, w).empty()) continue;  // refused on tcp: the model matrix
    const std::string out = dir.file(model + ".json");
    std::vector<std::string> argv = net.exec_in(net.b);
    argv.insert(argv.end(), {IOMODELS_BINARY,
                             "run",
                             "--transport",
                             "tcp",
                             "--peer",
                             remote,
                             "--peer-token",
                             "veth-secret",
                             "-m",
                             model,
                             "-c",
                             std::to_string(kConns),
                             "-l",
                             "1ms",
                             "-r",
                             std::to_string(kRounds),
                             "-s",
                             std::to_string(kSize),
                             "--json",
                             out});
    const test::CommandResult r = run_argv(argv);
    INFO(model << ": " << r.out);
    REQUIRE(r.exit_code == 0);  // the run verifies every payload byte, and fails otherwise
    CHECK(r.out.find("remote peer   " + remote) != std::string::npos);
    const json doc = test::read_json(out);
    CHECK(doc.at("scenario").at("peer") == remote);
    CHECK(doc.at("scenario").at("verify") == true);
    CHECK(doc.at("scenario").at("transport") == "tcp");
    CHECK(doc.at("peer").at("remote") == true);
    CHECK(doc.at("peer").at("requests").get<uint64_t>() >= kConns * kRounds);
    CHECK(doc.at("requests").get<uint64_t>() == kConns * kRounds);
    CHECK(doc.at("bytes").get<uint64_t>() == kConns * kRounds * kSize);
    CHECK(doc.at("latency_us").at("p50").get<double>() >= 1000.0);  // the peer's 1 ms applies
    ++ran;
  }
  CHECK(ran > 0);

  // Beyond loopback the token is owed: a run without it, or with another,
  // is refused with the reason, and the peer counts both.
  for (const char* token : {"", "not-the-secret"}) {
    std::vector<std::string> argv = net.exec_in(net.b);
    argv.insert(argv.end(), {IOMODELS_BINARY, "run", "--transport", "tcp", "--peer", remote, "-m",
                             "blocking", "-c", "1", "-r", "3"});
    if (*token != '\0') argv.insert(argv.end(), {"--peer-token", token});
    const test::CommandResult r = run_argv(argv);
    INFO("token '" << token << "': " << r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("refused the connection") != std::string::npos);
  }

  // The responses crossed the veth: va sent at least all payload bytes.
  const uint64_t sent = read_counter(net, net.a, "/sys/class/net/va/statistics/tx_bytes");
  const uint64_t got = read_counter(net, net.b, "/sys/class/net/vb/statistics/rx_bytes");
  const uint64_t payload = ran * kConns * kRounds * kSize;
  CHECK(sent >= payload);
  CHECK(got >= payload);

  REQUIRE(::kill(peer.pid, SIGTERM) == 0);
  const int st = peer.wait();
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  const std::string log = read_rest(peer.err);
  CHECK(log.find("iomodels peer: stopped") != std::string::npos);
  CHECK(log.find("2 with a missing or wrong token") != std::string::npos);
}

TEST_CASE("the network namespace test's probe does what the test does, and says why not",
          "[remote]") {
  if (::geteuid() != 0) {
    // The real skip path of the test above, as it runs here.
    CHECK(netns_unavailable().find("not root") != std::string::npos);
    return;
  }
  // As root, make each refusal happen for real in a child process.
  SECTION("untouched, it answers as it does in this process") {
    // Where the machine allows namespaces and veth pairs, the test above
    // runs; where it does not (a chroot, a container without
    // CAP_SYS_ADMIN), the probe names the step that failed, and the test
    // above skips with that reason. Either way the probe leaves no
    // namespace behind. What the machine allows is not asserted.
    const std::string here = netns_unavailable();
    pid_t child = -1;
    const std::string why = probe_in_child([] { return true; }, &child);
    INFO("in this process: " << (here.empty() ? "<available>" : here) << "; in a child: " << why);
    if (here.empty()) {
      CHECK(why == "<available>");
    } else {
      CHECK(why != "<available>");
      CHECK(!why.empty());
    }
    check_no_netns("iomt-" + std::to_string(child) + "-p");
  }
  SECTION("not root") {
    const std::string why = probe_in_child([] { return ::setresuid(65534, 65534, 65534) == 0; });
    CHECK(why.find("not root (euid 65534)") != std::string::npos);
  }
  SECTION("no ip in PATH") {
    const std::string why =
        probe_in_child([] { return ::setenv("PATH", "/nonexistent-iomodels", 1) == 0; });
    CHECK(why == "no `ip` (iproute2) in PATH");
  }
  SECTION("ip netns add refused without CAP_SYS_ADMIN") {
    // Run only where the probe itself found ip (else the section above
    // is what happens here).
    if (calibrate::find_executable("ip").empty()) return;
    const std::string why = probe_in_child(drop_sys_admin);
    INFO(why);
    CHECK(why.find("`ip netns add iomt-") == 0);
    CHECK(why.find("` failed: ") != std::string::npos);
    // The refused add left nothing behind.
    const size_t at = why.find("iomt-");
    if (at != std::string::npos) check_no_netns(why.substr(at, why.find('`', at) - at));
  }
  SECTION("a namespace is made but `ip -n` fails in it, as in a chroot") {
    // An `ip` that adds and deletes namespaces but cannot enter one, saying
    // what iproute2 says in a chroot, first on PATH.
    const test::TempDir bin("iomodels_fake_ip");
    {
      std::ofstream f(bin.file("ip"));
      f << "#!/bin/sh\n"
           "if [ \"$1\" = netns ] && [ \"$2\" != exec ]; then exit 0; fi\n"
           "echo '\"mount --make-rslave /\" failed: Invalid argument' >&2\n"
           "exit 1\n";
    }
    REQUIRE(::chmod(bin.file("ip").c_str(), 0755) == 0);
    const std::string path = bin.path;
    const std::string why = probe_in_child([&path] {
      const char* old = ::getenv("PATH");
      return ::setenv("PATH", (path + ":" + (old ? old : "")).c_str(), 1) == 0;
    });
    INFO(why);
    CHECK(why.find("`" + path + "/ip -n iomt-") == 0);
    CHECK(why.find("link add pa type veth") != std::string::npos);
    CHECK(why.find("mount --make-rslave /") != std::string::npos);
  }
}

namespace {

void check_hostile_clients(const std::string& loop) {
  // A peer with 64 descriptors at most, as after `ulimit -n 64`.
  int err[2];
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  sys::SpawnOptions o;
  o.stderr_fd = err[1];
  o.search_path = false;
  o.own_group = false;
  o.hold = true;  // its descriptor limit is set before it execs
  sys::Child child;
  REQUIRE(sys::spawn({IOMODELS_BINARY, "peer", "--listen", "127.0.0.1:0", "--latency", "0",
                      "--loop", loop},
                     o, &child) == 0);
  const pid_t pid = child.pid();
  const rlimit rl{64, 64};
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &rl, nullptr) == 0);
  REQUIRE(child.start() == 0);
  ::close(err[1]);
  const uint16_t port = read_port(err[0]);
  REQUIRE(port != 0);
  REQUIRE(served(port));
  const int base = count_fds(pid);

  // 100 clients that send half a request and close at once: none is left
  // behind in the peer.
  for (int i = 0; i < 100; ++i) {
    const int fd = connect_to(port);
    REQUIRE(fd >= 0);
    const uint64_t half = 42;
    ::send(fd, &half, sizeof half, MSG_NOSIGNAL);
    ::close(fd);
  }
  int now = 0;
  for (int i = 0; i < 100 && (now = count_fds(pid)) > base; ++i) ::usleep(20'000);
  CHECK(now <= base);

  // 100 clients held open: more than the peer may hold. It must not spin
  // on the accepts it cannot make, and serves again once they are gone.
  std::vector<int> held;
  for (int i = 0; i < 100; ++i) held.push_back(connect_to(port));
  ::usleep(200'000);
  const double cpu0 = cpu_seconds(pid);
  ::usleep(1'000'000);
  const double spent = cpu_seconds(pid) - cpu0;
  INFO("the peer used " << spent << " s of CPU in 1 s while out of descriptors");
  CHECK(spent < 0.2);
  for (int fd : held)
    if (fd >= 0) ::close(fd);
  bool again = false;
  for (int i = 0; i < 20 && !again; ++i) again = served(port);
  CHECK(again);

  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ::close(err[0]);
}

}  // namespace

TEST_CASE("the standalone peer leaks no descriptor and does not spin when out of them",
          "[remote][timing]") {
  std::string why;
  for (const std::string loop : {"uring", "epoll"}) {
    if (loop == "uring" && !uring_peer_available(&why)) continue;
    DYNAMIC_SECTION(loop) { check_hostile_clients(loop); }
  }
}
