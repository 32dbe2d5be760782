// Description: a test's client of a standalone `iomodels peer`: starting one
// and reading its port from its log, raw connections, one request served,
// and the process's descriptors and CPU as the kernel counts them.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "peer/hello.h"
#include "peer/payload.h"
#include "sys/process.h"

namespace iomodels::test {

inline constexpr int kWaitMs = 10000;  // the peer's first line comes within this

// Reads the peer's first stderr line, "iomodels peer: listening on
// ADDR:PORT, ...", and returns PORT (0 if it never came within kWaitMs, or
// named another address).
inline uint16_t read_port(int fd, const std::string& addr = "127.0.0.1") {
  std::string line;
  char c;
  pollfd p{fd, POLLIN, 0};
  while (line.size() < 200) {
    const int r = ::poll(&p, 1, kWaitMs);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || ::read(fd, &c, 1) != 1 || c == '\n') break;
    line += c;
  }
  const std::string key = "listening on " + addr + ":";
  const size_t at = line.find(key);
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(line.substr(at + key.size())));
}

// Everything left on fd until EOF.
inline std::string read_rest(int fd) {
  std::string rest;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) rest.append(buf, static_cast<size_t>(n));
  return rest;
}

inline int count_fds(pid_t pid) {
  int n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

// user + system CPU of a process so far, in seconds.
inline double cpu_seconds(pid_t pid) {
  const long ns = sys::cpu_ns_of(pid);
  return ns > 0 ? static_cast<double>(ns) / 1e9 : 0;
}

inline int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads exactly n bytes from fd, each read within 2 s; false if they did not come.
inline bool read_exactly(int fd, uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return false;
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

// One request of 64 bytes on a fresh connection, answered within 2 s.
inline bool served(uint16_t port) {
  const int fd = connect_to(port);
  if (fd < 0) return false;
  const Request rq{0, 64, 1};
  uint8_t buf[64];
  const bool ok = ::send(fd, &rq, sizeof rq, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof rq) &&
                  read_exactly(fd, buf, sizeof buf);
  ::close(fd);
  return ok && verify_payload(0, 1, 0, buf, sizeof buf) == sizeof buf;
}

// Starts argv[0] (a path: no PATH search) in this process's group, dying
// with it (PR_SET_PDEATHSIG), its stderr on a pipe: its pid, and the pipe's
// read end in *err; -1 and -1 when it could not start.
inline pid_t spawn_with_stderr_pipe(const std::vector<std::string>& argv, int* err) {
  *err = -1;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  sys::SpawnOptions o;
  o.stderr_fd = p[1];
  o.search_path = false;
  o.own_group = false;
  sys::Child child;
  const pid_t pid = sys::spawn(argv, o, &child) == 0 ? child.pid() : -1;
  ::close(p[1]);
  if (pid < 0) {
    ::close(p[0]);
    return -1;
  }
  *err = p[0];
  return pid;
}

// `iomodels peer --listen 127.0.0.1:0` with extra arguments, its stderr
// (its log) on a pipe; SIGTERM and reaped when it goes out of scope.
struct StandalonePeer {
  pid_t pid = -1;
  int err = -1;
  uint16_t port = 0;
  explicit StandalonePeer(const std::vector<std::string>& extra,
                          const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> argv = {IOMODELS_BINARY, "peer", "--listen", listen};
    argv.insert(argv.end(), extra.begin(), extra.end());
    pid = spawn_with_stderr_pipe(argv, &err);
    if (pid > 0) port = read_port(err);
  }
  ~StandalonePeer() { stop(); }
  StandalonePeer(const StandalonePeer&) = delete;
  StandalonePeer& operator=(const StandalonePeer&) = delete;
  // SIGTERM, reaped; the rest of its log.
  std::string stop() {
    if (pid <= 0) return {};
    ::kill(pid, SIGTERM);
    std::string log = read_rest(err);
    ::waitpid(pid, nullptr, 0);
    ::close(err);
    pid = -1;
    return log;
  }
};

// Sends the hello with `token` (wire.h) on a fresh connection to `port`:
// the connection if the peer answered it rightly within 2 s, else -1.
inline int hello(uint16_t port, const std::string& token) {
  const int fd = connect_to(port);
  if (fd < 0) return -1;
  uint8_t msg[kRequestBytes + iomodels::kHelloTokenBytes]{};
  const Request rq{kHelloConn, iomodels::kHelloVersion, iomodels::kHelloMagic};
  std::memcpy(msg, &rq, sizeof rq);
  std::memcpy(msg + kRequestBytes, token.data(),
              std::min(token.size(), iomodels::kHelloTokenBytes));
  uint8_t ack[iomodels::kHelloAckBytes];
  const bool ok = ::send(fd, msg, sizeof msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof msg) &&
                  read_exactly(fd, ack, sizeof ack);
  if (!ok || verify_payload(kHelloConn, 0, 0, ack, sizeof ack) != sizeof ack) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the peer closes `fd` (EOF or reset) within `ms`.
inline bool closed_by_peer(int fd, int ms) {
  uint8_t buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0 && errno != EINTR) return true;
  }
}

}  // namespace iomodels::test
