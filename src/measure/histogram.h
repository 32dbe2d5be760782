// Description: a log-linear latency histogram (HdrHistogram-like): exact below
// 256 ns, then 128 linear buckets per power of two, so any recorded value is
// reported within 0.4% (half a bucket). Fixed size; recording never allocates.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace iomodels {

class Histogram {
 public:
  static constexpr int kSubBits = 7;     // 128 buckets per octave: <= 0.78% wide
  static constexpr int kMaxOctave = 42;  // 2^43 ns ~ 2.4 hours: far beyond any timeout
  static constexpr int kLinear = 1 << (kSubBits + 1);  // 0..255 ns recorded exactly
  static constexpr int kBuckets = kLinear + (kMaxOctave - kSubBits) * (1 << kSubBits);

  Histogram() = default;
  Histogram(const Histogram& o) { *this = o; }
  Histogram& operator=(const Histogram& o);

  // From the owning thread only (no locked instruction).
  void record(uint64_t ns) { add(ns, false); }
  // From any thread at once (relaxed atomic increments).
  void record_shared(uint64_t ns) { add(ns, true); }
  void merge(const Histogram& o);
  void reset();

  // The whole state as plain numbers, to carry a histogram to another
  // process (the load generator's, over its control socket) and back.
  struct Raw {
    uint64_t count, sum, min, max;
    std::array<uint64_t, kBuckets> buckets;
  };
  void save(Raw* r) const;
  void load(const Raw& r);

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t min() const;
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  double mean() const;
  // Value at quantile q in [0, 1]: the midpoint of the bucket holding the
  // ceil(q * count)-th smallest value, clamped to [min, max]. 0 when empty.
  uint64_t percentile(double q) const;
  // The whole distribution: (bucket's representative value in ns, fraction of
  // values <= it), one entry per non-empty bucket, ascending.
  std::vector<std::pair<uint64_t, double>> spectrum() const;

  static int bucket_of(uint64_t ns);
  static uint64_t bucket_low(int b);
  static uint64_t bucket_high(int b);  // exclusive

 private:
  void add(uint64_t ns, bool shared);
  uint64_t representative(int b) const;

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> min_{UINT64_MAX};
  std::atomic<uint64_t> max_{0};
};

}  // namespace iomodels
