// Description: the faults `iomodels chain` injects into B or C, as given to
// --fault: stall:C:2s@3s (SIGSTOP at 3 s, SIGCONT 2 s later),
// crash:C@3s+2s (SIGKILL at 3 s, restarted 2 s later), slow:C:10x@3s+2s
// (its work ×10 for 2 s).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chain/shared.h"

namespace iomodels::chain {

enum class FaultKind { kStall, kCrash, kSlow };

struct Fault {
  FaultKind kind = FaultKind::kStall;
  Role role = Role::kC;
  uint64_t at_ns = 0;   // from the start of the load
  uint64_t for_ns = 0;  // how long it lasts
  uint64_t factor = 1;  // slow: the work's multiplier
  std::string text;     // as given
};

const char* fault_kind_name(FaultKind k);

// Parses one --fault value; throws frontend::UsageError naming --fault and
// showing the expected forms.
Fault parse_fault(const std::string& text);

}  // namespace iomodels::chain
