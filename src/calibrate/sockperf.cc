// Description: calibrate's sockperf driver: a server on a free loopback port,
// the ping-pong client against it, and the client's summary read into ops/s,
// latency percentiles and CPU per message.
#include "calibrate/sockperf.h"

#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "measure/recorder.h"
#include "sys/fd.h"

namespace iomodels::calibrate {
namespace {

// sockperf's own warm-up and tear-down add about 2.5 s to every run here.
constexpr uint64_t kSockperfOverheadNs = 10'000'000'000ull;

// A free TCP port on 127.0.0.1 (bound, read, released). Another process may
// take it before sockperf does; the caller retries then.
uint16_t free_port() {
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0)
    return 0;
  return ntohs(a.sin_port);
}

// Whether something listens on 127.0.0.1:port (from /proc/net/tcp, so the
// check itself opens no connection to the server).
bool listening(uint16_t port) {
  std::ifstream f("/proc/net/tcp");
  char want[32];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string sl, local, remote, state;
    in >> sl >> local >> remote >> state;
    if (local == want && state == "0A") return true;
  }
  return false;
}

}  // namespace

bool sockperf_number(const std::string& text, const std::string& pattern, double* out) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return false;
  *out = std::stod(m[1].str());
  return true;
}

std::vector<std::string> sockperf_target(SockperfWait wait, uint16_t port, int list_fd) {
  if (wait == SockperfWait::kRecv) return {"--tcp", "-i", "127.0.0.1", "-p", std::to_string(port)};
  return {"-f", "/dev/fd/" + std::to_string(list_fd), "-F", "e"};
}

std::vector<std::string> sockperf_server_argv(const std::string& exe, SockperfWait wait,
                                              uint16_t port, int list_fd) {
  std::vector<std::string> argv = {exe, "sr"};
  for (std::string& a : sockperf_target(wait, port, list_fd)) argv.push_back(std::move(a));
  return argv;
}

std::vector<std::string> sockperf_client_argv(const std::string& exe, SockperfWait wait,
                                              uint16_t port, int list_fd, uint64_t seconds,
                                              uint32_t msg_bytes) {
  std::vector<std::string> argv = {exe, "pp"};
  for (std::string& a : sockperf_target(wait, port, list_fd)) argv.push_back(std::move(a));
  for (const std::string& a : {std::string("-t"), std::to_string(seconds), std::string("-m"),
                               std::to_string(msg_bytes), std::string("--full-rtt")})
    argv.push_back(a);
  return argv;
}

std::string sockperf_command(const std::string& exe, SockperfWait wait, uint64_t seconds,
                             uint32_t msg_bytes) {
  const std::string target = wait == SockperfWait::kRecv ? "--tcp -i 127.0.0.1 -p PORT"
                                                         : "-f LIST -F e (LIST: T:127.0.0.1:PORT)";
  return exe + " sr " + target + " & " + exe + " pp " + target + " -t " + std::to_string(seconds) +
         " -m " + std::to_string(msg_bytes) + " --full-rtt";
}

Status run_sockperf(const std::string& exe, SockperfWait wait, uint32_t msg_bytes, uint64_t seconds,
                    Sample* out) {
  ToolRun server;
  uint16_t port = 0;
  pid_t spid = -1;
  Fd sout(::memfd_create("sockperf-server", MFD_CLOEXEC));
  if (!sout) return Status::from_errno(-errno, "memfd_create");
  // Not close-on-exec: sockperf opens it as /dev/fd/N (epoll mode only).
  Fd list(wait == SockperfWait::kEpoll ? ::memfd_create("sockperf-conns", 0) : -1);
  if (wait == SockperfWait::kEpoll && !list) return Status::from_errno(-errno, "memfd_create");
  // A port someone else took in between is retried with another.
  for (int attempt = 0; attempt < 3 && spid < 0; ++attempt) {
    port = free_port();
    if (port == 0) return Status::error("no free TCP port on 127.0.0.1");
    if (list) {
      const std::string line = "T:127.0.0.1:" + std::to_string(port) + "\n";
      if (::ftruncate(list.get(), 0) != 0 ||
          ::pwrite(list.get(), line.data(), line.size(), 0) != static_cast<ssize_t>(line.size()))
        return Status::from_errno(-errno, "writing sockperf's connection list");
    }
    const pid_t pid =
        spawn(sockperf_server_argv(exe, wait, port, list.get()), sout.get(), sout.get());
    if (pid < 0) return Status::from_errno(pid, "fork");
    const uint64_t deadline = now_ns() + 5'000'000'000ull;
    bool up = false, died = false;
    while (!up && !died && now_ns() < deadline) {
      up = listening(port);
      int st;
      if (!up && ::waitpid(pid, &st, WNOHANG) == pid) {
        forget_child(pid);
        died = true;
      }
      if (!up && !died) {
        const timespec ms{0, 2'000'000};
        ::nanosleep(&ms, nullptr);
      }
    }
    if (up) {
      spid = pid;
    } else if (!died) {
      ::kill(-pid, SIGKILL);
      reap(pid, now_ns(), &server);
      return Status::error("sockperf server did not listen on 127.0.0.1:" + std::to_string(port) +
                           " within 5 s");
    }
  }
  if (spid < 0)
    return Status::error("sockperf server failed to start: " + first_line(read_memfd(sout.get())));

  const std::vector<std::string> argv =
      sockperf_client_argv(exe, wait, port, list.get(), seconds, msg_bytes);
  const ToolRun r = run_tool(argv, seconds * 1'000'000'000ull + kSockperfOverheadNs + kToolGraceNs);
  ::kill(-spid, SIGTERM);
  reap(spid, now_ns() + 5'000'000'000ull, &server);
  if (r.exit_code != 0 || r.timed_out) return Status::error(tool_failure("sockperf", r));
  return sockperf_sample(r, out);
}

Status sockperf_sample(const ToolRun& r, Sample* out) {
  const std::string text = r.out + r.err;
  double valid_s = 0, valid_rx = 0, total_tx = 0, p50 = 0, p99 = 0;
  const std::string num = R"(([0-9]+(?:\.[0-9]+)?))";
  if (!sockperf_number(text, R"(\[Valid Duration\] RunTime=)" + num, &valid_s) ||
      !sockperf_number(text, R"(\[Valid Duration\].*ReceivedMessages=)" + num, &valid_rx) ||
      !sockperf_number(text, R"(\[Total Run\].*SentMessages=)" + num, &total_tx) ||
      !sockperf_number(text, R"(percentile 50\.000 =\s*)" + num, &p50) ||
      !sockperf_number(text, R"(percentile 99\.000 =\s*)" + num, &p99) || valid_s <= 0 ||
      total_tx <= 0)
    return Status::error("sockperf printed no result: " + first_line(text));
  out->ops = static_cast<uint64_t>(valid_rx);
  out->wall_s = valid_s;
  out->ops_per_s = valid_rx / valid_s;
  out->p50_us = p50;
  out->p99_us = p99;
  // The client's rusage over its life, per message it sent in that life.
  out->cpu_us_per_op = (r.user_s + r.sys_s) * 1e6 / total_tx;
  out->extra = {
      {"cpu_user_us_per_op", r.user_s * 1e6 / total_tx},
      {"cpu_sys_us_per_op", r.sys_s * 1e6 / total_tx},
      {"cpu_source", "wait4 rusage of the sockperf client over its whole life / its SentMessages"},
      {"messages_sent", total_tx}};
  return {};
}

}  // namespace iomodels::calibrate
