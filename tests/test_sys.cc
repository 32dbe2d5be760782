// Description: the syscall layer: -errno results, EAGAIN counting, EINTR
// retried under a signal storm, partial reads and short writes, and counters
// summed over live and exited threads.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <thread>
#include <vector>

#include "measure/recorder.h"
#include "peer/payload.h"
#include "sys/fd.h"
#include "sys/sys.h"
#include "sys/time.h"
#include "util.h"

using namespace iomodels;

namespace {

struct Pipe {
  Fd r, w;
  explicit Pipe(int flags = O_CLOEXEC) {
    int p[2];
    REQUIRE(::pipe2(p, flags) == 0);
    r.reset(p[0]);
    w.reset(p[1]);
  }
};

sys::Counters mine() {
  const auto& c = sys::detail::local_counters();
  return {c.syscalls.load(), c.eagain.load(), c.uring_enter.load()};
}

std::atomic<uint64_t> g_signals{0};
void on_signal(int) { g_signals.fetch_add(1, std::memory_order_relaxed); }

// A POSIX timer that sends SIGALRM to the calling thread every `period_ns`,
// with a handler installed WITHOUT SA_RESTART, so every blocking call it
// interrupts fails with EINTR in the kernel.
class SignalStorm {
 public:
  explicit SignalStorm(long period_ns) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the point of the test
    REQUIRE(::sigaction(SIGALRM, &sa, &old_) == 0);
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGALRM;
    sev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    REQUIRE(::timer_create(CLOCK_MONOTONIC, &sev, &timer_) == 0);
    itimerspec its{};
    its.it_interval.tv_nsec = period_ns;
    its.it_value.tv_nsec = period_ns;
    REQUIRE(::timer_settime(timer_, 0, &its, nullptr) == 0);
  }
  ~SignalStorm() {
    ::timer_delete(timer_);
    // A signal may still be pending: ignoring discards it before the old
    // (default: terminate) disposition comes back.
    ::signal(SIGALRM, SIG_IGN);
    ::sigaction(SIGALRM, &old_, nullptr);
  }

 private:
  timer_t timer_{};
  struct sigaction old_ {};
};

}  // namespace

TEST_CASE("sys::read on an empty non-blocking pipe returns -EAGAIN and counts it", "[sys]") {
  Pipe p(O_CLOEXEC | O_NONBLOCK);
  char buf[16];
  const sys::Counters before = sys::counters_total();
  CHECK(sys::read(p.r.get(), buf, sizeof buf) == -EAGAIN);
  const sys::Counters d = sys::counters_total() - before;
  CHECK(d.syscalls == 1);
  CHECK(d.eagain == 1);
  CHECK(d.uring_enter == 0);

  // An error that is not EAGAIN is counted as a call only.
  const sys::Counters b2 = sys::counters_total();
  CHECK(sys::read(-1, buf, sizeof buf) == -EBADF);
  const sys::Counters d2 = sys::counters_total() - b2;
  CHECK(d2.syscalls == 1);
  CHECK(d2.eagain == 0);
}

