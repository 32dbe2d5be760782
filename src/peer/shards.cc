// Description: the peer sharded over threads (shards.h): the group that joins
// the threads' loops, and the threads themselves.
#include "peer/shards.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

#include "sys/cpus.h"
#include "sys/sys.h"

namespace iomodels::detail {

void ShardFigures::add(const ShardFigures& o) {
  threads += o.threads;
  wall_ns = std::max(wall_ns, o.wall_ns);
  process_cpu_ns = std::max(process_cpu_ns, o.process_cpu_ns);
  busiest_cpu_ns = std::max(busiest_cpu_ns, o.busiest_cpu_ns);
  requests += o.requests;
  protocol_errors += o.protocol_errors;
  refused += o.refused;
  bad_token += o.bad_token;
  idle_closed += o.idle_closed;
  throttled += o.throttled;
  held_over += o.held_over;
  poll_horizon_ns = std::max(poll_horizon_ns, o.poll_horizon_ns);
  loop = std::max(loop, o.loop);
  lateness.merge(o.lateness);
  if (o.first_request_ns != 0 && (first_request_ns == 0 || o.first_request_ns < first_request_ns))
    first_request_ns = o.first_request_ns;
  last_response_ns = std::max(last_response_ns, o.last_response_ns);
  complete_conns += o.complete_conns;
  early += o.early;
  wrong_conn += o.wrong_conn;
  wrong_size += o.wrong_size;
  wrong_id += o.wrong_id;
  extra += o.extra;
  refused_conns += o.refused_conns;
  turnaround.merge(o.turnaround);
  sent += o.sent;
  bad_bytes += o.bad_bytes;
  closed += o.closed;
  behind += o.behind;
  sched_span_ns = std::max(sched_span_ns, o.sched_span_ns);
  corrected.merge(o.corrected);
  uncorrected.merge(o.uncorrected);
}

PeerStatsWire stats_wire(const ShardFigures& f, uint64_t spin_ns) {
  PeerStatsWire w{};
  w.magic = kStatsMagic;
  w.requests = f.requests;
  w.wall_ns = f.wall_ns;
  w.cpu_ns = f.process_cpu_ns;
  w.late_p50_ns = f.lateness.percentile(0.50);
  w.late_p99_ns = f.lateness.percentile(0.99);
  w.late_max_ns = f.lateness.max();
  w.spin_ns = spin_ns;
  w.protocol_errors = f.protocol_errors;
  w.poll_horizon_ns = f.poll_horizon_ns;
  w.loop = f.loop;
  w.refused = f.refused;
  w.bad_token = f.bad_token;
  w.idle_closed = f.idle_closed;
  w.throttled = f.throttled;
  w.held_over = f.held_over;
  w.threads = std::max<uint32_t>(f.threads, 1);
  // One thread: the process's CPU, as the peer has always reported it (it
  // includes the kernel's io_uring workers, which no thread's clock sees).
  w.busiest_cpu_ns = f.threads <= 1 ? f.process_cpu_ns : f.busiest_cpu_ns;
  return w;
}

ShardGroup::ShardGroup(uint32_t threads, uint32_t connections)
    : n_(threads),
      connections_(connections),
      stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      members_(threads),
      claimed_(new std::atomic<bool>[connections]()) {
  for (Member& m : members_) {
    m.mailbox.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    m.figures = std::make_unique<ShardFigures>();
  }
}

ShardGroup::~ShardGroup() {
  // Connections handed to a thread that stopped before it took them.
  for (Member& m : members_)
    for (int fd : m.inbox) ::close(fd);
}

void ShardGroup::stop() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(stop_.get(), &one, sizeof one);
}

void ShardGroup::wake(uint32_t k) {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(members_[k].mailbox.get(), &one, sizeof one);
}

void ShardGroup::join(uint32_t k, Answer a) {
  std::lock_guard lock(mu_);
  members_[k].answer = std::move(a);
}

void ShardGroup::leave(uint32_t k, std::unique_ptr<ShardFigures> final) {
  std::lock_guard lock(mu_);
  Member& m = members_[k];
  m.gone = true;
  m.asked = 0;
  m.answer = nullptr;
  if (final) m.final = std::move(final);
  cv_.notify_all();
}

std::unique_ptr<ShardFigures> ShardGroup::finals() {
  std::lock_guard lock(mu_);
  auto f = std::make_unique<ShardFigures>();
  for (const Member& m : members_)
    if (m.final) f->add(*m.final);
  return f;
}

void ShardGroup::hand_over(uint32_t k, int fd) {
  {
    std::lock_guard lock(mu_);
    members_[k].inbox.push_back(fd);
  }
  wake(k);
}

