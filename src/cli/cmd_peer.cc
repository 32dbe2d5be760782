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

#include "cli/commands.h"
#include "frontend/frontend.h"
#include "workload/parse.h"

namespace iomodels::cli {

using namespace frontend;
namespace {

struct PeerFlags {
  std::string listen = "127.0.0.1:7000";
  std::string latency = "1ms";
  std::string seed = "1";
  std::string spin = "0";
  std::string log_level = "info";
  std::string loop = "auto";
} flags;

}  // namespace

CLI::App* add_peer(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("peer", "run the peer alone, for run/bench --peer HOST:PORT");
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
  sub->add_option("--log-level", flags.log_level, "trace | debug | info | warn | error | off")
      ->capture_default_str();
  return sub;
}

int run_peer() {
  std::string host, why;
  uint16_t port;
  if (!parse_host_port(flags.listen, &host, &port, &why)) throw UsageError("--listen: " + why);
  PeerOptions po;
  po.latency = flag_latency("--latency", flags.latency);
  po.seed = flag_count("--seed", flags.seed, 0, UINT64_MAX);
  po.spin_ns = flag_duration("--peer-spin", flags.spin);
  po.loop = flag_peer_loop("--loop", flags.loop);
  const auto level = spdlog::level::from_str(flags.log_level);
  if (level == spdlog::level::off && flags.log_level != "off")
    throw UsageError("--log-level: '" + flags.log_level +
                     "' is not one of trace, debug, info, warn, error, off");
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
            po.spin_ns ? ", spinning " + format_duration(po.spin_ns) + " before deadlines" : "");
  const int code = run_peer_loop(po, {}, &why);
  if (code != 0)
    log->error("error: {}", why);
  else
    log->info("stopped (SIGINT or SIGTERM)");
  spdlog::drop("iomodels peer");
  return code;
}

}  // namespace iomodels::cli
