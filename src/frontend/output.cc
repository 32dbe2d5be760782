// Description: checking output paths up front and writing them without
// clobbering (temporary file + rename, or in place for devices and descriptors).
#include "frontend/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "frontend/frontend.h"
#include "sys/fd.h"

namespace iomodels::frontend {
namespace {

std::string err(int e) { return std::strerror(e); }

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// "/dev/fd/3" → 3; -1 when `path` does not name a descriptor of this process.
int fd_path(const std::string& path) {
  if (path == "-" || path == "/dev/stdout") return 1;
  if (path == "/dev/stderr") return 2;
  for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    const size_t n = std::strlen(prefix);
    if (path.compare(0, n, prefix) != 0 || path.size() == n || path.size() > n + 9) continue;
    int fd = 0;
    for (size_t i = n; i < path.size(); ++i) {
      if (path[i] < '0' || path[i] > '9') return -1;
      fd = fd * 10 + (path[i] - '0');
    }
    return fd;
  }
  return -1;
}

const char* kind_text(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISBLK(m)) return "a block device";
  return "not a regular file";
}

void write_all(int fd, const std::string& text, const std::string& what) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(what + ": " + err(errno));
    done += static_cast<size_t>(n);
  }
}

mode_t default_mode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

OutputPath check_output(const std::string& flag, const std::string& path) {
  OutputPath out;
  if (path.empty()) return out;
  out.flag_ = flag;
  out.path_ = path;
  if (const int fd = fd_path(path); fd >= 0) {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0)
      throw UsageError(flag + ": '" + path + "': descriptor " + std::to_string(fd) +
                       " is not open");
    if ((fl & O_ACCMODE) == O_RDONLY)
      throw UsageError(flag + ": '" + path + "': descriptor " + std::to_string(fd) +
                       " is open for reading only");
    out.kind_ = OutputPath::Kind::kFd;
    out.fd_ = fd;
    return out;
  }
  struct stat st {};
  std::string target = path;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr)
      throw UsageError(flag + ": '" + path + "' is a symbolic link to nothing (" + err(errno) +
                       ")");
    target = real;
    std::free(real);
  }
  if (::stat(target.c_str(), &st) != 0) {
    if (errno != ENOENT) throw UsageError(flag + ": '" + path + "': " + err(errno));
    const std::string dir = dir_of(target);
    struct stat ds {};
    if (::stat(dir.c_str(), &ds) != 0)
      throw UsageError(flag + ": '" + path + "': directory '" + dir + "': " + err(errno));
    if (!S_ISDIR(ds.st_mode))
      throw UsageError(flag + ": '" + path + "': '" + dir + "' is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
      throw UsageError(flag + ": '" + path + "': cannot create files in '" + dir +
                       "': " + err(errno));
    out.kind_ = OutputPath::Kind::kReplace;
    out.target_ = target;
    out.mode_ = default_mode();
    return out;
  }
  if (S_ISCHR(st.st_mode)) {
    if (::access(target.c_str(), W_OK) != 0)
      throw UsageError(flag + ": '" + path + "': " + err(errno));
    out.kind_ = OutputPath::Kind::kDevice;
    out.target_ = target;
    return out;
  }
  if (!S_ISREG(st.st_mode))
    throw UsageError(flag + ": '" + path + "' is " + kind_text(st.st_mode) +
                     "; give a file name (or - for standard output)");
  if (::access(target.c_str(), W_OK) != 0)
    throw UsageError(flag + ": '" + path + "' is not writable: " + err(errno));
  const std::string dir = dir_of(target);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError(flag + ": '" + path + "' cannot be replaced: directory '" + dir +
                     "': " + err(errno));
  out.kind_ = OutputPath::Kind::kReplace;
  out.target_ = target;
  out.mode_ = st.st_mode & 07777;
  return out;
}

void check_distinct(const std::vector<const OutputPath*>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i)
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      const OutputPath& a = *outputs[i];
      const OutputPath& b = *outputs[j];
      if (!a.given() || !b.given() || a.kind() != b.kind()) continue;
      if (a.kind() == OutputPath::Kind::kDevice) continue;  // /dev/null twice is fine
      const bool same =
          a.kind() == OutputPath::Kind::kFd ? a.fd() == b.fd() : a.target() == b.target();
      if (same)
        throw UsageError(a.flag() + " and " + b.flag() + " name the same file '" + a.path() +
                         "'; give each its own");
    }
}

void OutputPath::write(const std::string& text) const {
  const std::string what = "writing " + flag_ + " '" + path_ + "'";
  switch (kind_) {
    case Kind::kNone:
      return;
    case Kind::kFd:
      std::fflush(nullptr);  // what stdio holds for the same descriptor goes first
      write_all(fd_, text, what);
      return;
    case Kind::kDevice: {
      Fd fd(::open(target_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
      if (!fd) throw std::runtime_error(what + ": " + err(errno));
      write_all(fd.get(), text, what);
      return;
    }
    case Kind::kReplace: {
      std::string name = target_ + ".tmp.XXXXXX";
      Fd fd(::mkstemp(name.data()));
      if (!fd)
        throw std::runtime_error(what + ": creating a temporary file beside it: " + err(errno));
      sys::TempPath tmp(name);
      ::fchmod(fd.get(), mode_);
      write_all(fd.get(), text, what);
      if (::close(fd.release()) != 0) throw std::runtime_error(what + ": " + err(errno));
      if (::rename(name.c_str(), target_.c_str()) != 0)
        throw std::runtime_error(what + ": renaming into place: " + err(errno));
      tmp.keep();
      return;
    }
  }
}

std::string OutputPath::begin_by_name() {
  switch (kind_) {
    case Kind::kNone:
      return {};
    case Kind::kFd:
      return "/proc/self/fd/" + std::to_string(fd_);
    case Kind::kDevice:
      return target_;
    case Kind::kReplace:
      break;
  }
  std::string name = target_ + ".tmp.XXXXXX";
  Fd fd(::mkstemp(name.data()));
  if (!fd)
    throw std::runtime_error("writing " + flag_ + " '" + path_ +
                             "': creating a temporary file beside it: " + err(errno));
  tmp_ = sys::TempPath(name);
  ::fchmod(fd.get(), mode_);
  return name;
}

void OutputPath::commit() {
  if (kind_ != Kind::kReplace || tmp_.path().empty()) return;
  if (::rename(tmp_.path().c_str(), target_.c_str()) != 0)
    throw std::runtime_error("writing " + flag_ + " '" + path_ +
                             "': renaming into place: " + err(errno));
  tmp_.keep();
}

}  // namespace iomodels::frontend
