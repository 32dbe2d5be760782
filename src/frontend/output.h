// Description: result files that never clobber: every output path is checked
// before any work starts, and a file is replaced only by renaming a complete
// temporary file over a regular file (or over nothing).
#pragma once

#include <string>
#include <vector>

#include "sys/cleanup.h"

namespace iomodels::frontend {

// Where one option's output goes, as check_output found it.
class OutputPath {
 public:
  enum class Kind {
    kNone,     // the option was not given
    kReplace,  // a regular file (or none yet): written beside it, renamed over it
    kDevice,   // a character device named on purpose (/dev/null, a tty): written in place
    kFd,       // "-", /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: that descriptor
  };

  OutputPath() = default;

  Kind kind() const { return kind_; }
  bool given() const { return kind_ != Kind::kNone; }
  const std::string& flag() const { return flag_; }
  // As the user typed it, for messages.
  const std::string& path() const { return path_; }
  // kReplace: the file replaced (symbolic links resolved); kDevice: the device.
  const std::string& target() const { return target_; }
  // kFd: the descriptor written.
  int fd() const { return fd_; }
  bool is_stdout() const { return kind_ == Kind::kFd && fd_ == 1; }

  // Writes `text` there; throws std::runtime_error naming the option.
  void write(const std::string& text) const;

  // For a writer that opens the file by name itself (Google Benchmark's
  // --benchmark_out): a name it may open and truncate. kReplace: a new,
  // empty temporary file beside the target, removed on every exit path
  // unless commit() renames it into place; kDevice and kFd: a path that
  // reaches the device or descriptor itself.
  std::string begin_by_name();
  // kReplace: renames the temporary file over the target. Throws
  // std::runtime_error naming the option.
  void commit();

 private:
  friend OutputPath check_output(const std::string& flag, const std::string& path);
  Kind kind_ = Kind::kNone;
  std::string flag_, path_, target_;
  int fd_ = -1;
  unsigned mode_ = 0;  // kReplace: the mode of the file written
  sys::TempPath tmp_;
};

// Checks that `path` (the value of `flag`) can take a result without
// clobbering anything, before any work starts: "-" and /dev/stdout, /dev/stderr,
// /dev/fd/N, /proc/self/fd/N are written to that (open, writable) descriptor;
// a character device is written in place; a regular file that may be
// replaced, or a new file in a writable directory, is replaced by rename
// (a symbolic link is followed, and its target replaced, never the link);
// anything else (a directory, FIFO, socket, block device, a link to nothing,
// a missing or read-only directory, a read-only file) is a UsageError naming
// the flag. An empty path gives an OutputPath that is not given().
OutputPath check_output(const std::string& flag, const std::string& path);

// Two options writing to the same file would overwrite each other: a
// UsageError naming both.
void check_distinct(const std::vector<const OutputPath*>& outputs);

}  // namespace iomodels::frontend
