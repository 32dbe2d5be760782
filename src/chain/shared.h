// Description: what the chain's processes share: the options every service
// is started with, the message on the wire (id, A's time, verified payload),
// the per-request records A and C append to files, and the counters in a
// shared mapping that the coordinator samples every 100 ms.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "measure/recorder.h"  // now_ns(): the clock of every timestamp here

namespace iomodels::chain {

enum class Mode { kSync, kQueue };
enum class Role { kA = 0, kB = 1, kC = 2 };
inline constexpr int kRoles = 3;
inline const char* role_name(Role r) { return r == Role::kA ? "A" : r == Role::kB ? "B" : "C"; }
inline const char* mode_name(Mode m) { return m == Mode::kSync ? "sync" : "queue"; }

// What each service process is told on its command line.
struct ServiceOptions {
  Mode mode = Mode::kSync;
  Role role = Role::kA;
  std::string dir;     // the run's directory: records and the shared counters
  uint64_t t0_ns = 0;  // CLOCK_MONOTONIC start of the load, the same in every process
  uint64_t rate = 500;
  uint64_t duration_ns = 6'000'000'000ull;
  uint64_t work_ns = 100'000;
  uint64_t size = 256;
  uint64_t workers = 8;   // B's pool (sync mode)
  uint64_t callers = 64;  // A's calls in flight at most
  uint64_t timeout_ns = 5'000'000'000ull;
  int port_b = 0, port_c = 0;  // sync mode: loopback TCP ports
  std::string broker;          // queue mode: nats://HOST:PORT
  std::string prefix;          // queue mode: stream names' prefix (unique per run)
};

// The message A sends (both modes): a header, then `size` payload bytes that
// are a function of the id, verified by C.
struct MsgHeader {
  uint64_t id;
  uint64_t a_ns;  // when A handed the request on
  uint32_t size;
  uint32_t pad;
};
static_assert(sizeof(MsgHeader) == 24);

// A sync-mode answer, C -> B -> A.
struct Reply {
  uint64_t id;
  uint32_t status;  // 0: done at C; otherwise a ReplyStatus
  uint32_t pad;
};
enum ReplyStatus : uint32_t { kOk = 0, kBadPayload = 1, kBTimeout = 2, kBNoWorker = 3, kBNoC = 4 };

// One line of A's record file per request, written when it finished.
struct ARecord {
  uint64_t id;
  uint64_t sched_ns;  // when it was due (open loop: latency counts from here)
  uint64_t done_ns;   // when A had its answer (sync) or the broker's ack (queue)
  uint32_t status;    // 0 accepted; 1 error; 2 timeout
  uint32_t pad;
};
enum AStatus : uint32_t { kAccepted = 0, kError = 1, kTimeout = 2 };

// One record of C's file per message it finished (before it acknowledges:
// a crash between the two makes the redelivered copy a counted duplicate).
struct CRecord {
  uint64_t id;
  uint64_t a_ns;
  uint64_t done_ns;
  uint32_t ok;  // payload verified
  uint32_t pad;
};

// Counters in a file every process maps (MAP_SHARED): written by the
// services, read by the coordinator's sampler. Lock-free atomics only.
struct SharedCounters {
  std::atomic<uint64_t> ready[kRoles];
  std::atomic<uint64_t> slow_factor[kRoles];  // set by the coordinator's slow faults
  std::atomic<uint64_t> a_outstanding;        // A: due but not answered
  std::atomic<uint64_t> a_sent;
  std::atomic<uint64_t> b_busy;  // B's workers in a request
  std::atomic<uint64_t> b_errors;
  std::atomic<uint64_t> b_timeouts;
  std::atomic<uint64_t> c_bad;  // C: payloads that failed verification
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

inline std::string counters_path(const std::string& dir) { return dir + "/counters"; }
inline std::string a_records_path(const std::string& dir) { return dir + "/a.records"; }
inline std::string c_records_path(const std::string& dir) { return dir + "/c.records"; }

// Maps the counters file (created and sized by the coordinator); nullptr on failure.
SharedCounters* map_counters(const std::string& dir, bool create);

// The payload of message `id`, `n` bytes; checked by C.
void fill_message(uint64_t id, uint64_t a_ns, uint32_t size, std::vector<uint8_t>* out);
bool verify_message(const uint8_t* data, size_t n, MsgHeader* h);

// Burns CPU for `ns` (a service's "little work").
void spin_for(uint64_t ns);

}  // namespace iomodels::chain
