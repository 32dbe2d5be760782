// Description: Workload: forks the peer, hands it its ends of the connections
// over a control socket, talks to it for statistics, and guards runs with a
// progress watchdog.
#include "workload/workload.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "measure/recorder.h"
#include "peer/payload.h"
#include "peer/setup.h"
#include "peer/wire.h"
#include "sys/cpus.h"
#include "sys/sys.h"
#include "workload/control.h"

namespace iomodels {

using detail::SetupKind;

namespace {

constexpr std::array kTransports = {Transport::kPipe, Transport::kSocketpair, Transport::kTcp};

Status set_nodelay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    return Status::from_errno(-errno, "setsockopt(TCP_NODELAY)");
  return {};
}

// The second answer to a control request on the local control socket, right
// after the first: the load generator's (server role) or a program's checks
// (--exec). One message of exactly sizeof(T) starting with `magic`.
template <typename T>
Status read_second_answer(int fd, uint64_t magic, T* out, const char* what) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, 5000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return Status::error(std::string(what) + " did not come within 5 s");
    const ssize_t n = ::recv(fd, out, sizeof *out, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return Status::from_errno(-errno, std::string("reading ") + what);
    if (n != static_cast<ssize_t>(sizeof *out) || out->magic != magic)
      return Status::error(std::string(what) + " are garbled");
    return {};
  }
}

}  // namespace

std::string_view transport_name(Transport t) {
  switch (t) {
    case Transport::kPipe:
      return "pipe";
    case Transport::kSocketpair:
      return "socketpair";
    case Transport::kTcp:
      return "tcp";
    case Transport::kFile:
      return "file";
  }
  return "?";
}

std::span<const Transport> all_transports() { return kTransports; }

bool parse_transport(std::string_view text, Transport* out, std::string* why) {
  for (Transport t :
       {Transport::kPipe, Transport::kSocketpair, Transport::kTcp, Transport::kFile}) {
    if (transport_name(t) == text) {
      *out = t;
      return true;
    }
  }
  *why = "unknown transport '" + std::string(text) + "' (choose pipe, socketpair, tcp or file)";
  return false;
}

uint64_t fds_needed(Transport t, uint32_t connections) {
  // Client ends, plus one batch of peer ends in flight during set-up (never
  // more than there are connections), plus room for the process's own files,
  // control socket, epoll and ring descriptors.
  constexpr uint64_t kOwn = 32;
  if (t == Transport::kFile) return kOwn;  // one data file for every read in flight
  const uint64_t per_conn = t == Transport::kPipe ? 2 : 1;
  const uint64_t batch = std::min<uint64_t>(connections, detail::kFdsPerMessage);
  return per_conn * connections + per_conn * batch + kOwn;
}

