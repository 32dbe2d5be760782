// Description: the environment a result carries, and the io_uring probe.
#include "iomodels/env.h"

#include <liburing.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "iomodels/status.h"

#ifndef IOMODELS_VERSION
#define IOMODELS_VERSION "0.0.0"
#endif

namespace iomodels {
namespace {

// Linux 6.7's opcode number; liburing 2.3 predates it.
constexpr uint8_t kOpReadMultishot = 49;

// Tries one ring with `flags`; 0 or -errno.
int try_ring(unsigned flags) {
  io_uring ring;
  io_uring_params p{};
  p.flags = flags;
  const int r = io_uring_queue_init_params(4, &ring, &p);
  if (r < 0) return r;
  io_uring_queue_exit(&ring);
  return 0;
}

UringProbe probe() {
  UringProbe u;
  io_uring ring;
  io_uring_params p{};
  const int r = io_uring_queue_init_params(4, &ring, &p);
  if (r < 0) {
    u.reason = "io_uring_setup: " + errno_text(r);
    if (r == -EPERM)
      u.reason += " (disabled by sysctl kernel.io_uring_disabled or a seccomp filter)";
    else if (r == -ENOSYS)
      u.reason += " (this kernel has no io_uring)";
    else if (r == -ENOMEM)
      u.reason += " (RLIMIT_MEMLOCK too low for the ring)";
    return u;
  }
  u.available = true;
  u.features = p.features;
  if (io_uring_probe* pr = io_uring_get_probe_ring(&ring)) {
    u.read_multishot = io_uring_opcode_supported(pr, kOpReadMultishot) != 0;
    u.recv_multishot = io_uring_opcode_supported(pr, IORING_OP_PROVIDE_BUFFERS) != 0 &&
                       io_uring_opcode_supported(pr, IORING_OP_RECV) != 0;
    io_uring_free_probe(pr);
  }
  io_uring_queue_exit(&ring);
  u.single_issuer = try_ring(IORING_SETUP_SINGLE_ISSUER) == 0;
  u.defer_taskrun = try_ring(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) == 0;
  u.coop_taskrun = try_ring(IORING_SETUP_COOP_TASKRUN) == 0;
  return u;
}

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t c = line.find(':');
      return c == std::string::npos ? line : line.substr(c + 2);
    }
  }
  return "unknown";
}

// "Mitigation: PTI; ..." summarised as "meltdown=Mitigation: PTI, ...".
std::string mitigations() {
  std::string out;
  std::error_code ec;
  std::map<std::string, std::string> items;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/devices/system/cpu/vulnerabilities", ec)) {
    items[e.path().filename().string()] = first_line(e.path().string());
  }
  for (const auto& [k, v] : items) {
    if (v.rfind("Not affected", 0) == 0) continue;
    if (!out.empty()) out += "; ";
    out += k + "=" + v;
  }
  return out.empty() ? "none reported" : out;
}

}  // namespace

std::string UringProbe::describe() const {
  if (!available) return "no: " + reason;
  std::string s = "yes (";
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (s.back() != '(') s += ", ";
    s += name;
  };
  add(single_issuer, "single_issuer");
  add(defer_taskrun, "defer_taskrun");
  add(coop_taskrun, "coop_taskrun");
  add(recv_multishot, "recv_multishot");
  add(read_multishot, "read_multishot");
  add((features & IORING_FEAT_NODROP) != 0, "nodrop");
  add((features & IORING_FEAT_EXT_ARG) != 0, "ext_arg");
  return s + ")";
}

const UringProbe& uring_probe() {
  static const UringProbe u = probe();
  return u;
}

const Environment& environment() {
  static const Environment e = [] {
    Environment v;
    utsname u{};
    ::uname(&u);
    v.kernel = u.release;
    v.machine = u.machine;
    v.hostname = u.nodename;
    v.cpu_model = cpu_model();
    v.cores = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
    v.mitigations = mitigations();
    v.version = IOMODELS_VERSION;
    return v;
  }();
  return e;
}

const char* iomodels_version() { return IOMODELS_VERSION; }

}  // namespace iomodels
