// Description: a bounded timeline recorder that writes Chrome Trace Event
// JSON (opens in ui.perfetto.dev and chrome://tracing). When installed, every
// syscall made through src/sys becomes a slice on its thread, and models add
// request slices and callbacks. When not installed it costs one relaxed load
// per syscall.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace iomodels {

class Trace {
 public:
  static constexpr size_t kDefaultMaxEvents = 100'000;

  explicit Trace(size_t max_events = kDefaultMaxEvents);
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // The process-wide trace that sys wrappers and models write to, or nullptr.
  static Trace* active() { return active_.load(std::memory_order_relaxed); }
  void install();
  void uninstall();

  // A slice on the calling thread ("X"): [start, start + dur).
  void slice(const char* name, const char* category, uint64_t start_ns, uint64_t end_ns,
             const char* detail = nullptr);
  // A syscall slice: named after the call, with its result (or "EAGAIN").
  void syscall(const char* name, uint64_t start_ns, uint64_t end_ns, long result);
  // An async slice per request ("b"/"e" keyed by id), with a flow arrow from
  // where it was issued to where it completed.
  void request_begin(uint64_t id, uint64_t ts_ns, const std::string& name);
  void request_end(uint64_t id, uint64_t ts_ns, const std::string& name);
  // An instant marker on the calling thread ("i").
  void instant(const char* name, uint64_t ts_ns);
  // Names the calling thread in the viewer ("M" metadata).
  void name_thread(const std::string& name);
  void name_process(const std::string& name);

  size_t events() const;
  bool truncated() const;
  // Drops every event recorded since events() returned `mark`, and makes
  // room: a caller that records in chapters (the demo's stories) keeps each
  // chapter whole or not at all, instead of one cut in half by the cap.
  void drop_since(size_t mark);
  std::string to_json() const;

 private:
  struct Event {
    char ph;
    int tid;
    uint64_t ts_ns;
    uint64_t dur_ns;
    uint64_t id;
    std::string name;
    std::string cat;
    std::string detail;
  };
  void add(Event e);

  static std::atomic<Trace*> active_;
  const size_t max_events_;
  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::vector<std::pair<int, std::string>> thread_names_;
  std::string process_name_ = "iomodels";
  uint64_t origin_ns_;
  bool truncated_ = false;
};

// A scope that becomes a slice on the active trace (if any); with `hooks`
// false it does not look for one (RunOptions::trace_hooks off).
class TraceScope {
 public:
  TraceScope(const char* name, const char* category, bool hooks = true);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  Trace* trace_;
  const char* name_;
  const char* category_;
  uint64_t start_ns_ = 0;
};

}  // namespace iomodels
