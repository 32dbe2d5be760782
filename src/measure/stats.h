// Description: the statistics of repeated measurements (bench, compare, ab):
// medians, the two-sided Mann-Whitney U test over two sets of repetitions,
// the distribution-free interval of a median, and the Hodges-Lehmann shift
// of paired differences with its signed-rank interval, and of two
// independent samples with its rank-sum interval.
#pragma once

#include <vector>

namespace iomodels::stats {

double median(std::vector<double> v);

// The two-sided p-value of the Mann-Whitney U test that a and b come from the
// same distribution: the normal approximation with the tie correction and a
// continuity correction. 1 when either side is empty or every value is tied.
double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b);

// An interval [lo, hi] and the probability it covers the true value with
// (exact for continuous data, whatever their distribution).
struct Interval {
  double lo = 0, hi = 0, coverage = 0;
};

// The interval of the median from order statistics: x(k) and x(n-k+1) of
// the sorted samples with the largest k whose coverage, 1 - 2 P(Bin(n, 1/2) <
// k), is at least `level`; the range (k = 1) when none is, its coverage then
// below `level`. Empty input: all NaN.
Interval median_interval(std::vector<double> v, double level);

// The Hodges-Lehmann estimate of the centre of paired differences `d` (the
// median of the Walsh averages (d_i + d_j) / 2, i <= j) and its interval from
// the exact null distribution of Wilcoxon's signed-rank statistic: the
// Walsh averages w(k) and w(M-k+1), M = n(n+1)/2, with the largest k whose
// coverage 1 - 2 P(T+ < k) is at least `level` (the extreme ones when none
// is). Assumes the differences are symmetric about their centre, which
// paired runs of one build against another are under no change.
struct Shift {
  double estimate = 0;
  Interval interval;
};
Shift hodges_lehmann(const std::vector<double>& d, double level);

// The Hodges-Lehmann shift between two independent samples: the median of
// the m * n differences b_j - a_i, and its interval from the exact null
// distribution of the Mann-Whitney statistic U: the sorted differences D(k)
// and D(mn-k+1) with the largest k whose coverage 1 - 2 P(U < k) is at least
// `level` (the extreme ones, covering less, when none is). Assumes only that
// b is a shifted by the estimate. Above 10^6 differences, k comes from the
// normal approximation. Either side empty: all NaN.
Shift shift_between(const std::vector<double>& a, const std::vector<double>& b, double level);

}  // namespace iomodels::stats
