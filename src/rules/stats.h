// src/rules/stats.h — the percentile every rule and view uses.
#ifndef TOKMETER_RULES_STATS_H_
#define TOKMETER_RULES_STATS_H_

#include <cstdint>
#include <vector>

namespace tokmeter::rules {

// The q-quantile (0..1) with linear interpolation between the closest ranks
// (numpy's default): p50 of {1, 2, 3, 10} is 2.5. 0 for no values.
double Percentile(std::vector<double> values, double q);

// The same over values already in ascending order (no copy, no selection).
double SortedPercentile(const std::vector<int64_t>& sorted, double q);

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_STATS_H_
