// Description: CPU affinity through sched_{get,set}affinity, and CPU lists as text.
#include "sys/cpus.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace iomodels::sys {
namespace {

// cpu_set_t's fixed size: CPUs 0..1023.
constexpr int kMaxCpu = CPU_SETSIZE - 1;

}  // namespace

CpuList affinity(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CpuList cpus;
  if (::sched_getaffinity(tid, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c <= kMaxCpu; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

Status set_affinity(const CpuList& cpus, pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    if (c >= 0 && c <= kMaxCpu) CPU_SET(c, &set);
  if (::sched_setaffinity(tid, sizeof set, &set) != 0)
    return Status::from_errno(-errno, "sched_setaffinity(" + cpu_list_text(cpus) + ")");
  return {};
}

std::string cpu_list_text(const CpuList& cpus) {
  if (cpus.empty()) return "any";
  std::string s;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!s.empty()) s += ",";
    s += std::to_string(cpus[i]);
    if (j > i) s += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return s;
}

bool parse_cpu_list(std::string_view text, CpuList* out, std::string* why) {
  CpuList cpus;
  const auto number = [&](std::string_view t, int* v) {
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
    return ec == std::errc() && end == t.data() + t.size() && *v >= 0 && *v <= kMaxCpu;
  };
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t dash = item.find('-');
    int lo, hi;
    if (!number(item.substr(0, dash), &lo) ||
        !number(dash == std::string_view::npos ? item : item.substr(dash + 1), &hi) || hi < lo) {
      *why = "'" + std::string(item) + "' is not a CPU or a range A-B of CPUs 0.." +
             std::to_string(kMaxCpu);
      return false;
    }
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
    if (comma == std::string_view::npos) break;
    if (text.empty()) {
      *why = "a CPU list cannot end with ','";
      return false;
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  if (cpus.empty()) {
    *why = "an empty CPU list";
    return false;
  }
  *out = std::move(cpus);
  return true;
}

}  // namespace iomodels::sys
