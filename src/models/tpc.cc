// Description: the thread-per-core driver (monoio, glommio, Seastar, nginx's
// workers): one event loop per core, each owning a shard of the connections,
// nothing shared between loops. Connection i belongs to loop i % N. Each loop
// thread is made in setup(), pins itself to one CPU of the model's placement
// (round-robin) when the run is placed, and then makes its own loop (an epoll
// instance, or an io_uring ring created by that thread, which
// SINGLE_ISSUER | DEFER_TASKRUN require) over its shard only: the single-loop
// model, unchanged, given a RunContext whose conns() is the shard and whose
// histogram is the thread's own.
//
// run(rounds) publishes the round count, bumps a generation word and wakes
// every loop with futex_wake; each loop runs its shard for `rounds` requests
// per connection and counts down; the last one wakes the caller, which sleeps
// in futex_wait on the countdown (as `threads` does). The loops' histograms
// are merged into the run's before run() returns. Every wait of a loop is
// bounded by the timeout on its own, and a dead peer ends each loop with the
// error its connections see.
//
// The server role on tcp (WorkloadOptions::model_listens) is a server's own
// shape instead: each loop thread makes its own listener on one shared port
// with SO_REUSEPORT, the load generator connects to that port once they all
// exist, and each loop accepts whatever connections the kernel hands its
// listener (src/models/tpc_listen.h). Set-up then runs in three phases, each
// started by a generation and ended by the countdown: the listeners; the
// accepting, while the generator connects; each loop taking its accepted
// sockets as its shard (which connection each is: the workload knows the
// generator's addresses) and setting up its loop. A loop the kernel gave no
// connection makes no loop and idles through every run.
#include "models/tpc.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "models/common.h"
#include "models/tpc_listen.h"
#include "sys/cpus.h"
#include "sys/time.h"

namespace iomodels::detail {

uint32_t tpc_thread_count(const RunOptions& options, const std::vector<int>& cpus,
                          size_t connections) {
  uint64_t n = options.threads;
  if (n == 0) {
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    n = !cpus.empty() ? cpus.size() : static_cast<uint64_t>(std::max(1L, online));
  }
  return static_cast<uint32_t>(std::max<uint64_t>(1, std::min<uint64_t>(n, connections)));
}

namespace {

// One loop thread and what it owns.
struct TpcShard {
  uint32_t index = 0;
  int cpu = -1;                       // pinned to it; -1 = not pinned
  std::vector<ClientConn> conns;      // connections index, index + N, ...; or as accepted
  Fd listener;                        // model_listens: this loop's SO_REUSEPORT listener
  std::vector<Accepted> accepted;     // model_listens: accepted, until set-up takes them
  std::vector<Fd> owned;              // model_listens: the accepted sockets, this shard's
  std::atomic<uint64_t> requests{0};  // completed since the window began
  RunContext ctx;                     // conns() = this shard, latency = its own histogram
  Histogram latency;                  // merged into the run's by run()
  std::unique_ptr<Model> loop;        // made, set up, run and destroyed on the thread
  std::thread thread;
  Status status;  // set-up's, then each run's; read once pending_ is 0
};

class ThreadPerCore final : public Model {
 public:
  ThreadPerCore(MakeLoop make_loop, std::string_view loop_name)
      : make_loop_(make_loop), loop_name_(loop_name) {}

  ~ThreadPerCore() override {
    // A loop can be inside a run only if run() gave up, and then the peer is
    // dead or the loop's own timeout ends it soon.
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    sys::futex_wake(&generation_, INT_MAX);
    for (auto& s : shards_)
      if (s->thread.joinable()) s->thread.join();
  }

