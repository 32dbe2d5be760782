// Description: CPU placement: which CPUs a thread or process may run on
// (sched_setaffinity / sched_getaffinity), and CPU lists as text ("0-1,3").
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "sys/status.h"

namespace iomodels::sys {

using CpuList = std::vector<int>;  // ascending, no duplicates

// The CPUs thread or process `tid` may run on (0 = the calling thread).
CpuList affinity(pid_t tid = 0);
// Restricts `tid` (0 = the calling thread) to `cpus`; threads it creates
// afterwards inherit the restriction, a forked child too.
Status set_affinity(const CpuList& cpus, pid_t tid = 0);

// "0-1,3" for {0, 1, 3}; "any" for an empty list (no placement).
std::string cpu_list_text(const CpuList& cpus);
// Parses "0-1,3" (ranges and single CPUs, ascending or not); false with a
// one-line reason for anything else, a CPU above 1023 or an empty list.
bool parse_cpu_list(std::string_view text, CpuList* out, std::string* why);

}  // namespace iomodels::sys
