// Description: the Chrome Trace Event recorder.
#include "measure/trace.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "measure/recorder.h"
#include "sys/sys.h"

namespace iomodels {

std::atomic<Trace*> Trace::active_{nullptr};

namespace {
int this_tid() {
  thread_local const int tid = static_cast<int>(::syscall(SYS_gettid));
  return tid;
}
}  // namespace

Trace::Trace(size_t max_events) : max_events_(max_events), origin_ns_(now_ns()) {
  events_.reserve(std::min<size_t>(max_events, 1 << 16));
}

Trace::~Trace() { uninstall(); }

namespace {
void observe_syscall(const char* name, uint64_t start_ns, uint64_t end_ns, long result) {
  if (Trace* t = Trace::active()) t->syscall(name, start_ns, end_ns, result);
}
}  // namespace

void Trace::install() {
  active_.store(this);
  sys::set_syscall_observer(&observe_syscall);
}

void Trace::uninstall() {
  Trace* self = this;
  if (active_.compare_exchange_strong(self, nullptr)) sys::set_syscall_observer(nullptr);
}

void Trace::add(Event e) {
  std::lock_guard lock(mu_);
  if (events_.size() >= max_events_) {
    truncated_ = true;
    return;
  }
  events_.push_back(std::move(e));
}

void Trace::slice(const char* name, const char* category, uint64_t start_ns, uint64_t end_ns,
                  const char* detail) {
  add(Event{'X', this_tid(), start_ns, end_ns > start_ns ? end_ns - start_ns : 0, 0, name, category,
            detail ? detail : ""});
}

void Trace::syscall(const char* name, uint64_t start_ns, uint64_t end_ns, long result) {
  const int tid = this_tid();
  if (result == -EAGAIN) {
    // A polling loop asks hundreds of thousands of times a second: calls in a
    // row on one thread that all said EAGAIN become one slice, "EAGAIN xN",
    // so the loop shows as the solid bar it is and cannot fill the trace.
    std::lock_guard lock(mu_);
    if (!events_.empty()) {
      Event& last = events_.back();
      if (last.ph == 'X' && last.tid == tid && last.cat == "eagain" && last.name == name) {
        ++last.id;  // the slice's call count (an "X" event has no id of its own)
        if (end_ns > last.ts_ns) last.dur_ns = end_ns - last.ts_ns;
        last.detail = "EAGAIN x" + std::to_string(last.id);
        return;
      }
    }
  }
  const char* cat = result == -EAGAIN ? "eagain" : "syscall";
  std::string detail = result == -EAGAIN ? "EAGAIN x1" : std::to_string(result);
  add(Event{'X', tid, start_ns, end_ns > start_ns ? end_ns - start_ns : 0,
            result == -EAGAIN ? 1u : 0u, name, cat, std::move(detail)});
}

// Perfetto binds a flow's start and end to the slice that encloses it on its
// thread, and drops a flow point that no slice encloses. So each end of a
// request's flow gets a slice of its own, "issue" or "complete", from the
// moment the model marked it to the moment the trace has recorded it (the
// trace's own bookkeeping, a few hundred ns), and the flow point lies in its
// middle. The slice ends before the model's next syscall begins, so it never
// overlaps a syscall slice.
void Trace::request_begin(uint64_t id, uint64_t ts_ns, const std::string& name) {
  const int tid = this_tid();
  const uint64_t end = std::max(now_ns(), ts_ns + 2);
  add(Event{'X', tid, ts_ns, end - ts_ns, 0, "issue", "flow", name});
  add(Event{'b', tid, ts_ns, 0, id, name, "request", ""});
  add(Event{'s', tid, ts_ns + (end - ts_ns) / 2, 0, id, "issue", "flow", ""});
}

void Trace::request_end(uint64_t id, uint64_t ts_ns, const std::string& name) {
  const int tid = this_tid();
  const uint64_t end = std::max(now_ns(), ts_ns + 2);
  add(Event{'X', tid, ts_ns, end - ts_ns, 0, "complete", "flow", name});
  add(Event{'f', tid, ts_ns + (end - ts_ns) / 2, 0, id, "issue", "flow", ""});
  add(Event{'e', tid, ts_ns, 0, id, name, "request", ""});
}

void Trace::instant(const char* name, uint64_t ts_ns) {
  add(Event{'i', this_tid(), ts_ns, 0, 0, name, "mark", ""});
}

void Trace::name_thread(const std::string& name) {
  std::lock_guard lock(mu_);
  const int tid = this_tid();
  for (auto& [t, n] : thread_names_) {
    if (t == tid) {
      n = name;
      return;
    }
  }
  thread_names_.emplace_back(tid, name);
}

void Trace::name_process(const std::string& name) {
  std::lock_guard lock(mu_);
  process_name_ = name;
}

size_t Trace::events() const {
  std::lock_guard lock(mu_);
  return events_.size();
}

void Trace::drop_since(size_t mark) {
  std::lock_guard lock(mu_);
  if (mark < events_.size()) events_.resize(mark);
}

bool Trace::truncated() const {
  std::lock_guard lock(mu_);
  return truncated_;
}

std::string Trace::to_json() const {
  std::lock_guard lock(mu_);
  const int pid = static_cast<int>(::getpid());
  nlohmann::json evs = nlohmann::json::array();
  evs.push_back({{"ph", "M"},
                 {"pid", pid},
                 {"tid", pid},
                 {"name", "process_name"},
                 {"args", {{"name", process_name_}}}});
  for (const auto& [tid, name] : thread_names_)
    evs.push_back({{"ph", "M"},
                   {"pid", pid},
                   {"tid", tid},
                   {"name", "thread_name"},
                   {"args", {{"name", name}}}});
  for (const Event& e : events_) {
    const double ts_us = static_cast<double>(e.ts_ns - std::min(e.ts_ns, origin_ns_)) / 1e3;
    nlohmann::json j = {{"ph", std::string(1, e.ph)},
                        {"pid", pid},
                        {"tid", e.tid},
                        {"ts", ts_us},
                        {"name", e.name},
                        {"cat", e.cat}};
    if (e.ph == 'X') j["dur"] = static_cast<double>(e.dur_ns) / 1e3;
    if (e.ph == 'b' || e.ph == 'e' || e.ph == 's' || e.ph == 'f') {
      char id[32];
      std::snprintf(id, sizeof id, "0x%llx", static_cast<unsigned long long>(e.id));
      j["id"] = id;
    }
    if (e.ph == 'f') j["bp"] = "e";  // bind the arrow to the enclosing slice
    if (e.ph == 'i') j["s"] = "t";
    if (!e.detail.empty()) j["args"] = {{"detail", e.detail}};
    evs.push_back(std::move(j));
  }
  nlohmann::json doc = {{"traceEvents", std::move(evs)}, {"displayTimeUnit", "ms"}};
  doc["otherData"] = {{"truncated", truncated_}, {"max_events", max_events_}};
  return doc.dump();
}

TraceScope::TraceScope(const char* name, const char* category, bool hooks)
    : trace_(hooks ? Trace::active() : nullptr), name_(name), category_(category) {
  if (trace_) start_ns_ = now_ns();
}

TraceScope::~TraceScope() {
  if (trace_) trace_->slice(name_, category_, start_ns_, now_ns());
}

}  // namespace iomodels
