#include "src/rules/stats.h"

#include <algorithm>
#include <cmath>

namespace tokmeter::rules {

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  const double rank = std::clamp(q, 0.0, 1.0) * double(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  // The two order statistics, without sorting everything (fanout asks for
  // the p95 of its last 200 turns each time a turn ends).
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double at_lo = values[lo];
  const double at_hi = hi == lo ? at_lo : *std::min_element(values.begin() + lo + 1, values.end());
  return at_lo + (at_hi - at_lo) * (rank - double(lo));
}

}  // namespace tokmeter::rules
