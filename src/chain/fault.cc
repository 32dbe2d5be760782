// Description: parsing --fault values.
#include "chain/fault.h"

#include "frontend/frontend.h"

namespace iomodels::chain {

const char* fault_kind_name(FaultKind k) {
  return k == FaultKind::kStall ? "stall" : k == FaultKind::kCrash ? "crash" : "slow";
}

Fault parse_fault(const std::string& text) {
  const std::string forms =
      " (expected stall:C:2s@3s, crash:C@3s+2s or slow:C:10x@3s+2s; the service is B or C)";
  auto bad = [&](const std::string& why) {
    return frontend::UsageError("--fault: '" + text + "': " + why + forms);
  };
  Fault f;
  f.text = text;
  const size_t c1 = text.find(':');
  if (c1 == std::string::npos) throw bad("no kind");
  const std::string kind = text.substr(0, c1);
  if (kind == "stall")
    f.kind = FaultKind::kStall;
  else if (kind == "crash")
    f.kind = FaultKind::kCrash;
  else if (kind == "slow")
    f.kind = FaultKind::kSlow;
  else
    throw bad("unknown kind '" + kind + "'");
  std::string rest = text.substr(c1 + 1);
  if (rest.empty()) throw bad("no service");
  if (rest[0] == 'B' || rest[0] == 'b')
    f.role = Role::kB;
  else if (rest[0] == 'C' || rest[0] == 'c')
    f.role = Role::kC;
  else if (rest[0] == 'A' || rest[0] == 'a')
    throw bad("A is the front that measures; faults go to B or C");
  else
    throw bad("unknown service");
  rest = rest.substr(1);
  std::string arg;  // stall: duration; slow: factor
  if (f.kind != FaultKind::kCrash) {
    if (rest.empty() || rest[0] != ':')
      throw bad(f.kind == FaultKind::kStall ? "no duration" : "no factor");
    const size_t at = rest.find('@');
    if (at == std::string::npos) throw bad("no '@' start time");
    arg = rest.substr(1, at - 1);
    rest = rest.substr(at);
  }
  if (rest.empty() || rest[0] != '@') throw bad("no '@' start time");
  rest = rest.substr(1);
  std::string at_text = rest, for_text;
  if (f.kind != FaultKind::kStall) {
    const size_t plus = rest.find('+');
    if (plus == std::string::npos) throw bad("no '+' duration");
    at_text = rest.substr(0, plus);
    for_text = rest.substr(plus + 1);
  } else {
    for_text = arg;
  }
  try {
    f.at_ns = frontend::flag_duration("--fault", at_text);
    f.for_ns = frontend::flag_duration("--fault", for_text);
  } catch (const frontend::UsageError& e) {
    throw bad(e.what());
  }
  if (f.for_ns == 0) throw bad("a fault lasts longer than 0");
  if (f.kind == FaultKind::kSlow) {
    if (arg.size() < 2 || (arg.back() != 'x' && arg.back() != 'X'))
      throw bad("the factor is written like 10x");
    arg.pop_back();
    try {
      f.factor = frontend::flag_count("--fault", arg, 1, 10000);
    } catch (const frontend::UsageError& e) {
      throw bad(e.what());
    }
  }
  return f;
}

}  // namespace iomodels::chain
