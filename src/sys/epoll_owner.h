// Description: Epoll, the owner of one epoll instance in the manner of mio's
// Selector: created once, descriptors registered with an integer token (the
// kernel hands it back in epoll_event.data.u64), every call counted through
// the wrappers in sys.h.
#pragma once

#include <sys/epoll.h>
#include <time.h>

#include <cstdint>

#include "sys/fd.h"
#include "sys/status.h"

namespace iomodels::sys {

class Epoll {
 public:
  // Makes the instance (epoll_create1 with EPOLL_CLOEXEC); an error names the call.
  Status open();
  bool is_open() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }

  // EPOLL_CTL_ADD / MOD / DEL: 0 or -errno.
  long add(int fd, uint32_t events, uint64_t token);
  long modify(int fd, uint32_t events, uint64_t token);
  long remove(int fd);
  // add() as a Status naming epoll_ctl, for set-up code.
  Status watch(int fd, uint32_t events, uint64_t token);

  // Waits for events: a millisecond timeout (-1 = forever), or a nanosecond
  // one (epoll_pwait2, Linux 5.11+; nullptr = forever). The count, or -errno.
  long wait(epoll_event* events, int max, int timeout_ms);
  long wait(epoll_event* events, int max, const timespec* timeout);

 private:
  Fd fd_;
};

}  // namespace iomodels::sys
