#include "src/rules/stats.h"

#include <algorithm>
#include <cmath>

namespace tokmeter::rules {

namespace {
// Where the q-quantile of n values falls: the two closest ranks and the
// weight of the upper one.
struct Rank {
  size_t lo, hi;
  double frac;
};
Rank RankOf(size_t n, double q) {
  const double rank = std::clamp(q, 0.0, 1.0) * double(n - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  return {lo, std::min(lo + 1, n - 1), rank - double(lo)};
}
}  // namespace

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  const auto [lo, hi, frac] = RankOf(values.size(), q);
  // The two order statistics, without sorting everything.
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double at_lo = values[lo];
  const double at_hi = hi == lo ? at_lo : *std::min_element(values.begin() + lo + 1, values.end());
  return at_lo + (at_hi - at_lo) * frac;
}

double SortedPercentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto [lo, hi, frac] = RankOf(sorted.size(), q);
  const double at_lo = double(sorted[lo]);
  return at_lo + (double(sorted[hi]) - at_lo) * frac;
}

}  // namespace tokmeter::rules
