// Description: files this process is still writing, removed if SIGINT, SIGTERM
// or SIGHUP ends it: an interrupted run leaves no half-written file behind.
#pragma once

#include <string>

namespace iomodels::sys {

// A path removed when the process is killed by SIGINT, SIGTERM or SIGHUP
// (once install_signal_cleanup() has run), and by the destructor unless
// keep() was called: the owner of a temporary file creates one before the
// file exists and keeps it after renaming the file into place. At most
// kMaxTempPaths at once; beyond that the path is still removed by the
// destructor, only not by the signal handler.
class TempPath {
 public:
  static constexpr int kMaxTempPaths = 32;

  TempPath() = default;
  explicit TempPath(std::string path);
  ~TempPath();
  TempPath(TempPath&& other) noexcept;
  TempPath& operator=(TempPath&& other) noexcept;
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;

  const std::string& path() const { return path_; }
  // The file is where it belongs now (renamed away, or meant to stay).
  void keep();

 private:
  void release_slot();
  std::string path_;
  int slot_ = -1;
};

// Installs the handler for SIGINT, SIGTERM and SIGHUP that removes every
// registered TempPath of this process (not of a forked child) and then lets
// the signal take its default course. Idempotent.
void install_signal_cleanup();

// The handler's work, for a handler of another layer that takes over these
// signals for a while and must still remove the temporary files:
// async-signal-safe.
void remove_temp_paths_now();

}  // namespace iomodels::sys