  Status setup(RunContext& ctx) override {
    ctx_ = &ctx;
    if (ctx.options.threads > kMaxLoopThreads)
      return Status::error("threads: " + std::to_string(ctx.options.threads) + " is over " +
                           std::to_string(kMaxLoopThreads));
    const std::span<const ClientConn> all = ctx.conns();
    listening_ = ctx.workload->options().model_listens;
    connections_ = listening_ ? ctx.workload->options().connections : all.size();
    const uint32_t n = tpc_thread_count(ctx.options, ctx.cpus, connections_);
    asked_ = ctx.options.threads;
    // Held until every loop's listener is bound to the port, then let go.
    Fd port_holder;
    if (listening_) {
      if (Status s = reserve_reuseport_port(&port_holder, &port_); !s.ok()) return s;
      if (Status s = gate_.init(static_cast<uint32_t>(connections_)); !s.ok()) return s;
    }
    // Sized once: the threads hold pointers to their shards.
    shards_.reserve(n);
    for (uint32_t k = 0; k < n; ++k) {
      auto s = std::make_unique<TpcShard>();
      s->index = k;
      if (!ctx.cpus.empty()) s->cpu = ctx.cpus[k % ctx.cpus.size()];
      if (!listening_)
        for (size_t i = k; i < all.size(); i += n) s->conns.push_back(all[i]);
      s->ctx.workload = ctx.workload;
      s->ctx.options = ctx.options;
      s->ctx.latency = &s->latency;
      if (s->cpu >= 0) s->ctx.cpus = {s->cpu};
      s->ctx.shard = s->conns;
      shards_.push_back(std::move(s));
    }
    pending_.store(n, std::memory_order_relaxed);
    for (auto& s : shards_) {
      try {
        TpcShard* shard = s.get();
        s->thread = std::thread([this, shard] { serve(*shard); });
      } catch (const std::system_error& e) {
        // The loops made so far count down for set-up; the others never will.
        pending_.fetch_sub(static_cast<uint32_t>(n - s->index), std::memory_order_acq_rel);
        wait_all(nullptr);
        return Status::error("creating loop thread " + std::to_string(s->index + 1) + " of " +
                             std::to_string(n) + ": " + e.what());
      }
    }
    // Set-up makes no request: it waits for nothing outside this process.
    wait_all(nullptr);
    for (auto& s : shards_)
      if (!s->status.ok()) return s->status;
    if (listening_) {
      port_holder.reset();
      if (Status s = accept_connections(); !s.ok()) return s;
    }
    collect_facts();
    return {};
  }

  Status run(uint64_t rounds) override {
    if (rounds == 0) return {};
    rounds_ = rounds;
    for (auto& s : shards_) s->ctx.scheduled_ns = ctx_->scheduled_ns;
    start_generation();

    Status result = wait_run();
    for (auto& s : shards_) {
      if (result.ok() && !s->status.ok()) result = s->status;
      // Only a loop that recorded anything: a reset walks every bucket.
      if (s->latency.count() == 0 || ctx_->latency == nullptr) continue;
      ctx_->latency->merge(s->latency);
      s->latency.reset();
    }
    return result;
  }

  void begin_window() override {
    for (auto& s : shards_) s->requests.store(0, std::memory_order_relaxed);
  }

  // The facts set-up found, and, in the server role on tcp, the requests each
  // loop completed since the window began.
  std::vector<Fact> facts() const override {
    std::vector<Fact> out = facts_;
    if (listening_) {
      std::vector<uint64_t> requests;
      for (const auto& s : shards_) requests.push_back(s->requests.load(std::memory_order_relaxed));
      out.push_back({"requests_per_loop", per_loop_text(requests)});
    }
    out.insert(out.end(), loop_facts_.begin(), loop_facts_.end());
    return out;
  }

 private:
  // A loop thread's life: pin, (server role on tcp: listen, accept, take
  // its connections,) make and set up the loop, count down; then sleep until
  // run() starts a generation, run the shard, count down, repeat.
  void serve(TpcShard& s) {
    // Named for ps and /proc/self/task/*/comm ("epoll loop 3", at most 15
    // bytes) and on the timeline.
    const std::string name = loop_name_ + " loop " + std::to_string(s.index);
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
    if (Trace* t = Trace::active()) t->name_thread(name);
    if (s.cpu >= 0) s.status = sys::set_affinity({s.cpu});
    uint32_t seen = 0;  // the generation when setup() made this thread
    if (listening_) {
      if (s.status.ok()) s.status = make_reuseport_listener(port_, &s.listener);
      count_down();
      if (!next_generation(&seen)) return;
      // Until the connections of all loops add up, while the generator connects.
      if (s.status.ok())
        s.status = gate_.accept_share(s.listener.get(), ctx_->options.timeout_ns, &s.accepted);
      count_down();
      if (!next_generation(&seen)) return;
      if (s.status.ok()) take_accepted(s);
    }
    // A loop the kernel gave no connection has nothing to wait for.
    if (s.status.ok() && !s.conns.empty()) {
      s.loop = make_loop_();
      s.status = s.loop->setup(s.ctx);
    }
    count_down();
    // Idle between runs: no timeout, since run() is not waiting on this.
    while (next_generation(&seen)) {
      if (s.loop) {
        s.status = s.loop->run(rounds_);
      } else if (!s.conns.empty()) {
        s.status = Status::error("loop not set up");
      }
      if (s.status.ok()) s.requests.fetch_add(rounds_ * s.conns.size(), std::memory_order_relaxed);
      count_down();
    }
    // The loop's epoll instance or ring goes with the thread that made it.
    s.loop.reset();
  }

