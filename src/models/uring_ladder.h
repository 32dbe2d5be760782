// Description: the io_uring feature ladder: the steps `uring-ladder` can take
// on top of a plain io_uring proactor, one feature each, in the order
// `iomodels ladder` adds them; what each adds and saves, and where it cannot
// apply (the workload's transport or role, or this kernel).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "workload/workload.h"

namespace iomodels {

// Bit k of RunOptions::ladder_steps is step k. SQPOLL replaces the task-run
// steps (its kernel thread issues the requests); DEFER_TASKRUN replaces COOP.
enum class LadderStep : uint8_t {
  kBatchWait,     // one enter waits for a batch of completions, bounded (MIN_TIMEOUT)
  kRingFd,        // the ring's fd registered: enters name a slot
  kFixedFiles,    // the connections' fds registered: SQEs name a slot
  kMultishot,     // one multishot receive per connection into a provided-buffer ring
  kCoopTaskrun,   // COOP_TASKRUN | TASKRUN_FLAG
  kDeferTaskrun,  // SINGLE_ISSUER | DEFER_TASKRUN
  kBundle,        // a receive fills several provided buffers (RECVSEND_BUNDLE)
  kSendZc,        // large responses sent zero-copy (SEND_ZC), server role on tcp
  kSqpoll,        // a kernel thread takes the SQEs (SQPOLL)
  kCount,
};

struct LadderStepInfo {
  LadderStep step;
  std::string_view name;   // "batch-wait", as `ladder --steps` and the tables name it
  std::string_view adds;   // what the step turns on, in a few words
  std::string_view saves;  // what it saves per request, in a sentence
};

// Every step, in ladder order.
std::span<const LadderStepInfo> ladder_steps();
// The step named `name`, or nullptr.
const LadderStepInfo* find_ladder_step(std::string_view name);

inline constexpr uint32_t ladder_bit(LadderStep s) { return 1u << static_cast<unsigned>(s); }
inline constexpr uint32_t kLadderBase = 0;  // a plain proactor: no step

// Empty if `step` can apply to `w` on this kernel; otherwise why not (the
// ladder then skips it and compares the next step with the one before).
std::string ladder_step_skipped(LadderStep step, const WorkloadOptions& w);

// The steps of `mask` in force on `w` here: those that apply, less those a
// later one replaces (SQPOLL replaces both task-run steps, DEFER_TASKRUN COOP).
uint32_t ladder_in_force(uint32_t mask, const WorkloadOptions& w);

// The steps of `mask` in force on `w` here, in ladder order, as names
// ("batch-wait, ring-fd, ..."), or "none (a plain proactor)".
std::string ladder_steps_text(uint32_t mask, const WorkloadOptions& w);

}  // namespace iomodels
