// Description: the environment a result carries, and the io_uring probe.
#include "measure/env.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "sys/status.h"

#ifndef IOMODELS_VERSION
#define IOMODELS_VERSION "0.0.0"
#endif

namespace iomodels {
namespace {

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

double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return f ? l : -1;
}

bool machine_busy(double load, int cpus) { return cpus > 0 && load > kBusyLoadPerCpu * cpus; }

double machine_busy_cpu_s() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  if (!(in >> cpu >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu")
    return -1;
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(user + nice + sys + irq + softirq + steal) / hz;
}

double process_tree_cpu_s() {
  double s = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    struct rusage u {};
    ::getrusage(who, &u);
    s += static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }
  return s;
}

}  // namespace iomodels
