// Description: the demo's story model: a story's steps, its measured
// timestamps and cost, the catalogue of stories, and the verdict derived from
// a story's own numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "measure/recorder.h"
#include "sys/status.h"

namespace iomodels::cli {

// How own work advances: in slices, so the polling version can ask between
// them. 1 ms is short against the device's latency and long against a syscall.
constexpr uint64_t kWorkSliceNs = 1'000'000;
// The stalled-loop story's timer: the other callbacks an event loop serves.
constexpr uint64_t kTickNs = 5'000'000;

// Between two samples of one thread: running, runnable, sleeping (ns).
struct SchedSplit {
  uint64_t running = 0, runnable = 0, sleeping = 0;
  bool ok = false;
};

// "<who> thread: running .. ms, runnable .. ms, sleeping .. ms".
std::string sched_text(const char* who, const SchedSplit& d);

struct Step {
  uint64_t t_ns;
  std::string text;
};

// The stories, one per quadrant and one written with co_await. The kind
// chooses the code; the quadrant and the title are only printed.
enum class StoryKind {
  kSyncBlocking,
  kSyncNonblocking,
  kAsyncBlocking,
  kAsyncNonblocking,
  kAwait,
  kAwaitLazy,
  kStalledLoop
};

struct StoryInfo {
  StoryKind kind;
  const char* quadrant;
  const char* title;
  const char* python;  // the same story as a Python reader would write it
};

// Every story, in the order the demo tells them: the four quadrants (the 2x2
// table reads the first four), then eager and lazy co_await, then the
// stalled loop.
const std::vector<StoryInfo>& demo_stories();

// One quadrant's story: its steps in the order they happened, and its cost.
struct Story {
  std::string title;
  std::string quadrant;  // "sync · blocking", ...
  std::vector<Step> steps;
  Measurement m;
  uint64_t checks = 0;  // how often it asked for the data
  uint64_t eagain = 0;  // of those, how many found nothing
  std::string waiting;  // what the CPU did while waiting
  std::string python;   // the same story in Python
  Status status;
  SchedSplit main_sched;       // the main thread over the story, from its schedstat
  uint64_t stalled_ticks = 0;  // the stalled-loop story: timer ticks that fell due
  uint64_t stall_ns = 0;       // and how late the first of them ran
  size_t trace_events = 0;     // events this story added to the timeline
  bool trace_cut = false;      // the timeline was full by the story's end
  // Story time (ns since the story began) of what the verdict is made of.
  uint64_t t_sent = 0;      // the request left
  uint64_t t_ready = 0;     // the fd first became readable (seen by a watcher thread)
  uint64_t t_used = 0;      // the program used the data (step 3)
  uint64_t t_got = 0;       // the first read that returned bytes
  uint64_t work_ns = 0;     // the own work, first to last slice
  uint64_t t_work_end = 0;  // when it ended
};

inline double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// What the wall time followed: "wait+work", "work" or "wait".
std::string followed(const Story& s);

// The story's verdict, in words made of its numbers.
std::vector<std::string> verdict(const Story& s);

}  // namespace iomodels::cli
