// Description: the statistics of `iomodels compare`: medians and the
// two-sided Mann-Whitney U test over two sets of repetitions.
#pragma once

#include <vector>

namespace iomodels::compare {

double median(std::vector<double> v);

// The two-sided p-value of the Mann-Whitney U test that a and b come from the
// same distribution: the normal approximation with the tie correction and a
// continuity correction. 1 when either side is empty or every value is tied.
double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace iomodels::compare
