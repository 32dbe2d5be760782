// Description: the chain's shared pieces: the counters mapping, the message
// payload and its check, and the work a service does.
#include "chain/shared.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "peer/payload.h"

namespace iomodels::chain {

// The payload's connection number: any fixed value, so C can recompute it from the id alone.
constexpr uint32_t kChainConn = 7;

SharedCounters* map_counters(const std::string& dir, bool create) {
  const std::string path = counters_path(dir);
  const int fd = ::open(
      path.c_str(), create ? (O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC) : (O_RDWR | O_CLOEXEC), 0600);
  if (fd < 0) return nullptr;
  if (create && ::ftruncate(fd, sizeof(SharedCounters)) != 0) {
    ::close(fd);
    return nullptr;
  }
  void* p = ::mmap(nullptr, sizeof(SharedCounters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return nullptr;
  // A new file is zero-filled: every counter starts at 0 (slow factors are
  // read as 1 when 0).
  return static_cast<SharedCounters*>(p);
}

void fill_message(uint64_t id, uint64_t a_ns, uint32_t size, std::vector<uint8_t>* out) {
  out->resize(sizeof(MsgHeader) + size);
  MsgHeader h{id, a_ns, size, 0};
  std::memcpy(out->data(), &h, sizeof h);
  fill_payload(kChainConn, id, 0, out->data() + sizeof h, size);
}

bool verify_message(const uint8_t* data, size_t n, MsgHeader* h) {
  if (n < sizeof(MsgHeader)) return false;
  std::memcpy(h, data, sizeof *h);
  if (n != sizeof(MsgHeader) + h->size) return false;
  return verify_payload(kChainConn, h->id, 0, data + sizeof *h, h->size) == h->size;
}

void spin_for(uint64_t ns) {
  const uint64_t end = now_ns() + ns;
  while (now_ns() < end) {
  }
}

}  // namespace iomodels::chain
