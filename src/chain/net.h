// Description: the few socket and NATS calls the chain's processes share:
// loopback TCP (listen, connect, whole reads and writes, a receive timeout),
// a free port, and a JetStream connection owner.
#pragma once

#include <nats/nats.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace iomodels::chain {

// A listening TCP socket on 127.0.0.1:port (SO_REUSEADDR, so a restarted C
// binds the same port at once); -errno on failure.
int tcp_listen(int port);
// A connected TCP socket to 127.0.0.1:port, TCP_NODELAY; -errno on failure.
int tcp_connect(const std::string& host, int port);
// A port the kernel had free a moment ago on 127.0.0.1.
int free_port();
// SO_RCVTIMEO and SO_SNDTIMEO: a blocked read or write gives up with -EAGAIN.
void set_io_timeout(int fd, uint64_t ns);
// All n bytes, EINTR retried: 0, or -errno (-ECONNRESET at end of stream).
int read_full(int fd, void* buf, size_t n);
int write_full(int fd, const void* buf, size_t n);

// host and port of "nats://HOST:PORT" (or "HOST:PORT"); false if malformed.
bool parse_nats_url(const std::string& url, std::string* host, int* port);
// The version a NATS server announces in its INFO line, or "" if it cannot
// be reached within `timeout_ns`.
std::string nats_server_version(const std::string& url, uint64_t timeout_ns);

// A NATS connection and its JetStream context.
class Nats {
 public:
  Nats() = default;
  ~Nats();
  Nats(const Nats&) = delete;
  Nats& operator=(const Nats&) = delete;
  // NATS_OK or the status; *why says what failed. No reconnection: a broker
  // that goes away is an error the run reports.
  natsStatus connect(const std::string& url, uint64_t timeout_ns, std::string* why);
  natsConnection* conn() { return nc_; }
  jsCtx* js() { return js_; }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

std::string nats_error(natsStatus s, jsErrCode e = static_cast<jsErrCode>(0));

}  // namespace iomodels::chain
