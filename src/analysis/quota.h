// src/analysis/quota.h — quota consumption, forecast, runs left and the
// optimization level.
#ifndef TOKMETER_ANALYSIS_QUOTA_H_
#define TOKMETER_ANALYSIS_QUOTA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/analysis/store.h"
#include "src/rules/budgets.h"
#include "tokmeter/budget.h"

namespace tokmeter::analysis {

// Token counts, levels and runs left are the budget rule's (src/rules/budgets.h).
using ::tokmeter::ParseTokenCount;
using ::tokmeter::rules::ForecastLevel;
using ::tokmeter::rules::LevelRank;
using ::tokmeter::rules::OptimizationLevel;
using ::tokmeter::rules::RunsLeft;

enum class QuotaPeriod { kDay, kWeek, kMonth };
absl::StatusOr<QuotaPeriod> ParseQuotaPeriod(std::string_view s);  // day|week|month
std::string_view QuotaPeriodName(QuotaPeriod p);

struct QuotaOptions {
  int64_t limit = 0;  // tokens per period
  QuotaPeriod period = QuotaPeriod::kMonth;
  absl::Time as_of;   // "now": the end of what has been consumed
  absl::TimeZone tz;  // calendar of the period
};

struct QuotaStatus {
  int64_t limit = 0;
  absl::Time period_start, period_end, as_of;
  int64_t consumed = 0;   // total tokens in [period_start, as_of)
  double share_used = 0;  // consumed / limit
  double share_left = 0;  // max(0, 1 − share_used)
  double elapsed_days = 0, remaining_days = 0;
  double daily_average = 0;   // consumed / elapsed_days
  int64_t forecast = 0;       // consumed + daily_average × remaining_days
  double forecast_share = 0;  // forecast / limit
  bool will_exceed = false;   // forecast > limit
  int64_t runs_7d = 0;        // distinct runs in [as_of − 7 d, as_of)
  double mean_tokens_per_run_7d = 0;
  int64_t runs_left = -1;  // RunsLeft(limit − consumed, mean per run)
  // Cache trend: CacheHitRate() and PromptCacheShare() over the last 7 days
  // and the 7 days before (nullopt without tokens).
  std::optional<double> cache_hit_rate_7d, cache_hit_rate_prev_7d;
  std::optional<double> prompt_cache_share_7d, prompt_cache_share_prev_7d;
  std::vector<double> alerts;  // thresholds of kQuotaAlertShares reached (0.5, 0.8, 1.0)
  // When the forecast exceeds the limit: the time the quota runs out at the
  // period's average rate (as_of + (limit − consumed) / daily_average;
  // as_of when already exceeded). nullopt otherwise.
  std::optional<absl::Time> exhausted_at;
  // minimal | balanced | aggressive | emergency: the stricter of the level by
  // share left now (OptimizationLevel) and by the forecast (ForecastLevel).
  std::string level;
  std::string level_basis;  // "share_left" or "forecast": which one set `level`
};

// The earliest event time ComputeQuota reads for `o`: the period start or
// two 7-day windows before as_of, whichever is earlier (a store may drop
// older records: EventStore::KeepFrom).
int64_t QuotaEarliestNs(const QuotaOptions& o);

// Needs store.Finish().
QuotaStatus ComputeQuota(const EventStore& store, const QuotaOptions& options);

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_QUOTA_H_
