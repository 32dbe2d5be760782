// Description: the three services' loops. A: a scheduler thread releases
// requests at their due time to a fixed set of caller threads; B: a bounded
// pool of workers (sync) or one fetch loop (queue); C: verifies, works,
// records, then answers or acknowledges.
#include "chain/service.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include "chain/net.h"

namespace iomodels::chain {
namespace {

int open_records(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

// One whole record per write(2) on an O_APPEND file: records from several
// threads (or from a killed and restarted C) never interleave.
template <class R>
void append(int fd, const R& r) {
  ssize_t n;
  do n = ::write(fd, &r, sizeof r);
  while (n < 0 && errno == EINTR);
}

uint64_t work_of(const ServiceOptions& o, SharedCounters* sc) {
  const uint64_t f = sc->slow_factor[static_cast<int>(o.role)].load(std::memory_order_relaxed);
  return o.work_ns * (f == 0 ? 1 : f);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "iomodels chain-service: %s\n", what.c_str());
  std::_Exit(1);
}

// --- A -------------------------------------------------------------------------

int run_a(const ServiceOptions& o, SharedCounters* sc) {
  const int rec = open_records(a_records_path(o.dir));
  if (rec < 0) die("cannot open A's records");
  Nats nats;
  if (o.mode == Mode::kQueue) {
    std::string why;
    if (nats.connect(o.broker, o.timeout_ns, &why) != NATS_OK) die(why);
  }
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint64_t, uint64_t>> due;  // (id, scheduled time)
  bool done = false;
  const std::string subj = subject_ab(o.prefix);

  auto caller = [&] {
    int fd = -1;  // sync: this caller's connection to B
    std::vector<uint8_t> msg;
    for (;;) {
      std::pair<uint64_t, uint64_t> req;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return done || !due.empty(); });
        if (due.empty()) break;
        req = due.front();
        due.pop_front();
      }
      fill_message(req.first, now_ns(), static_cast<uint32_t>(o.size), &msg);
      uint32_t status = kError;
      if (o.mode == Mode::kSync) {
        if (fd < 0) {
          fd = tcp_connect("127.0.0.1", o.port_b);
          if (fd >= 0) set_io_timeout(fd, o.timeout_ns);
        }
        Reply r{};
        int e = fd < 0 ? fd : write_full(fd, msg.data(), msg.size());
        if (e == 0) e = read_full(fd, &r, sizeof r);
        if (e == 0 && r.id == req.first && r.status == kOk) {
          status = kAccepted;
        } else {
          status = e == -EAGAIN || (e == 0 && r.status == kBTimeout) ? kTimeout : kError;
          // A late answer must not be taken for the next request's.
          if (e != 0 && fd >= 0) {
            ::close(fd);
            fd = -1;
          }
        }
      } else {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = static_cast<int64_t>(o.timeout_ns / 1'000'000);
        jsPubAck* ack = nullptr;
        jsErrCode err = static_cast<jsErrCode>(0);
        const natsStatus s = js_Publish(&ack, nats.js(), subj.c_str(), msg.data(),
                                        static_cast<int>(msg.size()), &po, &err);
        if (ack != nullptr) jsPubAck_Destroy(ack);
        status = s == NATS_OK ? kAccepted : s == NATS_TIMEOUT ? kTimeout : kError;
      }
      append(rec, ARecord{req.first, req.second, now_ns(), status, 0});
      sc->a_outstanding.fetch_sub(1, std::memory_order_relaxed);
    }
    if (fd >= 0) ::close(fd);
  };
  std::vector<std::thread> callers;
  for (uint64_t i = 0; i < o.callers; ++i) callers.emplace_back(caller);
  sc->ready[0].store(1);

  // Open loop: request i is due at t0 + i / rate, whether or not the ones
  // before it were answered.
  for (uint64_t i = 0;; ++i) {
    const uint64_t at = o.t0_ns + i * 1'000'000'000ull / o.rate;
    if (at >= o.t0_ns + o.duration_ns) break;
    timespec ts{static_cast<time_t>(at / 1'000'000'000ull),
                static_cast<long>(at % 1'000'000'000ull)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    sc->a_outstanding.fetch_add(1, std::memory_order_relaxed);
    sc->a_sent.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lk(mu);
      due.emplace_back(i, at);
    }
    cv.notify_one();
  }
  {
    std::lock_guard lk(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& t : callers) t.join();
  ::close(rec);
  return 0;
}

// --- B and C, sync mode ----------------------------------------------------------

// Serves one connection: reads a message, calls `handle`, writes its reply.
template <class Handle>
void serve_connection(int fd, uint64_t max_size, Handle handle) {
  std::vector<uint8_t> buf;
  for (;;) {
    MsgHeader h;
    if (read_full(fd, &h, sizeof h) != 0 || h.size > max_size) break;
    buf.resize(sizeof h + h.size);
    std::memcpy(buf.data(), &h, sizeof h);
    if (read_full(fd, buf.data() + sizeof h, h.size) != 0) break;
    const Reply r = handle(buf);
    if (write_full(fd, &r, sizeof r) != 0) break;
  }
  ::close(fd);
}

template <class Handle>
[[noreturn]] void accept_loop(int lfd, uint64_t max_size, Handle handle) {
  for (;;) {
    const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept failed");
    }
    // A thread per caller's connection: A keeps at most --callers of them.
    std::thread([fd, max_size, handle] { serve_connection(fd, max_size, handle); }).detach();
  }
}

int run_b_sync(const ServiceOptions& o, SharedCounters* sc) {
  const int lfd = tcp_listen(o.port_b);
  if (lfd < 0) die("B cannot listen on port " + std::to_string(o.port_b));
  // The bounded pool: at most --workers requests are worked on (and wait
  // for C) at once; the others wait for a worker up to --timeout.
  auto pool =
      std::make_shared<std::counting_semaphore<1 << 16>>(static_cast<std::ptrdiff_t>(o.workers));
  auto idle = std::make_shared<std::pair<std::mutex, std::vector<int>>>();  // connections to C
  sc->ready[1].store(1);
  accept_loop(lfd, o.size, [&o, sc, pool, idle](const std::vector<uint8_t>& msg) {
    MsgHeader h;
    std::memcpy(&h, msg.data(), sizeof h);
    if (!pool->try_acquire_for(std::chrono::nanoseconds(o.timeout_ns))) {
      sc->b_timeouts.fetch_add(1, std::memory_order_relaxed);
      return Reply{h.id, kBNoWorker, 0};
    }
    sc->b_busy.fetch_add(1, std::memory_order_relaxed);
    spin_for(work_of(o, sc));
    int fd = -1;
    {
      std::lock_guard lk(idle->first);
      if (!idle->second.empty()) {
        fd = idle->second.back();
        idle->second.pop_back();
      }
    }
    if (fd < 0) {
      fd = tcp_connect("127.0.0.1", o.port_c);
      if (fd >= 0) set_io_timeout(fd, o.timeout_ns);
    }
    Reply r{h.id, kBNoC, 0};
    int e = fd < 0 ? fd : write_full(fd, msg.data(), msg.size());
    if (e == 0) e = read_full(fd, &r, sizeof r);
    if (e == 0) {
      std::lock_guard lk(idle->first);
      idle->second.push_back(fd);
    } else {
      if (fd >= 0) ::close(fd);
      r = Reply{h.id, e == -EAGAIN ? kBTimeout : kBNoC, 0};
      (e == -EAGAIN ? sc->b_timeouts : sc->b_errors).fetch_add(1, std::memory_order_relaxed);
    }
    sc->b_busy.fetch_sub(1, std::memory_order_relaxed);
    pool->release();
    return r;
  });
}

// C's work on one message: verify, work, record; true if the payload was right.
bool c_handle(const ServiceOptions& o, SharedCounters* sc, int rec, const uint8_t* data, size_t n,
              uint64_t* id) {
  MsgHeader h{};
  const bool ok = verify_message(data, n, &h);
  if (!ok) sc->c_bad.fetch_add(1, std::memory_order_relaxed);
  spin_for(work_of(o, sc));
  append(rec, CRecord{h.id, h.a_ns, now_ns(), ok ? 1u : 0u, 0});
  *id = h.id;
  return ok;
}

int run_c_sync(const ServiceOptions& o, SharedCounters* sc) {
  const int rec = open_records(c_records_path(o.dir));
  const int lfd = tcp_listen(o.port_c);
  if (rec < 0 || lfd < 0) die("C cannot listen on port " + std::to_string(o.port_c));
  sc->ready[2].store(1);
  accept_loop(lfd, o.size, [&o, sc, rec](const std::vector<uint8_t>& msg) {
    uint64_t id = 0;
    const bool ok = c_handle(o, sc, rec, msg.data(), msg.size(), &id);
    return Reply{id, ok ? kOk : kBadPayload, 0};
  });
}

// --- B and C, queue mode ---------------------------------------------------------

natsSubscription* pull(Nats& nats, const std::string& subject, const std::string& stream,
                       const char* durable) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Consumer = durable;
  natsSubscription* sub = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_PullSubscribe(&sub, nats.js(), subject.c_str(), durable, nullptr, &so, &err);
  if (s != NATS_OK) die("cannot consume " + subject + ": " + nats_error(s, err));
  return sub;
}

