// Description: the scenario flags shared by the frontends, validated into a
// Scenario with one-line errors that name the flag; atomic result files.
#include "frontend/frontend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "models/uring_ladder.h"
#include "peer/hello.h"
#include "peer/payload.h"
#include "sys/cpus.h"
#include "workload/parse.h"

namespace iomodels::frontend {

uint64_t flag_count(const std::string& flag, const std::string& text, uint64_t lo, uint64_t hi) {
  uint64_t v;
  std::string why;
  if (!parse_count(text, lo, hi, &v, &why)) throw UsageError(flag + ": " + why);
  return v;
}

Pattern flag_pattern(const std::string& flag, const std::string& text) {
  Pattern p;
  if (!parse_pattern(text, &p))
    throw UsageError(flag + ": '" + text + "' must be free or lockstep");
  return p;
}

PeerLoopChoice flag_peer_loop(const std::string& flag, const std::string& text) {
  PeerLoopChoice c;
  std::string why;
  if (!parse_peer_loop(text, &c, &why)) throw UsageError(flag + ": " + why);
  if (c == PeerLoopChoice::kUring && !uring_peer_available(&why))
    throw UsageError(flag + ": uring: " + why);
  return c;
}

void flag_cpus(const std::string& flag, const std::string& text, Scenario* sc) {
  sc->model_cpus.clear();
  sc->workload.peer_cpus.clear();
  const bool forked_peer =
      sc->workload.transport != Transport::kFile && sc->workload.remote.empty();
  const sys::CpuList allowed = sys::affinity();
  if (text == "none") return;
  if (text == "auto") {
    if (!forked_peer || allowed.size() < 2) return;
    sc->workload.peer_cpus = {allowed.back()};
    sc->model_cpus.assign(allowed.begin(), allowed.end() - 1);
    return;
  }
  // "model=0,2,peer=1": a part runs until the next "name=".
  std::string model_text, peer_text, *part = nullptr;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    if (item.rfind("model=", 0) == 0) {
      part = &model_text;
      *part = item.substr(6);
    } else if (item.rfind("peer=", 0) == 0) {
      part = &peer_text;
      *part = item.substr(5);
    } else if (part != nullptr && !item.empty()) {
      *part += "," + item;
    } else {
      throw UsageError(flag + ": '" + text + "' must be auto, none or model=LIST,peer=LIST");
    }
    pos = comma + 1;
  }
  const auto cpu_list = [&](const std::string& what, const std::string& list) {
    sys::CpuList cpus;
    std::string why;
    if (!sys::parse_cpu_list(list, &cpus, &why)) throw UsageError(flag + ": " + what + why);
    for (int c : cpus)
      if (!std::binary_search(allowed.begin(), allowed.end(), c))
        throw UsageError(flag + ": " + what + "CPU " + std::to_string(c) +
                         " is not one this process may use (" + sys::cpu_list_text(allowed) + ")");
    return cpus;
  };
  if (!model_text.empty() || text.find("model=") != std::string::npos)
    sc->model_cpus = cpu_list("model: ", model_text);
  if (!peer_text.empty() || text.find("peer=") != std::string::npos) {
    if (!forked_peer)
      throw UsageError(flag + ": peer= needs a forked peer (not --transport file or --peer)");
    sc->workload.peer_cpus = cpu_list("peer: ", peer_text);
  }
}

uint64_t flag_duration(const std::string& flag, const std::string& text) {
  uint64_t v;
  std::string why;
  if (!parse_duration(text, &v, &why)) throw UsageError(flag + ": " + why);
  return v;
}

uint64_t flag_size(const std::string& flag, const std::string& text, uint64_t lo, uint64_t hi) {
  uint64_t v;
  std::string why;
  if (!parse_size(text, &v, &why)) throw UsageError(flag + ": " + why);
  if (v < lo || v > hi)
    throw UsageError(flag + ": '" + text + "' is outside " + std::to_string(lo) + ".." +
                     std::to_string(hi) + " bytes");
  return v;
}

Transport flag_transport(const std::string& flag, const std::string& text) {
  Transport t;
  std::string why;
  if (!parse_transport(text, &t, &why)) throw UsageError(flag + ": " + why);
  return t;
}

LatencySpec flag_latency(const std::string& flag, const std::string& text) {
  LatencySpec l;
  std::string why;
  if (!parse_latency(text, &l, &why)) throw UsageError(flag + ": " + why);
  return l;
}