TEST_CASE("sys::read and sys::write retry EINTR under a signal storm", "[sys]") {
  constexpr size_t kBytes = 4 << 20;
  constexpr size_t kChunk = 16 * 1024;
  g_signals = 0;
  uint64_t calls = 0;
  const sys::Counters before = mine();
  {
    SignalStorm storm(100'000);  // every 100 us

    SECTION("blocking reads with a writer thread") {
      Pipe p;
      std::thread writer([&] {
        std::vector<uint8_t> buf(kChunk);
        for (size_t off = 0; off < kBytes; off += kChunk) {
          fill_payload(7, 1, off, buf.data(), kChunk);
          size_t done = 0;
          while (done < kChunk) {
            const long n = ::write(p.w.get(), buf.data() + done, kChunk - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            done += static_cast<size_t>(n);
          }
          // Pauses make the reader block in read(), where the signals hit.
          if (off % (256 * 1024) == 0) ::usleep(300);
        }
        p.w.reset();
      });
      std::vector<uint8_t> buf(8192);
      size_t got = 0;
      long n = 0;
      bool intact = true;
      while (true) {
        n = sys::read(p.r.get(), buf.data(), buf.size());
        ++calls;
        if (n <= 0) break;
        if (verify_payload(7, 1, got, buf.data(), static_cast<size_t>(n)) != static_cast<size_t>(n))
          intact = false;
        got += static_cast<size_t>(n);
      }
      writer.join();
      CHECK(n == 0);  // EOF, never -EINTR
      CHECK(got == kBytes);
      CHECK(intact);
    }

    SECTION("blocking writes with a reader thread") {
      Pipe p;
      // A small pipe: the writer blocks in write() most of the time.
      ::fcntl(p.w.get(), F_SETPIPE_SZ, 4096);
      std::atomic<size_t> got{0};
      std::atomic<bool> intact{true};
      std::thread reader([&] {
        std::vector<uint8_t> buf(4096);
        size_t off = 0;
        for (;;) {
          const long n = ::read(p.r.get(), buf.data(), buf.size());
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) break;
          if (verify_payload(9, 2, off, buf.data(), static_cast<size_t>(n)) !=
              static_cast<size_t>(n))
            intact = false;
          off += static_cast<size_t>(n);
          if (off % (128 * 1024) < static_cast<size_t>(n)) ::usleep(300);
        }
        got = off;
      });
      std::vector<uint8_t> buf(kChunk);
      size_t sent = 0;
      long bad = 0;
      while (sent < kBytes) {
        const size_t want = std::min(kChunk, kBytes - sent);
        fill_payload(9, 2, sent, buf.data(), want);
        size_t done = 0;
        while (done < want) {
          // An interrupted write that moved some bytes returns a short count.
          const long n = sys::write(p.w.get(), buf.data() + done, want - done);
          ++calls;
          if (n <= 0) {
            bad = n;
            break;
          }
          done += static_cast<size_t>(n);
        }
        if (bad != 0) break;
        sent += want;
      }
      p.w.reset();
      reader.join();
      CHECK(bad == 0);
      CHECK(got == kBytes);
      CHECK(intact);
    }
  }
  const sys::Counters d = mine() - before;
  const uint64_t retries = d.syscalls - calls;
  INFO("signals " << g_signals.load() << ", calls " << calls << ", EINTR retries " << retries);
  CHECK(g_signals.load() > 10);
  // The storm really interrupted blocked calls, and the wrapper retried them.
  CHECK(retries > 0);
}

TEST_CASE("sys::read returns what is there: partial reads", "[sys]") {
  Pipe p;
  REQUIRE(::write(p.w.get(), "hello", 5) == 5);
  std::vector<char> buf(64 * 1024);
  CHECK(sys::read(p.r.get(), buf.data(), buf.size()) == 5);
  CHECK(std::memcmp(buf.data(), "hello", 5) == 0);
  p.w.reset();
  CHECK(sys::read(p.r.get(), buf.data(), buf.size()) == 0);  // EOF
}

TEST_CASE("sys::write on a full non-blocking pipe: short count, then -EAGAIN", "[sys]") {
  Pipe p(O_CLOEXEC | O_NONBLOCK);
  const int cap = ::fcntl(p.w.get(), F_GETPIPE_SZ);
  REQUIRE(cap > 0);
  std::vector<uint8_t> buf(static_cast<size_t>(cap) * 2, 0xab);
  const sys::Counters before = sys::counters_total();
  const long first = sys::write(p.w.get(), buf.data(), buf.size());
  CHECK(first > 0);
  CHECK(first < static_cast<long>(buf.size()));
  CHECK(sys::write(p.w.get(), buf.data(), buf.size()) == -EAGAIN);
  const sys::Counters d = sys::counters_total() - before;
  CHECK(d.syscalls == 2);
  CHECK(d.eagain == 1);

  // send() on a socket whose other end is gone is -EPIPE, not SIGPIPE.
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  Fd a(sv[0]);
  ::close(sv[1]);
  CHECK(sys::send(a.get(), "x", 1, 0) == -EPIPE);
}

TEST_CASE("counters of other threads are summed, live and exited", "[sys]") {
  Pipe p(O_CLOEXEC | O_NONBLOCK);
  constexpr int kCalls = 100;
  std::atomic<int> stage{0};
  const sys::Counters before = sys::counters_total();
  std::thread t([&] {
    char c;
    for (int i = 0; i < kCalls; ++i) sys::read(p.r.get(), &c, 1);
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  const sys::Counters live = sys::counters_total() - before;
  CHECK(live.syscalls == kCalls);
  CHECK(live.eagain == kCalls);
  stage = 2;
  t.join();
  const sys::Counters exited = sys::counters_total() - before;
  CHECK(exited.syscalls == kCalls);
  CHECK(exited.eagain == kCalls);
}

TEST_CASE("sys::sleep_until wakes at or after its deadline", "[sys]") {
  const uint64_t deadline = now_ns() + 2'000'000;
  CHECK(sys::sleep_until(sys::to_timespec(deadline)) == 0);
  CHECK(now_ns() >= deadline);
}