  // Sleeps until the driver starts the next generation (a set-up phase or a
  // run); false when the model is going away.
  bool next_generation(uint32_t* seen) {
    while (generation_.load(std::memory_order_acquire) == *seen)
      sys::futex_wait(&generation_, *seen, nullptr);
    *seen = generation_.load(std::memory_order_acquire);
    return !stop_.load(std::memory_order_relaxed);
  }

  // Every loop to work: a set-up phase or a run.
  void start_generation() {
    pending_.store(static_cast<uint32_t>(shards_.size()), std::memory_order_relaxed);
    // Release: a loop that sees the new generation also sees rounds_ and
    // what the phase before it left.
    generation_.fetch_add(1, std::memory_order_release);
    sys::futex_wake(&generation_, INT_MAX);
  }

  // The server role on tcp, once every loop listens: the generator connects
  // to the port while the loops accept (a listener's backlog is bounded, so
  // they must), then each loop takes what it accepted and sets up its loop.
  Status accept_connections() {
    start_generation();
    const Status connected = ctx_->workload->connect_generator_to(port_);
    if (!connected.ok()) gate_.abort();
    wait_all(nullptr);  // each loop bounds its accepting by the timeout
    if (!connected.ok()) return connected;
    for (auto& s : shards_)
      if (!s->status.ok()) return s->status;
    start_generation();
    wait_all(nullptr);
    size_t taken = 0;
    for (auto& s : shards_) {
      if (!s->status.ok()) return s->status;
      taken += s->conns.size();
    }
    if (taken != connections_)
      return Status::error("the loops' listeners accepted " + std::to_string(gate_.accepted()) +
                           " connections, " + std::to_string(taken) + " of them the " +
                           std::to_string(connections_) +
                           " of the load generator (another process connected to port " +
                           std::to_string(port_) + ")");
    return {};
  }

  // A loop's accepted sockets become its shard, in connection order, each
  // with the index the generator gave it (found by its peer's address). A
  // socket from anywhere else is closed.
  void take_accepted(TpcShard& s) {
    for (Accepted& a : s.accepted) {
      uint32_t index = 0;
      if (!ctx_->workload->generator_conn(a.peer, &index)) continue;
      s.conns.push_back(ClientConn{a.fd.get(), a.fd.get(), index});
      s.owned.push_back(std::move(a.fd));
    }
    s.accepted.clear();
    std::sort(s.conns.begin(), s.conns.end(),
              [](const ClientConn& a, const ClientConn& b) { return a.index < b.index; });
    s.ctx.shard = s.conns;
  }

  // One number per loop, in loop order; beyond 64 loops, the range.
  static std::string per_loop_text(const std::vector<uint64_t>& v) {
    if (v.empty()) return "";
    if (v.size() > 64) {
      const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      return std::to_string(*lo) + "-" + std::to_string(*hi) + " over " + std::to_string(v.size()) +
             " loops";
    }
    std::string out;
    for (uint64_t x : v) out += (out.empty() ? "" : " ") + std::to_string(x);
    return out;
  }

  void count_down() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) sys::futex_wake(&pending_, 1);
  }

  // Sleeps until every loop has counted down, or `limit` passes (nullptr:
  // no limit); true when they all have.
  bool wait_all(const timespec* limit) {
    for (;;) {
      const uint32_t left = pending_.load(std::memory_order_acquire);
      if (left == 0) return true;
      if (sys::futex_wait(&pending_, left, limit) == -ETIMEDOUT &&
          pending_.load(std::memory_order_acquire) != 0)
        return false;
    }
  }