Status Workload::create(const WorkloadOptions& opts, std::unique_ptr<Workload>* out) {
  if (opts.connections < 1 || opts.connections > kMaxConnections)
    return Status::error("--connections must be 1.." + std::to_string(kMaxConnections) + ", got " +
                         std::to_string(opts.connections));
  if (opts.size < 1 || opts.size > kMaxResponseBytes)
    return Status::error("--size must be 1 B..1 MiB, got " + std::to_string(opts.size));
  if (!opts.remote.empty() && opts.transport != Transport::kTcp)
    return Status::error("--peer needs --transport tcp");
  if (opts.role == Role::kServer) {
    if (opts.transport == Transport::kFile)
      return Status::error("--role server: the file transport has no peer to send requests");
    if (!opts.remote.empty())
      return Status::error(
          "--role server needs the local peer (no --peer): it is the load generator");
    if (!(opts.offered_per_s > 0) || opts.offered_per_s > 1e8)
      return Status::error(
          "--role server needs an offered load (--offered) of 1..100000000 "
          "requests/s");
    if (opts.latency.bound_ns() != 0)
      return Status::error("--latency: in the server role the model answers, with no think time");
  }
  if (opts.model_listens &&
      (opts.role != Role::kServer || opts.transport != Transport::kTcp || !opts.connect))
    return Status::error(
        "a model that listens itself needs the server role on tcp with the local peer");
  if (opts.transport != Transport::kFile && (opts.direct || !opts.file_path.empty()))
    return Status::error("--file and --direct need --transport file");
  if (opts.transport == Transport::kFile) {
    if (opts.latency.bound_ns() != 0)
      return Status::error(
          "--latency: the file transport has no peer to add think time; the device's own time "
          "is what is measured");
    if (opts.file_bytes < kFileAlign || opts.file_bytes % kFileAlign != 0)
      return Status::error("--file-size must be a multiple of 4 KiB, got " +
                           std::to_string(opts.file_bytes) + " bytes");
    if (opts.size > opts.file_bytes)
      return Status::error("--size " + std::to_string(opts.size) +
                           " is larger than the data file (--file-size " +
                           std::to_string(opts.file_bytes) + ")");
    if (opts.direct && opts.size % kFileAlign != 0)
      return Status::error(
          "--direct needs --size to be a multiple of 4 KiB (O_DIRECT reads whole "
          "blocks), got " +
          std::to_string(opts.size));
  }
  // The peer can die (kill_peer, the watchdog, a crash): a request written to
  // its pipe or socket must then fail with EPIPE for the model to report, not
  // raise SIGPIPE and kill the whole process.
  ::signal(SIGPIPE, SIG_IGN);
  const uint64_t limit = raise_fd_limit();
  const uint64_t need = fds_needed(opts.transport, opts.connections);
  if (need > limit) {
    // Known before anything starts, and the option decides it: bad input.
    return Status::invalid("--connections: " + std::to_string(opts.connections) + " on " +
                           std::string(transport_name(opts.transport)) + " needs about " +
                           std::to_string(need) + " open files, but RLIMIT_NOFILE allows " +
                           std::to_string(limit) +
                           " (already raised to the hard limit; as root, ulimit -Hn raises it)");
  }
  std::unique_ptr<Workload> w(new Workload);
  w->opts_ = opts;
  Status s = opts.transport == Transport::kFile ? w->start_file()
             : opts.remote.empty()              ? w->start_local()
                                                : w->start_remote();
  if (!s.ok()) return s;
  *out = std::move(w);
  return {};
}

