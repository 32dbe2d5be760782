// Description: Fd, the move-only descriptor owner: it closes exactly once.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <utility>

#include "sys/fd.h"

using namespace iomodels;

namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }
bool is_closed(int fd) { return ::fcntl(fd, F_GETFD) < 0 && errno == EBADF; }

// A fresh descriptor to own. The fd numbers tests check are not reused in
// between because no other thread opens files while they run.
int open_one() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace

TEST_CASE("Fd closes its descriptor on destruction", "[sys]") {
  const int raw = open_one();
  {
    Fd f(raw);
    CHECK(f.get() == raw);
    CHECK(static_cast<bool>(f));
    CHECK(is_open(raw));
  }
  CHECK(is_closed(raw));
  Fd empty;
  CHECK(empty.get() == -1);
  CHECK_FALSE(static_cast<bool>(empty));
}

TEST_CASE("a moved-from Fd is -1 and does not close", "[sys]") {
  const int raw = open_one();
  Fd b;
  {
    Fd a(raw);
    b = std::move(a);
    CHECK(a.get() == -1);  // NOLINT(bugprone-use-after-move): that is the test
    CHECK_FALSE(static_cast<bool>(a));
  }
  CHECK(is_open(raw));  // a's destructor did not close b's descriptor
  Fd c(std::move(b));
  CHECK(b.get() == -1);  // NOLINT(bugprone-use-after-move)
  CHECK(c.get() == raw);
  c.reset();
  CHECK(is_closed(raw));
  CHECK(c.get() == -1);
}

TEST_CASE("move-assigning over an owning Fd closes the old descriptor", "[sys]") {
  const int x = open_one();
  const int y = open_one();
  Fd a(x), b(y);
  a = std::move(b);
  CHECK(is_closed(x));
  CHECK(is_open(y));
  CHECK(a.get() == y);
}

TEST_CASE("Fd::release gives up ownership without closing", "[sys]") {
  const int raw = open_one();
  {
    Fd f(raw);
    CHECK(f.release() == raw);
    CHECK(f.get() == -1);
  }
  CHECK(is_open(raw));
  ::close(raw);
}

TEST_CASE("Fd::reset closes the old descriptor and takes the new one", "[sys]") {
  const int x = open_one();
  const int y = open_one();
  Fd f(x);
  f.reset(y);
  CHECK(is_closed(x));
  CHECK(f.get() == y);
  CHECK(is_open(y));
  f.reset();
  CHECK(is_closed(y));
  CHECK(f.get() == -1);
  f.reset();  // resetting an empty Fd closes nothing
  CHECK(f.get() == -1);
}

TEST_CASE("self-move-assignment of an Fd keeps the descriptor open", "[sys]") {
  const int raw = open_one();
  Fd f(raw);
  Fd& alias = f;  // through a reference, so the compiler does not object
  f = std::move(alias);
  CHECK(f.get() == raw);
  CHECK(is_open(raw));
}
