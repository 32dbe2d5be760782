// Description: the file transport's data file. The workload creates it and
// fills it with the deterministic payload (byte o of the file = payload byte
// o of kFileDataConn), so every read at any offset can be verified: an
// unnamed O_TMPFILE in /dev/shm by default, gone when the run ends, or a
// named file that is created once (filled unnamed, then linked in) and reused.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <vector>

#include "peer/payload.h"
#include "sys/cleanup.h"
#include "sys/sys.h"
#include "workload/workload.h"

namespace iomodels {
namespace {

constexpr size_t kFillChunk = 1 << 20;

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Refuses early, with the numbers, when the file cannot fit.
Status check_space(const std::string& dir, uint64_t bytes) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return Status::from_errno(-errno, "statvfs(" + dir + ")");
  const uint64_t free_bytes = uint64_t{v.f_bavail} * v.f_frsize;
  if (free_bytes < bytes)
    return Status::error("the data file needs " + mib(bytes) + " but " + dir + " has only " +
                         mib(free_bytes) + " free (use --file-size, or --file elsewhere)");
  return {};
}

Status fill(int fd, uint64_t bytes, const std::string& name) {
  std::vector<uint8_t> buf(kFillChunk);
  for (uint64_t off = 0; off < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kFillChunk, bytes - off));
    fill_payload(kFileDataConn, 0, off, buf.data(), n);
    for (size_t done = 0; done < n;) {
      const long w = ::pwrite(fd, buf.data() + done, n - done, static_cast<off_t>(off + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status::from_errno(-errno, "writing the data file " + name);
      done += static_cast<size_t>(w);
    }
    off += n;
  }
  return {};
}

// Whether an existing file holds our data: its size, and its first, last
// and 14 random pages.
Status check_existing(int fd, uint64_t bytes, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::from_errno(-errno, "fstat(" + path + ")");
  const std::string refuse = " (remove it or choose another path)";
  if (!S_ISREG(st.st_mode)) return Status::invalid("--file " + path + " is not a regular file");
  if (static_cast<uint64_t>(st.st_size) != bytes)
    return Status::invalid("--file " + path + " exists with " + std::to_string(st.st_size) +
                           " bytes, not the " + std::to_string(bytes) + " of --file-size" + refuse);
  std::vector<uint64_t> pages{0, bytes / kFileAlign - 1};
  std::mt19937_64 rng(bytes);
  for (int i = 0; i < 14; ++i) pages.push_back(rng() % (bytes / kFileAlign));
  std::vector<uint8_t> buf(kFileAlign);
  for (uint64_t p : pages) {
    const uint64_t off = p * kFileAlign;
    const long r = sys::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    if (r != static_cast<long>(buf.size()))
      return Status::from_errno(r < 0 ? r : -EIO, "reading " + path);
    if (verify_payload(kFileDataConn, 0, off, buf.data(), buf.size()) != buf.size())
      return Status::invalid("--file " + path + " exists but does not hold iomodels' data" +
                             refuse);
  }
  return {};
}

// Creates `name` (in `dir`) holding the data, so that no one ever sees a
// file that looks finished but is not, and an interrupted fill leaves
// nothing: an unnamed file (O_TMPFILE) filled and then linked in, which even
// kill -9 cannot leave behind; where the file system has no O_TMPFILE, a
// temporary name removed on every exit path and by SIGINT/SIGTERM/SIGHUP.
Status create_filled(const std::string& dir, const std::string& name, uint64_t bytes) {
  Fd w(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644));
  if (w) {
    if (Status s = fill(w.get(), bytes, name); !s.ok()) return s;
    const std::string proc = "/proc/self/fd/" + std::to_string(w.get());
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) != 0)
      return Status::from_errno(-errno, "linking the filled data file in as " + name);
    return {};
  }
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
    return Status::from_errno(-errno, "creating the data file in " + dir);
  sys::TempPath tmp(name + ".tmp." + std::to_string(::getpid()));
  w.reset(::open(tmp.path().c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
  if (!w) return Status::from_errno(-errno, "creating the data file " + tmp.path());
  if (Status s = fill(w.get(), bytes, tmp.path()); !s.ok()) return s;
  if (::rename(tmp.path().c_str(), name.c_str()) != 0)
    return Status::from_errno(-errno, "renaming " + tmp.path() + " to " + name);
  tmp.keep();
  return {};
}

}  // namespace

Status make_unnamed_data_file(uint64_t bytes, Fd* out) {
  if (Status s = check_space(kDefaultFileDir, bytes); !s.ok()) return s;
  Fd fd(::open(kDefaultFileDir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd)
    return Status::from_errno(-errno, std::string("creating an unnamed data file in ") +
                                          kDefaultFileDir + " (O_TMPFILE)");
  if (Status s = fill(fd.get(), bytes, kDefaultFileDir); !s.ok()) return s;
  *out = std::move(fd);
  return {};
}

Status Workload::start_file() {
  const uint64_t bytes = opts_.file_bytes;
  Fd data;           // the file as created or found
  std::string name;  // for messages and for reopening
  if (opts_.file_path.empty()) {
    name = kDefaultFileDir;
    if (Status s = check_space(name, bytes); !s.ok()) return s;
    data.reset(::open(kDefaultFileDir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!data)
      return Status::from_errno(-errno, std::string("creating an unnamed data file in ") +
                                            kDefaultFileDir + " (O_TMPFILE; or use --file PATH)");
    if (Status s = fill(data.get(), bytes, name); !s.ok()) return s;
    name = "/proc/self/fd/" + std::to_string(data.get());  // reopened below
  } else {
    name = opts_.file_path;
    // O_NONBLOCK: a FIFO at the path must not block the open (check_existing
    // then refuses anything but a regular file).
    data.reset(::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (data) {
      if (Status s = check_existing(data.get(), bytes, name); !s.ok()) return s;
    } else if (errno == ENOENT) {
      const size_t slash = name.rfind('/');
      const std::string dir = slash == std::string::npos ? "." : name.substr(0, slash + 1);
      if (Status s = check_space(dir, bytes); !s.ok()) return s;
      if (Status s = create_filled(dir, name, bytes); !s.ok()) return s;
    } else {
      return Status::from_errno(-errno, "opening --file " + name);
    }
  }
  // The descriptor every read uses: read-only, and O_DIRECT if asked.
  Fd rd(::open(name.c_str(), O_RDONLY | O_CLOEXEC | (opts_.direct ? O_DIRECT : 0)));
  if (!rd) {
    const int e = errno;
    const std::string where = opts_.file_path.empty() ? kDefaultFileDir : opts_.file_path;
    if (opts_.direct && e == EINVAL)
      return Status::error("--direct: the file system of " + where +
                           " does not support O_DIRECT (open: " + errno_text(-e) + ")");
    return Status::from_errno(-e, "opening the data file in " + where);
  }
  data.reset();  // an unnamed file lives on through rd
  const int fd = rd.get();
  owned_.push_back(std::move(rd));
  conns_.reserve(opts_.connections);
  for (uint32_t i = 0; i < opts_.connections; ++i) conns_.push_back(ClientConn{fd, fd, i});
  return {};
}

}  // namespace iomodels