// Fetches in small batches: a message fetched is ack-pending until its work
// is done, so a small batch keeps what a stalled consumer holds small.
constexpr int kFetchBatch = 8;
constexpr int64_t kFetchWaitMs = 200;

int run_queue_consumer(const ServiceOptions& o, SharedCounters* sc) {
  const bool is_b = o.role == Role::kB;
  Nats nats;
  std::string why;
  if (nats.connect(o.broker, o.timeout_ns, &why) != NATS_OK) die(why);
  natsSubscription* sub = is_b ? pull(nats, subject_ab(o.prefix), stream_ab(o.prefix), kConsumerB)
                               : pull(nats, subject_bc(o.prefix), stream_bc(o.prefix), kConsumerC);
  const int rec = is_b ? -1 : open_records(c_records_path(o.dir));
  if (!is_b && rec < 0) die("cannot open C's records");
  const std::string next = subject_bc(o.prefix);
  sc->ready[static_cast<int>(o.role)].store(1);
  for (;;) {
    natsMsgList list{};
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s = natsSubscription_Fetch(&list, sub, kFetchBatch, kFetchWaitMs, &err);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK)
      die(std::string(role_name(o.role)) + " lost the broker: " + nats_error(s, err));
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* m = list.Msgs[i];
      const auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(m));
      const int len = natsMsg_GetDataLength(m);
      bool done = true;
      if (is_b) {
        sc->b_busy.store(1, std::memory_order_relaxed);
        spin_for(work_of(o, sc));
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = static_cast<int64_t>(o.timeout_ns / 1'000'000);
        jsPubAck* ack = nullptr;
        const natsStatus ps = js_Publish(&ack, nats.js(), next.c_str(), data, len, &po, &err);
        if (ack != nullptr) jsPubAck_Destroy(ack);
        // Not published: no ack, so the broker delivers it again after the ack wait.
        if (ps != NATS_OK) {
          done = false;
          (ps == NATS_TIMEOUT ? sc->b_timeouts : sc->b_errors)
              .fetch_add(1, std::memory_order_relaxed);
        }
        sc->b_busy.store(0, std::memory_order_relaxed);
      } else {
        uint64_t id;
        c_handle(o, sc, rec, data, static_cast<size_t>(len), &id);
      }
      // Acknowledged only after the work is done: at-least-once.
      if (done) natsMsg_Ack(m, nullptr);
    }
    natsMsgList_Destroy(&list);
  }
}

}  // namespace

int run_service(const ServiceOptions& o) {
  SharedCounters* sc = map_counters(o.dir, false);
  if (sc == nullptr) die("cannot map the counters in " + o.dir);
  if (o.role == Role::kA) {
    const int rc = run_a(o, sc);
    nats_Close();  // the client library's threads and memory, before exit
    return rc;
  }
  if (o.mode == Mode::kQueue) return run_queue_consumer(o, sc);
  return o.role == Role::kB ? run_b_sync(o, sc) : run_c_sync(o, sc);
}

}  // namespace iomodels::chain
