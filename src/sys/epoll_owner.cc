// Description: the epoll owner's calls, each through a counted wrapper.
#include "sys/epoll_owner.h"

#include "sys/sys.h"

namespace iomodels::sys {
namespace {

long control(int epfd, int op, int fd, uint32_t events, uint64_t token) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  return sys::epoll_ctl(epfd, op, fd, &ev);
}

}  // namespace

Status Epoll::open() {
  const long ep = sys::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return Status::from_errno(ep, "epoll_create1");
  fd_.reset(static_cast<int>(ep));
  return {};
}

long Epoll::add(int fd, uint32_t events, uint64_t token) {
  return control(fd_.get(), EPOLL_CTL_ADD, fd, events, token);
}

long Epoll::modify(int fd, uint32_t events, uint64_t token) {
  return control(fd_.get(), EPOLL_CTL_MOD, fd, events, token);
}

long Epoll::remove(int fd) { return control(fd_.get(), EPOLL_CTL_DEL, fd, 0, 0); }

Status Epoll::watch(int fd, uint32_t events, uint64_t token) {
  if (const long r = add(fd, events, token); r < 0) return Status::from_errno(r, "epoll_ctl");
  return {};
}

long Epoll::wait(epoll_event* events, int max, int timeout_ms) {
  return sys::epoll_wait(fd_.get(), events, max, timeout_ms);
}

long Epoll::wait(epoll_event* events, int max, const timespec* timeout) {
  return sys::epoll_pwait2(fd_.get(), events, max, timeout);
}

}  // namespace iomodels::sys
