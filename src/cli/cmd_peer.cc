// Description: `iomodels peer --listen ADDR:PORT`: the peer alone, for a
// device on another host; runs until SIGINT/SIGTERM, logging (spdlog, to
// stderr) where it listens, how it stopped, and its statistics.
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "frontend/command.h"
#include "frontend/frontend.h"
#include "peer/hello.h"
#include "workload/parse.h"

namespace iomodels::cli {

using namespace frontend;
namespace {

struct PeerFlags {
  std::string listen = "127.0.0.1:7000";
  std::string latency = kDefaultLatency;
  std::string seed = "1";
  std::string spin = "0";
  std::string log_level = "info";
  std::string loop = "auto";
  std::string token;
  std::string max_connections = "16384";
  std::string max_queued = "4096";
  std::string idle_timeout = "600s";
  std::string threads = "1";
};

// Whether `sa` is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127/8).
bool loopback(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

extern "C" void on_sighup(int) {
  static const char msg[] =
      "iomodels peer: SIGHUP (its terminal closed?): still serving; stop it with SIGINT or "
      "SIGTERM\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
}

// `peer`: the peer alone, serving remote runs until SIGINT or SIGTERM.
class PeerCommand final : public Command {
 public:
  void add_flags(CLI::App* app) override;
  void validate() override;
  int execute() override;

 private:
  PeerFlags flags_;
  // What validate() made of the flags.
  std::string host_;
  uint16_t port_ = 0;
  PeerOptions po_;
  spdlog::level::level_enum level_ = spdlog::level::info;
};

void PeerCommand::add_flags(CLI::App* sub) {
  PeerFlags& flags = flags_;
  sub->description("run the peer alone, for run/bench --peer HOST:PORT");
  sub->add_option("--listen", flags.listen, "address to listen on (port 0: any free port, printed)")
      ->capture_default_str();
  sub->add_option("-l,--latency", flags.latency, "think time per request")->capture_default_str();
  sub->add_option("--seed", flags.seed, "seed of the latency draws")->capture_default_str();
  sub->add_option("--peer-spin", flags.spin, "spin this long before each deadline")
      ->capture_default_str();
  sub->add_option("--loop", flags.loop,
                  "how it moves bytes: auto (io_uring where the kernel allows, else epoll) | "
                  "uring | epoll")
      ->capture_default_str();
  sub->add_option("--peer-threads", flags.threads,
                  "serving threads, 1..64, each its own loop; accepted connections go to them "
                  "round-robin, and a statistics request is answered with every thread's figures "
                  "summed")
      ->capture_default_str();
  sub->add_option("--token", flags.token,
                  "a shared secret (up to 32 bytes) every client presents first "
                  "(run --peer-token); required beyond loopback. Better: the environment "
                  "variable IOMODELS_PEER_TOKEN, which ps does not show");
  sub->add_option("--max-connections", flags.max_connections,
                  "connections beyond this are closed at once (0: no limit)")
      ->capture_default_str();
  sub->add_option("--max-queued", flags.max_queued,
                  "responses owed to one connection before the peer stops reading it until "
                  "half are out: backpressure on a client that does not read (0: no limit)")
      ->capture_default_str();
  sub->add_option("--idle-timeout", flags.idle_timeout,
                  "a connection with no byte in or out this long is closed (0: never)")
      ->capture_default_str();
  sub->add_option("--log-level", flags.log_level, "trace | debug | info | warn | error | off")
      ->capture_default_str();
  sub->footer(
      "Listens on loopback by default. Beyond loopback (--listen 0.0.0.0:7000, a LAN\n"
      "address) a token is required, and every connection must present it before\n"
      "anything else, statistics requests included. Each response is generated as it is\n"
      "sent, so what a connection costs the peer is the responses it is owed: --max-queued\n"
      "bounds them. It logs, and returns in its statistics, what its limits turned away.\n"
      "\n"
      "Example: IOMODELS_PEER_TOKEN=s3cret iomodels peer --listen 0.0.0.0:7000 --latency 1ms\n"
      "  then: IOMODELS_PEER_TOKEN=s3cret iomodels run -t tcp --peer HOST:7000 -m epoll");
}

void PeerCommand::validate() {
  const PeerFlags& flags = flags_;
  std::string why;
  if (!parse_host_port(flags.listen, &host_, &port_, &why)) throw UsageError("--listen: " + why);
  PeerOptions& po = po_;
  po.latency = flag_latency("--latency", flags.latency);
  po.seed = flag_count("--seed", flags.seed, 0, UINT64_MAX);
  po.peer_spin_ns = flag_duration("--peer-spin", flags.spin);
  po.peer_loop = flag_peer_loop("--loop", flags.loop);
  po.token = flags.token;
  if (po.token.empty())
    if (const char* env = std::getenv("IOMODELS_PEER_TOKEN"); env != nullptr) po.token = env;
  if (po.token.size() > kHelloTokenBytes)
    throw UsageError("--token: at most " + std::to_string(kHelloTokenBytes) + " bytes");
  po.max_connections =
      static_cast<uint32_t>(flag_count("--max-connections", flags.max_connections, 0, 1u << 24));
  po.max_queued = static_cast<uint32_t>(flag_count("--max-queued", flags.max_queued, 0, 1u << 24));
  po.idle_timeout_ns = flag_duration("--idle-timeout", flags.idle_timeout);
  po.peer_threads =
      static_cast<uint32_t>(flag_count("--peer-threads", flags.threads, 1, kMaxPeerThreads));
  const auto level = spdlog::level::from_str(flags.log_level);
  if (level == spdlog::level::off && flags.log_level != "off")
    throw UsageError("--log-level: '" + flags.log_level +
                     "' is not one of trace, debug, info, warn, error, off");
  level_ = level;
}

int PeerCommand::execute() {
  const PeerFlags& flags = flags_;
  const std::string& host = host_;
  const uint16_t port = port_;
  const spdlog::level::level_enum level = level_;
  PeerOptions po = po_;
  std::string why;
  auto log = spdlog::stderr_color_mt("iomodels peer");
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %n: %v");
  log->set_level(level);
  log->flush_on(spdlog::level::trace);  // a supervisor reading the log sees each line at once

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int e = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); e != 0)
    throw UsageError("--listen: cannot resolve '" + host + "': " + ::gai_strerror(e));
  sockaddr_storage want{};
  std::memcpy(&want, res->ai_addr, std::min<size_t>(res->ai_addrlen, sizeof want));
  const bool local_only = loopback(want);
  if (!local_only && po.token.empty()) {
    ::freeaddrinfo(res);
    throw UsageError("--token: required to listen beyond loopback (--listen " + flags.listen +
                     "): give --token or set IOMODELS_PEER_TOKEN");
  }
  Fd lfd(::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int one = 1;
  ::setsockopt(lfd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!lfd || ::bind(lfd.get(), res->ai_addr, res->ai_addrlen) < 0 ||
      ::listen(lfd.get(), 4096) < 0) {
    const int e = errno;
    ::freeaddrinfo(res);
    log->error("error: cannot listen on {}: {}", flags.listen, errno_text(-e));
    return 1;
  }
  ::freeaddrinfo(res);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_sighup;
  hup.sa_flags = SA_RESTART;
  sigemptyset(&hup.sa_mask);
  ::sigaction(SIGHUP, &hup, nullptr);
  Fd sfd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  po.listen_fd = lfd.get();
  po.stop_fd = sfd.get();
  // Port 0 picks a free port: say which one.
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  char hostbuf[NI_MAXHOST], portbuf[NI_MAXSERV];
  ::getnameinfo(reinterpret_cast<sockaddr*>(&bound), blen, hostbuf, sizeof hostbuf, portbuf,
                sizeof portbuf, NI_NUMERICHOST | NI_NUMERICSERV);
  const bool v6 = bound.ss_family == AF_INET6;
  log->info("listening on {}{}{}:{}, latency {}, seed {}{}", v6 ? "[" : "", hostbuf, v6 ? "]" : "",
            portbuf, po.latency.text(), po.seed,
            po.peer_spin_ns ? ", spinning " + format_duration(po.peer_spin_ns) + " before deadlines"
                            : "");
  if (po.peer_threads > 1) log->info("{} serving threads", po.peer_threads);
  log->info("limits: {} connections, {} responses owed per connection, idle timeout {}; {}",
            po.max_connections ? std::to_string(po.max_connections) : "no limit on",
            po.max_queued ? std::to_string(po.max_queued) : "no limit on",
            po.idle_timeout_ns ? format_duration(po.idle_timeout_ns) : "none",
            po.token.empty() ? "no token" : "token required");
  if (!local_only)
    log->warn(
        "listening beyond loopback: anyone who can reach this port and knows the token "
        "can make this host send data");
  PeerStats st;
  po.final_stats = &st;
  const int code = run_peer_loop(po, {}, &why);
  if (code != 0)
    log->error("error: {}", why);
  else
    log->info("stopped (SIGINT or SIGTERM)");
  // What it served since the last statistics reset (a run resets at the
  // start of its window and reads at its end, so with one run: that run's).
  log->info(
      "served {} requests since the last reset, {:.3f} s CPU in {:.3f} s, lateness p50 {} p99 {} "
      "max {}, {} thread{}",
      st.requests, st.cpu_ns / 1e9, st.wall_ns / 1e9, format_duration(st.late_p50_ns),
      format_duration(st.late_p99_ns), format_duration(st.late_max_ns), st.threads,
      st.threads == 1 ? "" : "s");
  log->info(
      "turned away: {} connections over the limit, {} with a missing or wrong token, {} closed "
      "idle; stopped reading a connection {} times; {} malformed requests",
      st.refused, st.bad_token, st.idle_closed, st.throttled, st.protocol_errors);
  spdlog::drop("iomodels peer");
  return code;
}

}  // namespace

std::unique_ptr<Command> make_peer_command() { return std::make_unique<PeerCommand>(); }

}  // namespace iomodels::cli