bool flag_on_off(const std::string& flag, const std::string& text) {
  if (text != "on" && text != "off") throw UsageError(flag + ": '" + text + "' must be on or off");
  return text == "on";
}

void flag_model(const std::string& flag, const std::string& text) {
  if (find_model(text) == nullptr)
    throw UsageError(flag + ": unknown model '" + text + "' (see: iomodels list)");
}

namespace {

// Which of ScenarioFlagParts a flag belongs to.
enum class FlagGroup { kWorkload, kModel, kSwitch };

// One scenario flag: its group, CLI11 names, the member it binds, its help,
// and whether the help shows the default (a flag whose default depends on
// others says it in its help instead).
struct FlagRow {
  FlagGroup group;
  const char* names;
  std::string ScenarioFlags::*member;
  const char* help;
  bool show_default = true;
};

// Every scenario flag, in the order --help lists them. The values are
// checked, and their combinations, in to_scenario().
const FlagRow kFlagRows[] = {
    {FlagGroup::kModel, "-m,--model", &ScenarioFlags::model, "I/O model (see: iomodels list)"},
    {FlagGroup::kModel, "-r,--requests", &ScenarioFlags::requests,
     "requests per connection, timed"},
    {FlagGroup::kModel, "--threads", &ScenarioFlags::threads,
     "thread-per-core models (epoll-tpc, uring-tpc) only: event-loop threads, 0..1024, each "
     "owning connections i % N, pinned one CPU each under --cpus; clamped to --connections "
     "[default: 0 = one per model CPU (--cpus), else one per online CPU]",
     false},
    {FlagGroup::kModel, "--ladder-steps", &ScenarioFlags::ladder_steps,
     "uring-ladder only: the io_uring feature ladder's steps in force, a comma list of "
     "batch-wait, ring-fd, fixed-files, multishot, coop-taskrun, defer-taskrun, bundle, send-zc, "
     "sqpoll, or all | none (a plain proactor); a step that cannot apply is left out "
     "(iomodels ladder --help says why each would)"},
    {FlagGroup::kWorkload, "-t,--transport", &ScenarioFlags::transport,
     "pipe | socketpair | tcp (to the peer) | file (reads of a data file, no peer)"},
    {FlagGroup::kWorkload, "-c,--connections", &ScenarioFlags::connections,
     "connections to the peer, 1..10000 (file: reads in flight)"},
    {FlagGroup::kWorkload, "-s,--size", &ScenarioFlags::size,
     "response size, 1B..1MiB (e.g. 64, 4KiB, 1MiB; file: bytes per read)"},
    {FlagGroup::kWorkload, "-l,--latency", &ScenarioFlags::latency,
     "peer think time: 0 | 250us | 1ms (constant: the connections fall in step) | uniform:A-B "
     "| exp:MEAN [default: uniform:0.5ms-1.5ms, jittered about 1ms; file: 0, it has no peer]",
     false},
    {FlagGroup::kWorkload, "--file", &ScenarioFlags::file,
     "file transport: the data file to create and fill (reused when it already holds iomodels' "
     "data) [default: an unnamed file in /dev/shm]",
     false},
    {FlagGroup::kWorkload, "--file-size", &ScenarioFlags::file_size,
     "file transport: size of the data file"},
    {FlagGroup::kWorkload, "--pool-threads", &ScenarioFlags::pool_threads,
     "threadpool workers (0 = one per core)"},
    {FlagGroup::kWorkload, "--poll-interval", &ScenarioFlags::poll_interval,
     "polling-sleep: sleep between sweeps"},
    {FlagGroup::kWorkload, "--timeout", &ScenarioFlags::timeout,
     "fail when no request completes for this long"},
    {FlagGroup::kSwitch, "--verify", &ScenarioFlags::verify, "check every payload byte: on | off"},
    {FlagGroup::kSwitch, "--histogram", &ScenarioFlags::histogram,
     "time every request and record its latency: on | off (off: no percentiles)"},
    {FlagGroup::kSwitch, "--counters", &ScenarioFlags::counters,
     "count every syscall, EAGAIN and io_uring_enter: on | off (off: no syscalls/request)"},
    {FlagGroup::kSwitch, "--trace-hooks", &ScenarioFlags::trace_hooks,
     "look for a timeline at every request: on | off (off: no --trace)"},
    {FlagGroup::kWorkload, "--seed", &ScenarioFlags::seed, "seed of the peer's latency draws"},
    {FlagGroup::kWorkload, "--peer-spin", &ScenarioFlags::peer_spin,
     "peer spins this long before each deadline (precise, burns a peer core)"},
    {FlagGroup::kWorkload, "--peer", &ScenarioFlags::peer,
     "HOST:PORT of a peer started with `iomodels peer` (tcp), or several, comma-separated "
     "(A:7000,B:7000): connection i goes to peer i % P, and their statistics are summed",
     false},
    {FlagGroup::kWorkload, "--peer-token", &ScenarioFlags::peer_token,
     "the token that peer asks for, or one per peer (T1,T2: exactly as many as --peer gives) "
     "(better: the environment variable IOMODELS_PEER_TOKEN, which ps does not show)",
     false},
    {FlagGroup::kWorkload, "--rate", &ScenarioFlags::rate,
     "client role, open loop: rounds at R requests/s per connection (decimals allowed), latency "
     "from the scheduled time (0 = closed loop)"},
    {FlagGroup::kWorkload, "--role", &ScenarioFlags::role,
     "client: the model asks, the peer answers after --latency (a device) | server: the peer "
     "sends requests at --offered and the model answers them"},
    {FlagGroup::kWorkload, "--offered", &ScenarioFlags::offered,
     "server role: the load, in requests/s over all connections, each an equal share (e.g. "
     "20000 or 20k)",
     false},
    {FlagGroup::kWorkload, "--arrivals", &ScenarioFlags::arrivals,
     "server role: each connection's requests come at a fixed interval (uniform, at a random "
     "phase) or at exponential intervals (poisson)"},
    {FlagGroup::kWorkload, "--cpus", &ScenarioFlags::cpus,
     "placement: none (the scheduler decides) | auto (the peer on the last CPU, the model on "
     "the others) | model=LIST,peer=LIST (e.g. model=0,peer=1-3)"},
    {FlagGroup::kWorkload, "--peer-loop", &ScenarioFlags::peer_loop,
     "how the forked peer moves bytes: auto (io_uring where the kernel allows, else epoll) | "
     "uring | epoll (read/write, for comparison)"},
    {FlagGroup::kWorkload, "--peer-threads", &ScenarioFlags::peer_threads,
     "the forked peer's serving threads, 1..64, each its own loop (or load generator) over "
     "connections i % N, pinned to the k-th CPU of --cpus peer=; no more than --connections"},
    {FlagGroup::kWorkload, "--pattern", &ScenarioFlags::pattern,
     "closed loop: free (each connection asks again as soon as its response is in) | lockstep "
     "(rounds: all ask together, wait for all)"},
};

}  // namespace

