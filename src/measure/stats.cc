// Description: medians, intervals and shifts of repeated measurements, and
// the Mann-Whitney U test.
#include "measure/stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace iomodels::stats {

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b) {
  const double n1 = static_cast<double>(a.size());
  const double n2 = static_cast<double>(b.size());
  if (a.empty() || b.empty()) return 1.0;
  // Ranks over both samples together, ties sharing their mean rank.
  std::vector<std::pair<double, int>> all;
  for (double x : a) all.emplace_back(x, 0);
  for (double x : b) all.emplace_back(x, 1);
  std::sort(all.begin(), all.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
  const double n = n1 + n2;
  double rank_sum_a = 0;
  double tie_term = 0;  // sum of t^3 - t over the groups of ties
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 0) rank_sum_a += mean_rank;
    tie_term += t * t * t - t;
    i = j;
  }
  const double u = rank_sum_a - n1 * (n1 + 1) / 2;
  const double mean_u = n1 * n2 / 2;
  const double var_u = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (var_u <= 0) return 1.0;
  const double z = std::max(0.0, std::fabs(u - mean_u) - 0.5) / std::sqrt(var_u);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

Interval median_interval(std::vector<double> v, double level) {
  if (v.empty()) return {std::nan(""), std::nan(""), std::nan("")};
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  // below[k] = P(Bin(n, 1/2) < k), from the binomial's probabilities.
  std::vector<double> pmf(n + 1);
  double p = std::pow(0.5, static_cast<double>(n));
  for (size_t i = 0; i <= n; ++i) {
    pmf[i] = p;
    p = p * static_cast<double>(n - i) / static_cast<double>(i + 1);
  }
  const auto coverage = [&](size_t k) {
    double below = 0;
    for (size_t i = 0; i < k; ++i) below += pmf[i];
    return 1 - 2 * below;
  };
  size_t k = 1;
  while (k + 1 <= (n + 1) / 2 && coverage(k + 1) >= level) ++k;
  return {v[k - 1], v[n - k], coverage(k)};
}

Shift hodges_lehmann(const std::vector<double>& d, double level) {
  Shift out;
  const size_t n = d.size();
  if (n == 0) {
    out.estimate = std::nan("");
    out.interval = {std::nan(""), std::nan(""), std::nan("")};
    return out;
  }
  std::vector<double> walsh;
  walsh.reserve(n * (n + 1) / 2);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i; j < n; ++j) walsh.push_back((d[i] + d[j]) / 2);
  std::sort(walsh.begin(), walsh.end());
  const size_t m = walsh.size();
  out.estimate = m % 2 ? walsh[m / 2] : (walsh[m / 2 - 1] + walsh[m / 2]) / 2;
  // The null distribution of T+ (the sum of the ranks of the positive
  // differences), each rank in or out with probability 1/2: ways[t] counts
  // the subsets of ranks 1..n that sum to t, out of 2^n (exact in a double
  // up to n = 1000).
  std::vector<double> ways(m + 1, 0.0);
  ways[0] = 1;
  for (size_t r = 1; r <= n; ++r)
    for (size_t t = r * (r + 1) / 2; t >= r; --t) ways[t] += ways[t - r];
  const double all = std::pow(2.0, static_cast<double>(n));
  const auto coverage = [&](size_t k) {  // 1 - 2 P(T+ < k)
    double below = 0;
    for (size_t t = 0; t < k; ++t) below += ways[t];
    return 1 - 2 * below / all;
  };
  size_t k = 1;
  while (k + 1 <= (m + 1) / 2 && coverage(k + 1) >= level) ++k;
  out.interval = {walsh[k - 1], walsh[m - k], coverage(k)};
  return out;
}

Shift shift_between(const std::vector<double>& a, const std::vector<double>& b, double level) {
  Shift out;
  const size_t m = a.size(), n = b.size();
  if (m == 0 || n == 0) {
    out.estimate = std::nan("");
    out.interval = {std::nan(""), std::nan(""), std::nan("")};
    return out;
  }
  std::vector<double> d;
  d.reserve(m * n);
  for (double x : a)
    for (double y : b) d.push_back(y - x);
  std::sort(d.begin(), d.end());
  const size_t mn = d.size();
  out.estimate = mn % 2 ? d[mn / 2] : (d[mn / 2 - 1] + d[mn / 2]) / 2;
  if (mn > 1'000'000) {
    // U is near normal here: mean mn/2, variance mn(m+n+1)/12.
    const double z = std::sqrt(2.0) * [](double p) {  // erfc^-1 by bisection
      double lo = 0, hi = 10;
      for (int i = 0; i < 100; ++i) {
        const double mid = (lo + hi) / 2;
        (std::erfc(mid) > p ? lo : hi) = mid;
      }
      return lo;
    }(1 - level);
    const double sd = std::sqrt(static_cast<double>(mn) * static_cast<double>(m + n + 1) / 12);
    const double below = std::max(1.0, std::floor(static_cast<double>(mn) / 2 - z * sd));
    const size_t k = static_cast<size_t>(below);
    out.interval = {d[k - 1], d[mn - k], level};
    return out;
  }
  // ways[u] counts the orders of the m + n values that give U = u: the
  // coefficients of the Gaussian binomial prod_{i=1..m} (1 - q^(n+i)) /
  // (1 - q^i), built one factor at a time (each partial product is a
  // polynomial with non-negative coefficients).
  std::vector<double> ways(mn + 1, 0.0);
  ways[0] = 1;
  for (size_t i = 1; i <= m; ++i) {
    for (size_t t = mn; t >= n + i && t <= mn; --t) ways[t] -= ways[t - n - i];
    for (size_t t = i; t <= mn; ++t) ways[t] += ways[t - i];
  }
  double all = 0;
  for (double w : ways) all += w;
  // below = P(U < k) for the k tried, which grows by one at a time.
  size_t k = 1;
  double below = ways[0] / all;
  while (k + 1 <= (mn + 1) / 2 && 1 - 2 * (below + ways[k] / all) >= level)
    below += ways[k++] / all;
  out.interval = {d[k - 1], d[mn - k], 1 - 2 * below};
  return out;
}

}  // namespace iomodels::stats
