// Description: calibrate's sockperf driver: sockperf's server and ping-pong
// client on TCP loopback, their command lines, and the client's output read
// into a Sample.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calibrate/process.h"
#include "calibrate/sample.h"
#include "sys/status.h"

namespace iomodels::calibrate {

// How sockperf waits. With one connection it blocks in recvfrom() on both
// sides; with a connection list (-f) and -F e it waits in epoll_wait() and
// then reads, on both sides: the same calls as iomodels' epoll and its peer.
enum class SockperfWait { kRecv, kEpoll };

// Where sockperf finds its connection: "-i 127.0.0.1 -p PORT", or for the
// epoll mode "-f FILE -F e" with FILE a memory file this process passes on
// (inherited, so /dev/fd/N names it in the child too).
std::vector<std::string> sockperf_target(SockperfWait wait, uint16_t port, int list_fd);

// The server ("sr") on `port` (or the list in `list_fd`), `exe` first.
std::vector<std::string> sockperf_server_argv(const std::string& exe, SockperfWait wait,
                                              uint16_t port, int list_fd);
// The ping-pong client ("pp") for `seconds`, `msg_bytes` each way, every
// round trip measured (--full-rtt).
std::vector<std::string> sockperf_client_argv(const std::string& exe, SockperfWait wait,
                                              uint16_t port, int list_fd, uint64_t seconds,
                                              uint32_t msg_bytes);

// The pair of commands as the JSON reports them (PORT and LIST for the
// values each run picks).
std::string sockperf_command(const std::string& exe, SockperfWait wait, uint64_t seconds,
                             uint32_t msg_bytes);

// The number `pattern`'s first group matches in sockperf's output, e.g.
// "percentile 50.000 =  17.192"; false if it matches nothing.
bool sockperf_number(const std::string& text, const std::string& pattern, double* out);

// Reads the output of a client run that exited 0 (`r`: its text on stdout
// and stderr, its wait4 CPU) into *out.
Status sockperf_sample(const ToolRun& r, Sample* out);

// Starts a server, runs the client against it for `seconds` and stops the
// server; the client's figures in *out.
Status run_sockperf(const std::string& exe, SockperfWait wait, uint32_t msg_bytes, uint64_t seconds,
                    Sample* out);

}  // namespace iomodels::calibrate