std::vector<std::string> flag_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw UsageError(flag + ": empty item in '" + text + "'");
    out.push_back(std::move(item));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

uint32_t flag_ladder_steps(const std::string& flag, const std::string& text) {
  if (text == "all") return ~0u;
  if (text == "none") return kLadderBase;
  uint32_t mask = 0;
  for (const std::string& name : flag_list(flag, text)) {
    const LadderStepInfo* step = find_ladder_step(name);
    if (step == nullptr) {
      std::string names;
      for (const LadderStepInfo& s : ladder_steps())
        names += (names.empty() ? "" : ", ") + std::string(s.name);
      throw UsageError(flag + ": '" + name + "' is not a step (" + names + ", or all | none)");
    }
    mask |= ladder_bit(step->step);
  }
  return mask;
}

void ScenarioFlags::add_to(CLI::App* app, ScenarioFlagParts parts) {
  for (const FlagRow& row : kFlagRows) {
    if ((row.group == FlagGroup::kModel && !parts.model) ||
        (row.group == FlagGroup::kSwitch && !parts.switches))
      continue;
    CLI::Option* o = app->add_option(row.names, this->*row.member, row.help);
    if (row.show_default) o->capture_default_str();
    if (row.member == &ScenarioFlags::threads)
      o->each([this](const std::string&) { threads_given = true; });
    if (row.member == &ScenarioFlags::ladder_steps)
      o->each([this](const std::string&) { ladder_steps_given = true; });
    // The one flag that takes no value sits with the file transport's.
    if (std::string_view(row.names) == "--file-size")
      app->add_flag("--direct", direct,
                    "file transport: open with O_DIRECT (past the page cache; --size a multiple "
                    "of 4KiB; not on tmpfs)");
  }
}

void ScenarioFlags::add_switches_to(CLI::App* app) {
  for (const FlagRow& row : kFlagRows)
    if (row.group == FlagGroup::kSwitch)
      app->add_option(row.names, this->*row.member, row.help)->capture_default_str();
}

