// Description: the registry of temporary paths and the signal handler that
// removes them (plain storage and atomics only, so the handler may read it).
#include "sys/cleanup.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <utility>

namespace iomodels::sys {
namespace {

constexpr size_t kPathMax = 4096;

struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being written, 2 registered
  char path[kPathMax];
};
Slot g_slots[TempPath::kMaxTempPaths];
// The process that registered the paths: a forked child that gets one of
// these signals must not remove its parent's files.
std::atomic<pid_t> g_owner{0};

int claim(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < TempPath::kMaxTempPaths; ++i) {
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_owner.store(::getpid());
    g_slots[i].state.store(2);
    return i;
  }
  return -1;
}

extern "C" void on_cleanup_signal(int sig) {
  remove_temp_paths_now();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

TempPath::TempPath(std::string path) : path_(std::move(path)), slot_(claim(path_)) {}

TempPath::~TempPath() {
  if (!path_.empty()) ::unlink(path_.c_str());
  release_slot();
}

TempPath::TempPath(TempPath&& other) noexcept
    : path_(std::exchange(other.path_, {})), slot_(std::exchange(other.slot_, -1)) {}

TempPath& TempPath::operator=(TempPath&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) ::unlink(path_.c_str());
    release_slot();
    path_ = std::exchange(other.path_, {});
    slot_ = std::exchange(other.slot_, -1);
  }
  return *this;
}

void TempPath::keep() {
  path_.clear();
  release_slot();
}

void TempPath::release_slot() {
  if (slot_ >= 0) g_slots[slot_].state.store(0);
  slot_ = -1;
}

void remove_temp_paths_now() {
  if (g_owner.load() != ::getpid()) return;
  for (Slot& s : g_slots)
    if (s.state.load() == 2) ::unlink(s.path);
}

void install_signal_cleanup() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  struct sigaction sa {};
  sa.sa_handler = on_cleanup_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    ::sigaction(sig, nullptr, &old);
    // A signal this process was started ignoring (nohup) stays ignored.
    if (old.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace iomodels::sys
