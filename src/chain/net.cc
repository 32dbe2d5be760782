// Description: loopback TCP and NATS connection helpers for the chain.
#include "chain/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace iomodels::chain {

int tcp_listen(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 256) != 0) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

int tcp_connect(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 ||
      res == nullptr)
    return -EHOSTUNREACH;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return -errno;
  }
  int r;
  do r = ::connect(fd, res->ai_addr, res->ai_addrlen);
  while (r != 0 && errno == EINTR);
  const int e = errno;
  ::freeaddrinfo(res);
  if (r != 0) {
    ::close(fd);
    return -e;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int free_port() {
  const int fd = tcp_listen(0);
  if (fd < 0) return fd;
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

void set_io_timeout(int fd, uint64_t ns) {
  timeval tv{static_cast<time_t>(ns / 1'000'000'000ull),
             static_cast<suseconds_t>(ns % 1'000'000'000ull / 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int read_full(int fd, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (r == 0) return -ECONNRESET;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return 0;
}

int write_full(int fd, const void* buf, size_t n) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    const ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return 0;
}

bool parse_nats_url(const std::string& url, std::string* host, int* port) {
  std::string rest = url;
  if (rest.rfind("nats://", 0) == 0) rest = rest.substr(7);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= rest.size()) return false;
  *host = rest.substr(0, colon);
  const std::string p = rest.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  *port = std::stoi(p);
  return *port > 0 && *port < 65536;
}

std::string nats_server_version(const std::string& url, uint64_t timeout_ns) {
  std::string host;
  int port = 0;
  if (!parse_nats_url(url, &host, &port)) return "";
  const int fd = tcp_connect(host, port);
  if (fd < 0) return "";
  set_io_timeout(fd, timeout_ns);
  // The server speaks first: "INFO {...,"version":"2.9.10",...}\r\n".
  std::string info;
  char buf[1024];
  while (info.find("\r\n") == std::string::npos && info.size() < 16384) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) break;
    info.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  const std::string key = "\"version\":\"";
  const size_t at = info.find(key);
  if (info.rfind("INFO ", 0) != 0 || at == std::string::npos) return "";
  const size_t end = info.find('"', at + key.size());
  return end == std::string::npos ? "" : info.substr(at + key.size(), end - at - key.size());
}

Nats::~Nats() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
}

natsStatus Nats::connect(const std::string& url, uint64_t timeout_ns, std::string* why) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, static_cast<int64_t>(timeout_ns / 1'000'000));
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, false);
  if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
  if (opts != nullptr) natsOptions_Destroy(opts);
  if (s == NATS_OK) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = static_cast<int64_t>(timeout_ns / 1'000'000);
    s = natsConnection_JetStream(&js_, nc_, &jo);
  }
  if (s != NATS_OK && why != nullptr)
    *why = "cannot connect to the broker at " + url + ": " + nats_error(s);
  return s;
}

std::string nats_error(natsStatus s, jsErrCode e) {
  std::string t = natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && t != last) t += " (" + std::string(last) + ")";
  if (e != 0) t += " [JetStream error " + std::to_string(static_cast<int>(e)) + "]";
  return t;
}

}  // namespace iomodels::chain
