// Description: `iomodels peer --listen ADDR:PORT`: the peer alone, for a
// device on another host; runs until SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>

#include "cli/cli.h"
#include "iomodels/parse.h"

namespace iomodels::cli {
namespace {

struct PeerFlags {
  std::string listen = "127.0.0.1:7000";
  std::string latency = "1ms";
  std::string seed = "1";
  std::string spin = "0";
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
    std::fprintf(stderr, "iomodels: cannot listen on %s: %s\n", flags.listen.c_str(),
                 errno_text(-e).c_str());
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
  std::fprintf(stderr, "iomodels peer: listening on %s%s%s:%s, latency %s\n", v6 ? "[" : "",
               hostbuf, v6 ? "]" : "", portbuf, po.latency.text().c_str());
  const int code = run_peer_loop(po, {}, &why);
  if (code != 0)
    std::fprintf(stderr, "iomodels peer: %s\n", why.c_str());
  else
    std::fprintf(stderr, "iomodels peer: stopped\n");
  return code;
}

}  // namespace iomodels::cli
