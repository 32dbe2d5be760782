// Description: the latency histogram against exact statistics of random data,
// its merge and shared recording, its spectrum and its bucket arithmetic.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <type_traits>
#include <vector>

#include "measure/histogram.h"

using namespace iomodels;

namespace {

// The buckets live inside the object: recording touches no heap. (Counting
// allocations would need a global operator new for the whole test binary.)
static_assert(sizeof(Histogram) >= Histogram::kBuckets * sizeof(uint64_t));
static_assert(!std::is_polymorphic_v<Histogram>);

constexpr size_t kSamples = 1'000'000;

std::vector<uint64_t> draw(const std::function<double(std::mt19937_64&)>& f, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> v(kSamples);
  for (auto& x : v) x = static_cast<uint64_t>(std::max(0.0, f(rng)));
  return v;
}

// The ceil(q * n)-th smallest value, as Histogram::percentile defines it.
uint64_t exact_percentile(std::vector<uint64_t>& sorted, double q) {
  const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * sorted.size())));
  return sorted[rank - 1];
}

double rel_err(uint64_t got, uint64_t want) {
  if (want == 0) return got == 0 ? 0.0 : 1.0;
  return std::fabs(static_cast<double>(got) - static_cast<double>(want)) /
         static_cast<double>(want);
}

}  // namespace

TEST_CASE("histogram percentiles are within 1% of the exact ones", "[histogram]") {
  struct Dist {
    const char* name;
    std::function<double(std::mt19937_64&)> f;
  };
  const std::vector<Dist> dists = {
      {"log-uniform 100ns..100s",
       [](std::mt19937_64& r) {
         std::uniform_real_distribution<double> u(std::log(100.0), std::log(100e9));
         return std::exp(u(r));
       }},
      {"uniform 1us..2ms",
       [](std::mt19937_64& r) { return std::uniform_real_distribution<double>(1e3, 2e6)(r); }},
      {"exponential mean 1ms",
       [](std::mt19937_64& r) { return std::exponential_distribution<double>(1e-6)(r); }},
      {"bimodal 50us / 5ms",
       [](std::mt19937_64& r) {
         std::normal_distribution<double> a(50e3, 5e3), b(5e6, 5e5);
         return std::uniform_real_distribution<double>(0, 1)(r) < 0.9 ? a(r) : b(r);
       }},
      {"small values 0..1000ns",
       [](std::mt19937_64& r) { return std::uniform_real_distribution<double>(0, 1000)(r); }},
  };
  uint64_t seed = 42;
  for (const Dist& d : dists) {
    DYNAMIC_SECTION(d.name) {
      std::vector<uint64_t> v = draw(d.f, ++seed);
      auto h = std::make_unique<Histogram>();
      long double sum = 0;
      for (uint64_t x : v) {
        h->record(x);
        sum += x;
      }
      std::sort(v.begin(), v.end());
      CHECK(h->count() == kSamples);
      CHECK(h->min() == v.front());
      CHECK(h->max() == v.back());
      CHECK(h->mean() == Approx(static_cast<double>(sum / kSamples)).epsilon(1e-9));
      // q = 0 and 1 are the minimum's and the maximum's buckets.
      for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
        const uint64_t want = exact_percentile(v, q);
        const uint64_t got = h->percentile(q);
        INFO("q " << q << ": histogram " << got << " ns, exact " << want << " ns");
        CHECK(rel_err(got, want) <= 0.01);
      }
      CHECK(h->percentile(1.0) <= v.back());  // clamped to [min, max]
      CHECK(h->percentile(0.0) >= v.front());
    }
  }
}

TEST_CASE("an empty histogram reports zeros; reset empties it", "[histogram]") {
  auto h = std::make_unique<Histogram>();
  CHECK(h->count() == 0);
  CHECK(h->min() == 0);
  CHECK(h->max() == 0);
  CHECK(h->mean() == 0.0);
  CHECK(h->percentile(0.99) == 0);
  CHECK(h->spectrum().empty());
  h->record(1234);
  h->record(5'000'000);
  CHECK(h->count() == 2);
  CHECK(h->min() == 1234);
  CHECK(h->max() == 5'000'000);
  auto copy = std::make_unique<Histogram>(*h);
  h->reset();
  CHECK(h->count() == 0);
  CHECK(h->min() == 0);
  CHECK(h->percentile(0.5) == 0);
  CHECK(copy->count() == 2);  // the copy is independent
  CHECK(copy->max() == 5'000'000);
}