std::vector<int> ShardGroup::on_mail(uint32_t k) {
  uint64_t count;
  [[maybe_unused]] const ssize_t n = ::read(members_[k].mailbox.get(), &count, sizeof count);
  std::vector<int> fds;
  std::unique_lock lock(mu_);
  fds.swap(members_[k].inbox);
  serve(k, lock);
  return fds;
}

void ShardGroup::serve(uint32_t k, std::unique_lock<std::mutex>& lock) {
  Member& m = members_[k];
  if (m.asked == 0 || !m.answer) return;
  const uint64_t cmd = m.asked - 1;
  ShardFigures* fig = m.figures.get();
  // The gatherer reads *fig only once `answered` is set, under the lock.
  lock.unlock();
  *fig = ShardFigures{};
  m.answer(cmd, fig);
  lock.lock();
  m.asked = 0;
  m.answered = true;
  cv_.notify_all();
}

void ShardGroup::gather(uint32_t self, uint64_t cmd, ShardFigures* f) {
  std::unique_lock lock(mu_);
  // One request at a time. Another may be under way (two remote runs' control
  // connections on two threads): it waits for this thread's answer, so this
  // thread gives it while waiting for its turn.
  while (gathering_) {
    serve(self, lock);
    if (gathering_) cv_.wait(lock);
  }
  gathering_ = true;
  for (uint32_t k = 0; k < n_; ++k) {
    Member& m = members_[k];
    m.answered = false;
    if (k == self || m.gone) continue;
    m.asked = cmd + 1;
    wake(k);
  }
  // The others count while this thread counts its own.
  const Answer& mine = members_[self].answer;
  lock.unlock();
  if (mine) mine(cmd, f);
  lock.lock();
  cv_.wait(lock, [&] {
    return std::all_of(members_.begin(), members_.end(),
                       [](const Member& m) { return m.asked == 0 || m.gone; });
  });
  for (uint32_t k = 0; k < n_; ++k) {
    if (k != self && members_[k].answered) f->add(*members_[k].figures);
    members_[k].answered = false;
  }
  gathering_ = false;
  cv_.notify_all();
}

bool ShardGroup::claim(uint64_t conn) {
  if (conn >= connections_) return false;
  return !claimed_[conn].exchange(true);
}

int run_sharded(const PeerOptions& opts, std::vector<std::pair<int, int>> conns, ShardLoop loop,
                std::string* why) {
  const uint32_t n = opts.peer_threads;
  ShardGroup group(n, conns.empty() ? opts.connections : static_cast<uint32_t>(conns.size()));
  if (group.stop_fd() < 0) {
    *why = "eventfd: " + errno_text(-errno);
    return 1;
  }
  std::vector<std::vector<std::pair<int, int>>> shard(n);
  for (size_t i = 0; i < conns.size(); ++i) shard[i % n].push_back(conns[i]);
  std::vector<int> codes(n, 0);
  std::vector<std::string> whys(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  try {
    for (uint32_t k = 0; k < n; ++k) {
      PeerOptions o = opts;
      o.shards = &group;
      o.shard = k;
      o.stop_fd = group.stop_fd();
      o.final_stats = nullptr;
      if (k != 0) o.control_fd = o.listen_fd = -1;  // thread 0's
      threads.emplace_back([&, k, o] {
        if (!o.peer_cpus.empty()) {
          const int cpu = o.peer_cpus[k % o.peer_cpus.size()];
          if (Status s = sys::set_affinity({cpu}); !s.ok()) {
            codes[k] = 1;
            whys[k] = "peer thread " + std::to_string(k) + ": " + s.message();
            group.leave(k, nullptr);
            group.stop();
            return;
          }
        }
        codes[k] = loop(o, shard[k], &whys[k]);
        group.leave(k, nullptr);  // never asked again, whichever way its loop ended
        group.stop();             // one thread's end (the parent gone, an error) ends them all
      });
    }
  } catch (const std::system_error& e) {
    codes[0] = 1;
    whys[0] = std::string("starting the peer's threads: ") + e.what();
    group.stop();
  }
  if (opts.stop_fd >= 0) {
    pollfd p[2] = {{opts.stop_fd, POLLIN, 0}, {group.stop_fd(), POLLIN, 0}};
    while (::poll(p, 2, -1) < 0 && errno == EINTR) {
    }
    group.stop();
  }
  for (std::thread& t : threads) t.join();
  if (opts.final_stats != nullptr) {
    *opts.final_stats = stats_from_wire(stats_wire(*group.finals(), opts.peer_spin_ns));
  }
  for (uint32_t k = 0; k < n; ++k) {
    if (codes[k] != 0) {
      *why = whys[k];
      return codes[k];
    }
  }
  return 0;
}

}  // namespace iomodels::detail