  // Waits for the loops of a run. Each loop bounds its own waits by the
  // timeout and returns its error; this bound is the backstop: two timeouts
  // in a row without a request completed anywhere, and the peer is killed so
  // that every loop's connections see it gone.
  Status wait_run() {
    const timespec limit = sys::to_timespec(ctx_->options.timeout_ns);
    uint64_t seen = ctx_->workload->progress();
    int silent = 0;
    while (!wait_all(&limit)) {
      const uint64_t now_count = ctx_->workload->progress();
      silent = now_count == seen ? silent + 1 : 0;
      seen = now_count;
      if (silent < 2) continue;
      ctx_->workload->kill_peer();
      wait_all(&limit);  // after the kill, at most one more timeout
      return timed_out(*ctx_, "any loop thread to complete a request");
    }
    return {};
  }

  // What a result says of the shards: how many loops, how the connections
  // fall on them, where they run, and what each loop reports (its ring's
  // flags), one value per key when the loops agree.
  void collect_facts() {
    const size_t n = shards_.size();
    const size_t conns = connections_;
    facts_.push_back({"threads", std::to_string(n), true});
    // What --threads asked for (0: one per model CPU, or per online CPU),
    // and whether the connections cut it down.
    const uint32_t wanted = tpc_thread_count(ctx_->options, ctx_->cpus, SIZE_MAX);
    std::string asked = asked_ == 0 ? "0 = auto: " + std::to_string(wanted) +
                                          (ctx_->cpus.empty() ? " online CPUs" : " model CPUs")
                                    : std::to_string(asked_);
    if (wanted > n)
      asked += "; clamped to the " + std::to_string(conns) + " connections: a loop needs one";
    facts_.push_back({"threads_asked", asked});
    size_t lo = conns / n, hi = (conns + n - 1) / n;
    if (listening_) {
      // As the kernel spread them.
      lo = SIZE_MAX;
      hi = 0;
      for (const auto& s : shards_) {
        lo = std::min(lo, s->conns.size());
        hi = std::max(hi, s->conns.size());
      }
    }
    facts_.push_back(
        {"connections_per_thread",
         lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi)});
    facts_.push_back({"pinned", ctx_->cpus.empty() ? std::string("no (no --cpus placement)")
                                                   : "one CPU each, round-robin over " +
                                                         sys::cpu_list_text(ctx_->cpus)});
    if (listening_) {
      facts_.push_back({"listeners", "SO_REUSEPORT ×" + std::to_string(n) + " on port " +
                                         std::to_string(port_) + " (127.0.0.1)"});
      std::vector<uint64_t> per_loop;
      for (const auto& s : shards_) per_loop.push_back(s->conns.size());
      facts_.push_back({"connections_per_loop", per_loop_text(per_loop)});
    }
    std::vector<Fact> merged;
    for (const auto& s : shards_) {
      if (!s->loop) continue;  // a loop with no connection
      for (const Fact& f : s->loop->facts()) {
        auto it = std::find_if(merged.begin(), merged.end(),
                               [&](const Fact& m) { return m.key == f.key; });
        if (it == merged.end()) {
          merged.push_back(f);
        } else if (it->text != f.text && it->text.find(f.text) == std::string::npos) {
          it->text += " | " + f.text;
          it->is_number = false;
        }
      }
    }
    loop_facts_ = std::move(merged);
  }

  const MakeLoop make_loop_;
  const std::string loop_name_;
  RunContext* ctx_ = nullptr;
  uint32_t asked_ = 0;
  std::vector<std::unique_ptr<TpcShard>> shards_;
  std::vector<Fact> facts_;       // the driver's
  std::vector<Fact> loop_facts_;  // the loops', one value per key where they agree
  bool listening_ = false;        // WorkloadOptions::model_listens
  size_t connections_ = 0;
  uint16_t port_ = 0;  // the loops' listeners'
  AcceptGate gate_;
  uint64_t rounds_ = 0;                  // published by generation_
  std::atomic<uint32_t> generation_{0};  // futex word: bumped to start a run
  std::atomic<uint32_t> pending_{0};     // futex word: loops still busy
  std::atomic<bool> stop_{false};
};

}  // namespace

std::unique_ptr<Model> make_thread_per_core(MakeLoop make_loop, std::string_view loop_name) {
  return std::make_unique<ThreadPerCore>(make_loop, loop_name);
}

}  // namespace iomodels::detail