TEST_CASE("merging per-thread histograms equals one histogram of everything", "[histogram]") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> ln(std::log(100e3), 1.5);
  constexpr int kParts = 4;
  std::vector<std::unique_ptr<Histogram>> parts;
  for (int i = 0; i < kParts; ++i) parts.push_back(std::make_unique<Histogram>());
  auto all = std::make_unique<Histogram>();
  for (size_t i = 0; i < 200'000; ++i) {
    const auto x = static_cast<uint64_t>(ln(rng));
    all->record(x);
    parts[i % kParts]->record(x);
  }
  auto merged = std::make_unique<Histogram>();
  for (auto& p : parts) merged->merge(*p);
  merged->merge(Histogram());  // an empty one changes nothing
  CHECK(merged->count() == all->count());
  CHECK(merged->min() == all->min());
  CHECK(merged->max() == all->max());
  CHECK(merged->mean() == all->mean());
  CHECK(merged->spectrum() == all->spectrum());
  for (double q : {0.1, 0.5, 0.9, 0.99, 0.999}) CHECK(merged->percentile(q) == all->percentile(q));
}

TEST_CASE("record_shared from 4 threads counts exactly", "[histogram]") {
  constexpr int kThreads = 4;
  constexpr uint64_t kPer = 250'000;
  auto shared = std::make_unique<Histogram>();
  auto serial = std::make_unique<Histogram>();
  auto value = [](int t, uint64_t i) {
    return 100 + (i * 7919 + static_cast<uint64_t>(t)) % 10'000'000;
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (uint64_t i = 0; i < kPer; ++i) shared->record_shared(value(t, i));
    });
  for (auto& t : ts) t.join();
  for (int t = 0; t < kThreads; ++t)
    for (uint64_t i = 0; i < kPer; ++i) serial->record(value(t, i));
  CHECK(shared->count() == kThreads * kPer);
  CHECK(shared->min() == serial->min());
  CHECK(shared->max() == serial->max());
  CHECK(shared->mean() == serial->mean());
  CHECK(shared->spectrum() == serial->spectrum());
}

TEST_CASE("the spectrum is ascending and ends at 1.0", "[histogram]") {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> e(1.0 / 200e3);
  auto h = std::make_unique<Histogram>();
  for (int i = 0; i < 100'000; ++i) h->record(static_cast<uint64_t>(e(rng)));
  const auto s = h->spectrum();
  REQUIRE(!s.empty());
  for (size_t i = 1; i < s.size(); ++i) {
    CHECK(s[i].first > s[i - 1].first);
    CHECK(s[i].second > s[i - 1].second);
  }
  CHECK(s.front().second > 0.0);
  CHECK(s.back().second == 1.0);
  CHECK(s.back().first <= h->max());
  CHECK(s.front().first >= h->min());
  CHECK(static_cast<double>(s.back().first) >= 0.99 * static_cast<double>(h->max()));
}

TEST_CASE("bucket_of, bucket_low and bucket_high agree for every bucket", "[histogram]") {
  for (int b = 0; b < Histogram::kBuckets; ++b) {
    const uint64_t lo = Histogram::bucket_low(b);
    const uint64_t hi = Histogram::bucket_high(b);
    INFO("bucket " << b << " [" << lo << ", " << hi << ")");
    REQUIRE(hi > lo);
    REQUIRE(Histogram::bucket_of(lo) == b);
    REQUIRE(Histogram::bucket_of(hi - 1) == b);
    REQUIRE(Histogram::bucket_of(lo + (hi - lo) / 2) == b);
    if (b + 1 < Histogram::kBuckets) REQUIRE(Histogram::bucket_low(b + 1) == hi);
    if (b < Histogram::kLinear) {
      REQUIRE(hi - lo == 1);  // exact below 256 ns
    } else {
      // At most 1/128 of the value wide: half a bucket is <= 0.4%.
      REQUIRE(static_cast<double>(hi - lo) <= static_cast<double>(lo) / 128.0);
    }
  }
  CHECK(Histogram::bucket_of(0) == 0);
  // Values beyond the last octave land in the last bucket instead of overflowing.
  CHECK(Histogram::bucket_of(UINT64_MAX) == Histogram::kBuckets - 1);
  CHECK(Histogram::bucket_of(Histogram::bucket_high(Histogram::kBuckets - 1)) ==
        Histogram::kBuckets - 1);
  auto h = std::make_unique<Histogram>();
  h->record(UINT64_MAX / 4);
  CHECK(h->max() == UINT64_MAX / 4);
  CHECK(h->percentile(0.5) == UINT64_MAX / 4);  // clamped to [min, max]
}