Scenario ScenarioFlags::to_scenario() const {
  Scenario sc;
  flag_model("--model", model);
  sc.model = model;
  sc.workload.transport = flag_transport("--transport", transport);
  sc.workload.connections =
      static_cast<uint32_t>(flag_count("--connections", connections, 1, kMaxConnections));
  sc.workload.size = static_cast<uint32_t>(flag_size("--size", size, 1, kMaxResponseBytes));
  const bool file = sc.workload.transport == Transport::kFile;
  sc.workload.latency =
      flag_latency("--latency", latency.empty() ? (file ? "0" : kDefaultLatency) : latency);
  if (file && sc.workload.latency.bound_ns() != 0)
    throw UsageError(
        "--latency: the file transport has no peer to add think time (the device's own time is "
        "what is measured)");
  if (!file && (!this->file.empty() || direct))
    throw UsageError(std::string(direct ? "--direct" : "--file") + ": needs --transport file");
  sc.workload.file_path = this->file;
  if (!this->file.empty()) {
    // The data file is read, or created and filled: a FIFO there would block
    // the open, a device or directory is not a data file.
    struct stat st {};
    if (::stat(this->file.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw UsageError("--file: '" + this->file + "' is " +
                       (S_ISFIFO(st.st_mode)  ? "a FIFO"
                        : S_ISDIR(st.st_mode) ? "a directory"
                                              : "not a regular file") +
                       "; the file transport reads a regular file");
  }
  sc.workload.file_bytes = flag_size("--file-size", file_size, kFileAlign, uint64_t{1} << 40);
  if (sc.workload.file_bytes % kFileAlign != 0)
    throw UsageError("--file-size: '" + file_size + "' is not a multiple of 4KiB");
  sc.workload.direct = direct;
  if (file && sc.workload.size > sc.workload.file_bytes)
    throw UsageError("--size: larger than the data file (--file-size " + file_size + ")");
  if (direct && sc.workload.size % kFileAlign != 0)
    throw UsageError("--size: --direct reads whole 4KiB blocks; '" + size +
                     "' is not a multiple of 4KiB");
  sc.workload.seed = flag_count("--seed", seed, 0, UINT64_MAX);
  sc.workload.peer_spin_ns = flag_duration("--peer-spin", peer_spin);
  sc.workload.remote = peer;
  sc.workload.peer_token = peer_token;
  if (peer_token.empty())
    if (const char* env = std::getenv("IOMODELS_PEER_TOKEN"); env != nullptr && !peer.empty())
      sc.workload.peer_token = env;
  if (!peer_token.empty() && peer.empty())
    throw UsageError("--peer-token: only for a remote peer (--peer HOST:PORT)");
  if (!peer.empty()) {
    std::string why;
    std::vector<PeerAddress> peers;
    if (!parse_peer_list(peer, sc.workload.peer_token, &peers, &why))
      throw UsageError("--peer: " + why);
    if (sc.workload.transport != Transport::kTcp)
      throw UsageError("--peer: a remote peer needs --transport tcp");
    for (const PeerAddress& p : peers)
      if (p.token.size() > kHelloTokenBytes)
        throw UsageError("--peer-token: at most " + std::to_string(kHelloTokenBytes) +
                         " bytes (a peer's)");
  }
  sc.rounds = flag_count("--requests", requests, 1, 100'000'000);
  // 0 in any spelling (0, 0.0, 00) is the closed loop; any other rate, open.
  const bool zero_rate = !rate.empty() && rate.find_first_not_of("0.") == std::string::npos &&
                         rate.find_first_of("0") != std::string::npos &&
                         std::count(rate.begin(), rate.end(), '.') <= 1;
  sc.rate_per_s = zero_rate ? 0 : flag_rate("--rate", rate, 1e6);
  sc.workload.role = flag_role("--role", role);
  sc.workload.arrivals = flag_arrivals("--arrivals", arrivals);
  if (sc.workload.role == Role::kServer) {
    if (offered.empty())
      throw UsageError(
          "--offered: the server role needs a load, e.g. --offered 20000 "
          "(requests/s over all connections)");
    sc.workload.offered_per_s = flag_rate("--offered", offered, 1e8);
    if (file) throw UsageError("--role: server needs a peer; the file transport has none");
    if (!peer.empty())
      throw UsageError("--role: server needs the local peer (it generates the load), not --peer");
    if (!latency.empty() && sc.workload.latency.bound_ns() != 0)
      throw UsageError("--latency: the server role has no think time: the model is the server");
    sc.workload.latency = LatencySpec{};
    if (sc.rate_per_s > 0)
      throw UsageError("--rate: paces the client role; the server role's load is --offered");
    if (pattern != "free")
      throw UsageError(
          "--pattern: a client-role choice; in the server role the peer's "
          "schedule decides when requests come");
  } else {
    if (!offered.empty()) throw UsageError("--offered: only with --role server");
    if (arrivals != "uniform") throw UsageError("--arrivals: only with --role server");
  }
  sc.pattern = flag_pattern("--pattern", pattern);
  flag_cpus("--cpus", cpus, &sc);
  sc.workload.peer_loop = flag_peer_loop("--peer-loop", peer_loop);
  sc.workload.peer_threads =
      static_cast<uint32_t>(flag_count("--peer-threads", peer_threads, 1, kMaxPeerThreads));
  if (sc.workload.peer_threads > 1 && (file || !peer.empty()))
    throw UsageError(std::string("--peer-threads: only for the forked peer (") +
                     (file ? "the file transport has none" : "give it to `iomodels peer` there") +
                     ")");
  sc.run.pool_threads = static_cast<uint32_t>(flag_count("--pool-threads", pool_threads, 0, 4096));
  if (threads_given || !threads.empty()) {
    sc.run.threads = static_cast<uint32_t>(flag_count("--threads", threads, 0, kMaxLoopThreads));
    if (!find_model(model)->thread_per_core) {
      std::string tpc;
      for (const ModelInfo* m : all_models())
        if (m->thread_per_core) tpc += (tpc.empty() ? "" : ", ") + std::string(m->name);
      throw UsageError("--threads: only for the thread-per-core models (" + tpc + "), not " +
                       model);
    }
  }
  if (ladder_steps_given) {
    sc.run.ladder_steps = flag_ladder_steps("--ladder-steps", ladder_steps);
    if (model != "uring-ladder")
      throw UsageError("--ladder-steps: only for uring-ladder, not " + model);
  }
  sc.run.poll_interval_ns = flag_duration("--poll-interval", poll_interval);
  sc.run.timeout_ns = flag_duration("--timeout", timeout);
  if (sc.run.timeout_ns < 1'000'000) throw UsageError("--timeout: must be at least 1ms");
  // Every wait is bounded by --timeout: a sleep between checks longer than
  // it would outlast the watchdog.
  if (sc.run.poll_interval_ns > sc.run.timeout_ns)
    throw UsageError("--poll-interval: " + poll_interval + " is longer than --timeout " + timeout);
  sc.run.verify = flag_on_off("--verify", verify);
  sc.run.histogram = flag_on_off("--histogram", histogram);
  sc.run.counters = flag_on_off("--counters", counters);
  sc.run.trace_hooks = flag_on_off("--trace-hooks", trace_hooks);
  return sc;
}

double flag_percent(const std::string& flag, const std::string& text, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  const bool digits = !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos;
  if (!digits || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "' is not a percentage from %g to %g", lo, hi);
    throw UsageError(flag + ": '" + text + buf);
  }
  return v / 100;
}

double flag_rate(const std::string& flag, const std::string& text, double hi) {
  double mult = 1;
  std::string num = text;
  if (!num.empty() && (num.back() == 'k' || num.back() == 'K')) {
    mult = 1e3;
    num.pop_back();
  } else if (!num.empty() && num.back() == 'M') {
    mult = 1e6;
    num.pop_back();
  }
  size_t used = 0;
  double v = 0;
  const bool digits = !num.empty() && num.find_first_not_of("0123456789.") == std::string::npos;
  try {
    if (digits) v = std::stod(num, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (!digits || used != num.size())
    throw UsageError(flag + ": '" + text +
                     "' is not a rate (a number of requests/s: 500, 2.5, 20k)");
  v *= mult;
  if (!(v > 0) || v > hi) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f", hi);
    throw UsageError(flag + ": '" + text + "' is out of range (above 0, at most " + buf +
                     " requests/s)");
  }
  return v;
}

Role flag_role(const std::string& flag, const std::string& text) {
  Role r;
  std::string why;
  if (!parse_role(text, &r, &why)) throw UsageError(flag + ": " + why);
  return r;
}

Arrivals flag_arrivals(const std::string& flag, const std::string& text) {
  Arrivals a;
  std::string why;
  if (!parse_arrivals(text, &a, &why)) throw UsageError(flag + ": " + why);
  return a;
}

}  // namespace iomodels::frontend