Status Workload::start_local() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return Status::from_errno(-errno, "socketpair(control)");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return Status::from_errno(-e, "fork(peer)");
  }
  if (pid == 0) {
    // The peer dies with us, and keeps only its control socket: every other
    // descriptor (earlier connections, result files) belongs to the parent.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    ::signal(SIGINT, SIG_IGN);  // Ctrl-C stops the parent, which then kills us
    // Placed away from the model's CPUs; the CPUs were checked by the caller,
    // so a refusal here is reported and the peer stops.
    if (!opts_.peer_cpus.empty()) {
      if (Status st = sys::set_affinity(opts_.peer_cpus); !st.ok()) {
        const std::string line = "iomodels peer: " + st.message() + "\n";
        [[maybe_unused]] auto w = ::write(2, line.data(), line.size());
        ::_exit(1);
      }
    }
    if (sv[1] != 3) {
      ::dup2(sv[1], 3);
    }
    ::close_range(4, ~0U, 0);
    detail::serve_forked_peer(3, opts_);
  }
  ::close(sv[1]);
  peer_pid_ = pid;
  control_.reset(sv[0]);

  const uint32_t n = opts_.connections;
  conns_.reserve(n);
  owned_.reserve(opts_.transport == Transport::kPipe ? 2 * n : n);
  if (opts_.transport == Transport::kTcp) {
    // The model's listeners come later; so do the generator's connections
    // (connect_generator_to).
    if (opts_.model_listens) return {};
    Fd lfd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!lfd) return Status::from_errno(-errno, "socket(tcp listen)");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (::bind(lfd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        ::listen(lfd.get(), 4096) < 0 ||
        ::getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&a), &alen) < 0)
      return Status::from_errno(-errno, "listening on 127.0.0.1");
    char host[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    tcp_address_ = std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
    if (opts_.role == Role::kServer && !opts_.connect) {
      // The program's listener; the generator connects once it runs.
      program_listener_ = std::move(lfd);
      return {};
    }
    const int l = lfd.get();
    if (Status s = detail::send_setup(control_.get(), SetupKind::kListen, &l, 1); !s.ok()) return s;
    lfd.reset();
    if (Status s = detail::send_setup(control_.get(), SetupKind::kGo, nullptr, 0); !s.ok())
      return s;
    if (!opts_.connect) return {};
    for (uint32_t i = 0; i < n; ++i) {
      Fd c;
      if (Status s = connect_tcp(host, ntohs(a.sin_port), &c); !s.ok()) return s;
      conns_.push_back(ClientConn{c.get(), c.get(), i});
      owned_.push_back(std::move(c));
    }
    return {};
  }

  // Socketpairs and pipes: made here in batches; the peer's ends are sent
  // over the control socket and closed here at once, so neither process ever
  // holds more than its own ends plus one batch.
  for (uint32_t first = 0; first < n;) {
    std::vector<int> send;
    std::vector<Fd> theirs;
    const uint32_t per =
        opts_.transport == Transport::kPipe ? detail::kFdsPerMessage / 2 : detail::kFdsPerMessage;
    const uint32_t last = std::min(n, first + per);
    for (uint32_t i = first; i < last; ++i) {
      if (opts_.transport == Transport::kSocketpair) {
        int p[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
          return Status::from_errno(-errno, "socketpair");
        owned_.emplace_back(p[0]);
        theirs.emplace_back(p[1]);
        send.push_back(p[1]);
        conns_.push_back(ClientConn{p[0], p[0], i});
      } else {
        int req[2], resp[2];
        if (::pipe2(req, O_CLOEXEC) < 0) return Status::from_errno(-errno, "pipe2");
        owned_.emplace_back(req[1]);
        theirs.emplace_back(req[0]);
        if (::pipe2(resp, O_CLOEXEC) < 0) return Status::from_errno(-errno, "pipe2");
        owned_.emplace_back(resp[0]);
        theirs.emplace_back(resp[1]);
        send.push_back(req[0]);
        send.push_back(resp[1]);
        conns_.push_back(ClientConn{resp[0], req[1], i});
      }
    }
    const SetupKind kind =
        opts_.transport == Transport::kPipe ? SetupKind::kPipes : SetupKind::kSockets;
    if (Status s =
            detail::send_setup(control_.get(), kind, send.data(), static_cast<int>(send.size()));
        !s.ok())
      return s;
    first = last;
  }
  return detail::send_setup(control_.get(), SetupKind::kGo, nullptr, 0);
}

Status Workload::connect_generator() {
  if (!program_listener_) return Status::error("connect_generator: no program listener");
  const size_t colon = tcp_address_.rfind(':');
  const std::string host = tcp_address_.substr(0, colon);
  const auto port = static_cast<uint16_t>(std::stoi(tcp_address_.substr(colon + 1)));
  return connect_generator_at(host, port);
}

Status Workload::connect_generator_to(uint16_t port) {
  if (!opts_.model_listens)
    return Status::error("connect_generator_to: the workload was not made for a model's listeners");
  if (!generator_addrs_.empty()) return Status::error("connect_generator_to: already connected");
  return connect_generator_at("127.0.0.1", port);
}

bool Workload::generator_conn(const sockaddr_in& peer, uint32_t* index) const {
  if (peer.sin_family != AF_INET) return false;
  const uint64_t key = (uint64_t{ntohl(peer.sin_addr.s_addr)} << 16) | ntohs(peer.sin_port);
  const auto it =
      std::lower_bound(generator_addrs_.begin(), generator_addrs_.end(), std::make_pair(key, 0u));
  if (it == generator_addrs_.end() || it->first != key) return false;
  *index = it->second;
  return true;
}

