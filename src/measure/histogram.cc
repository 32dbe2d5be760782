// Description: the log-linear latency histogram.
#include "measure/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace iomodels {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

inline void owner_add(std::atomic<uint64_t>& a, uint64_t n) {
  a.store(a.load(kRelaxed) + n, kRelaxed);
}

inline void atomic_min(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t cur = a.load(kRelaxed);
  while (v < cur && !a.compare_exchange_weak(cur, v, kRelaxed)) {
  }
}

inline void atomic_max(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t cur = a.load(kRelaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, kRelaxed)) {
  }
}

}  // namespace

int Histogram::bucket_of(uint64_t ns) {
  if (ns < static_cast<uint64_t>(kLinear)) return static_cast<int>(ns);
  const int octave = std::bit_width(ns) - 1;  // >= kSubBits + 1
  if (octave > kMaxOctave) return kBuckets - 1;
  const int shift = octave - kSubBits;
  const int sub = static_cast<int>((ns >> shift) - (uint64_t{1} << kSubBits));
  return kLinear + (octave - kSubBits - 1) * (1 << kSubBits) + sub;
}

uint64_t Histogram::bucket_low(int b) {
  if (b < kLinear) return static_cast<uint64_t>(b);
  const int i = b - kLinear;
  const int octave = i / (1 << kSubBits) + kSubBits + 1;
  const int sub = i % (1 << kSubBits);
  return (uint64_t{1} << octave) + (static_cast<uint64_t>(sub) << (octave - kSubBits));
}

uint64_t Histogram::bucket_high(int b) {
  if (b < kLinear) return static_cast<uint64_t>(b) + 1;
  const int octave = (b - kLinear) / (1 << kSubBits) + kSubBits + 1;
  return bucket_low(b) + (uint64_t{1} << (octave - kSubBits));
}

Histogram& Histogram::operator=(const Histogram& o) {
  if (this == &o) return *this;
  for (int i = 0; i < kBuckets; ++i) buckets_[i].store(o.buckets_[i].load(kRelaxed), kRelaxed);
  count_.store(o.count_.load(kRelaxed), kRelaxed);
  sum_.store(o.sum_.load(kRelaxed), kRelaxed);
  min_.store(o.min_.load(kRelaxed), kRelaxed);
  max_.store(o.max_.load(kRelaxed), kRelaxed);
  return *this;
}

void Histogram::add(uint64_t ns, bool shared) {
  const int b = bucket_of(ns);
  if (shared) {
    buckets_[b].fetch_add(1, kRelaxed);
    count_.fetch_add(1, kRelaxed);
    sum_.fetch_add(ns, kRelaxed);
    atomic_min(min_, ns);
    atomic_max(max_, ns);
  } else {
    owner_add(buckets_[b], 1);
    owner_add(count_, 1);
    owner_add(sum_, ns);
    if (ns < min_.load(kRelaxed)) min_.store(ns, kRelaxed);
    if (ns > max_.load(kRelaxed)) max_.store(ns, kRelaxed);
  }
}

void Histogram::merge(const Histogram& o) {
  if (o.count() == 0) return;
  for (int i = 0; i < kBuckets; ++i) {
    const uint64_t n = o.buckets_[i].load(kRelaxed);
    if (n != 0) owner_add(buckets_[i], n);
  }
  owner_add(count_, o.count_.load(kRelaxed));
  owner_add(sum_, o.sum_.load(kRelaxed));
  atomic_min(min_, o.min_.load(kRelaxed));
  atomic_max(max_, o.max_.load(kRelaxed));
}

void Histogram::reset() {
  for (auto& b : buckets_) b.store(0, kRelaxed);
  count_.store(0, kRelaxed);
  sum_.store(0, kRelaxed);
  min_.store(UINT64_MAX, kRelaxed);
  max_.store(0, kRelaxed);
}

void Histogram::save(Raw* r) const {
  r->count = count_.load(kRelaxed);
  r->sum = sum_.load(kRelaxed);
  r->min = min_.load(kRelaxed);
  r->max = max_.load(kRelaxed);
  for (int i = 0; i < kBuckets; ++i) r->buckets[i] = buckets_[i].load(kRelaxed);
}

void Histogram::load(const Raw& r) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i].store(r.buckets[i], kRelaxed);
  count_.store(r.count, kRelaxed);
  sum_.store(r.sum, kRelaxed);
  min_.store(r.min, kRelaxed);
  max_.store(r.max, kRelaxed);
}

uint64_t Histogram::min() const { return count() == 0 ? 0 : min_.load(kRelaxed); }

double Histogram::mean() const {
  const uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum_.load(kRelaxed)) / static_cast<double>(n);
}

uint64_t Histogram::representative(int b) const {
  const uint64_t lo = bucket_low(b);
  const uint64_t mid = lo + (bucket_high(b) - lo - 1) / 2;
  return std::clamp(mid, min(), max());
}

uint64_t Histogram::percentile(double q) const {
  const uint64_t n = count();
  if (n == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(n))));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[b].load(kRelaxed);
    if (seen >= rank) return representative(b);
  }
  return max();
}

std::vector<std::pair<uint64_t, double>> Histogram::spectrum() const {
  std::vector<std::pair<uint64_t, double>> out;
  const uint64_t n = count();
  if (n == 0) return out;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    const uint64_t c = buckets_[b].load(kRelaxed);
    if (c == 0) continue;
    seen += c;
    out.emplace_back(representative(b), static_cast<double>(seen) / static_cast<double>(n));
  }
  return out;
}

}  // namespace iomodels