Status Workload::connect_generator_at(const std::string& host, uint16_t port) {
  generator_addrs_.clear();
  generator_addrs_.reserve(opts_.connections);
  // In index order, a batch at a time: the connections complete in the
  // listener's backlog whether or not the program has accepted them yet.
  for (uint32_t first = 0; first < opts_.connections;) {
    const uint32_t last = std::min(opts_.connections, first + detail::kFdsPerMessage);
    std::vector<Fd> batch;
    std::vector<int> send;
    for (uint32_t i = first; i < last; ++i) {
      Fd c;
      if (Status s = connect_tcp(host, port, &c); !s.ok()) return s;
      // The accepting side sees this as its peer's address: the connection's
      // identity, whichever listener the kernel gave it to.
      sockaddr_in own{};
      socklen_t len = sizeof own;
      if (::getsockname(c.get(), reinterpret_cast<sockaddr*>(&own), &len) < 0)
        return Status::from_errno(-errno, "getsockname(generator connection)");
      if (own.sin_family == AF_INET)
        generator_addrs_.emplace_back(
            (uint64_t{ntohl(own.sin_addr.s_addr)} << 16) | ntohs(own.sin_port), i);
      send.push_back(c.get());
      batch.push_back(std::move(c));
    }
    if (Status s = detail::send_setup(control_.get(), SetupKind::kSockets, send.data(),
                                      static_cast<int>(send.size()));
        !s.ok())
      return s;
    first = last;
  }
  std::sort(generator_addrs_.begin(), generator_addrs_.end());
  return detail::send_setup(control_.get(), SetupKind::kGo, nullptr, 0);
}

Status Workload::connect_tcp(const std::string& host, uint16_t port, Fd* out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string p = std::to_string(port);
  if (int e = ::getaddrinfo(host.c_str(), p.c_str(), &hints, &res); e != 0)
    return Status::error("cannot resolve '" + host + "': " + ::gai_strerror(e));
  Status last = Status::error("no address for '" + host + "'");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last = Status::from_errno(-errno, "socket");
      continue;
    }
    int r;
    do {
      r = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      last = Status::from_errno(-errno, "connecting to " + host + ":" + p);
      continue;
    }
    if (Status s = set_nodelay(fd.get()); !s.ok()) {
      last = s;
      continue;
    }
    *out = std::move(fd);
    ::freeaddrinfo(res);
    return {};
  }
  ::freeaddrinfo(res);
  return last;
}

Status Workload::peer_stats(PeerStats* out, bool reset) {
  if (opts_.transport == Transport::kFile) {
    *out = PeerStats{};
    out->none = true;
    return {};
  }
  const auto cmd =
      static_cast<uint64_t>(reset ? ControlCommand::kStatsAndReset : ControlCommand::kStats);
  if (!opts_.remote.empty()) return remote_stats(cmd, out);
  detail::PeerStatsWire w{};
  if (Status s = detail::control_exchange(control_.get(), cmd, &w); !s.ok()) return s;
  *out = detail::stats_from_wire(w);
  if (opts_.role == Role::kServer) {
    auto g = std::make_unique<detail::GeneratorStatsWire>();
    if (Status s = read_second_answer(control_.get(), detail::kGeneratorMagic, g.get(),
                                      "the load generator's statistics");
        !s.ok())
      return s;
    auto gs = std::make_shared<GeneratorStats>();
    gs->sent = g->sent;
    gs->responses = g->responses;
    gs->bad_bytes = g->bad_bytes;
    gs->closed = g->closed;
    gs->send_late_p99_ns = g->send_late_p99_ns;
    gs->send_late_max_ns = g->send_late_max_ns;
    gs->behind = g->behind;
    gs->sched_span_ns = g->sched_span_ns;
    gs->corrected.load(g->corrected);
    gs->uncorrected.load(g->uncorrected);
    gs->offered_per_s = opts_.offered_per_s;
    gs->arrivals = opts_.arrivals;
    out->generator = std::move(gs);
  }
  if (opts_.exec_requests != 0) {
    auto x = std::make_unique<detail::ExecStatsWire>();
    if (Status s = read_second_answer(control_.get(), detail::kExecMagic, x.get(),
                                      "the peer's checks of the program");
        !s.ok())
      return s;
    auto es = std::make_shared<ExecPeerStats>();
    es->first_request_ns = x->first_request_ns;
    es->last_response_ns = x->last_response_ns;
    es->complete_conns = x->complete_conns;
    es->early = x->early;
    es->wrong_conn = x->wrong_conn;
    es->wrong_size = x->wrong_size;
    es->wrong_id = x->wrong_id;
    es->extra = x->extra;
    es->refused_conns = x->refused_conns;
    es->turnaround.load(x->turnaround);
    out->exec = std::move(es);
  }
  return {};
}

void Workload::kill_peer() {
  if (peer_pid_ > 0) ::kill(peer_pid_, SIGKILL);
}

struct Workload::Watchdog {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool armed = false;
  uint64_t timeout_ns = 0;
  uint64_t armed_at_ns = 0;  // no-progress time counts from here at the earliest
  std::thread thread;
};

Status Workload::arm_watchdog(uint64_t timeout_ns) {
  if (!watchdog_) {
    // Thread creation can fail (RLIMIT_NPROC, RLIMIT_AS): an error to report,
    // and no half-made watchdog for the destructor to join.
    try {
      auto w = std::make_unique<Watchdog>();
      Watchdog* wd = w.get();
      w->thread = std::thread([this, wd] { watchdog_loop(wd); });
      watchdog_ = std::move(w);
    } catch (const std::exception& e) {
      return Status::error(std::string("starting the watchdog thread: ") + e.what() +
                           " (a thread or memory limit: see ulimit -u and ulimit -v)");
    }
  }
  std::lock_guard lock(watchdog_->mu);
  watchdog_->armed = true;
  watchdog_->timeout_ns = timeout_ns;
  // No notify: waking the watchdog thread on every arm would add a futex wake
  // and two context switches to each timed call (bench arms once per round).
  // armed_at_ns keeps it from counting idle time before the arm instead.
  watchdog_->armed_at_ns = now_ns();
  return {};
}

void Workload::disarm_watchdog() {
  if (!watchdog_) return;
  std::lock_guard lock(watchdog_->mu);
  watchdog_->armed = false;
}

void Workload::watchdog_loop(Watchdog* wd) {
  // Checks four times a second: cheap, and a hang is caught within 250 ms of
  // its timeout.
  std::unique_lock lock(wd->mu);
  uint64_t seen = progress_.load(std::memory_order_relaxed);
  uint64_t since = now_ns();
  while (!wd->stop) {
    wd->cv.wait_for(lock, std::chrono::milliseconds(250));
    const uint64_t p = progress_.load(std::memory_order_relaxed);
    const uint64_t now = now_ns();
    if (!wd->armed || p != seen) {
      seen = p;
      since = now;
      continue;
    }
    if (now - std::max(since, wd->armed_at_ns) >= wd->timeout_ns && !watchdog_fired_.load()) {
      watchdog_fired_ = true;
      kill_peer();
    }
  }
}

Workload::~Workload() {
  if (watchdog_) {
    {
      std::lock_guard lock(watchdog_->mu);
      watchdog_->stop = true;
      watchdog_->cv.notify_one();
    }
    if (watchdog_->thread.joinable()) watchdog_->thread.join();
  }
  owned_.clear();
  control_.reset();
  if (peer_pid_ > 0) {
    ::kill(peer_pid_, SIGKILL);
    int st;
    while (::waitpid(peer_pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace iomodels
