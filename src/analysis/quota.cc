// Quota figures (quota.h): consumption, forecast, runs left, level.
#include "src/analysis/quota.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/analysis/aggregate.h"
#include "src/model/thresholds.h"

namespace tokmeter::analysis {

absl::StatusOr<QuotaPeriod> ParseQuotaPeriod(std::string_view s) {
  if (s == "day") return QuotaPeriod::kDay;
  if (s == "week") return QuotaPeriod::kWeek;
  if (s == "month") return QuotaPeriod::kMonth;
  return absl::InvalidArgumentError(absl::StrCat("bad period '", ToAbsl(s), "' (day|week|month)"));
}

std::string_view QuotaPeriodName(QuotaPeriod p) {
  switch (p) {
    case QuotaPeriod::kDay:
      return "day";
    case QuotaPeriod::kWeek:
      return "week";
    case QuotaPeriod::kMonth:
      return "month";
  }
  return "month";
}

namespace {

constexpr int64_t kDayNs = int64_t{86400} * 1'000'000'000;
constexpr int64_t kRunMeanNs = thresholds::kRunMeanDays * kDayNs;

// [start, end) of the quota period holding o.as_of (the budget rule's
// calendar: weeks start on Monday).
std::pair<absl::Time, absl::Time> PeriodBounds(const QuotaOptions& o) {
  const BudgetPeriod p = o.period == QuotaPeriod::kDay    ? BudgetPeriod::kDay
                         : o.period == QuotaPeriod::kWeek ? BudgetPeriod::kWeek
                                                          : BudgetPeriod::kMonth;
  const rules::Period r = rules::CalendarPeriod(p, absl::ToUnixNanos(o.as_of), o.tz);
  return {absl::FromUnixNanos(r.start_ns), absl::FromUnixNanos(r.end_ns)};
}

}  // namespace

int64_t QuotaEarliestNs(const QuotaOptions& o) {
  const int64_t as_of_ns = absl::ToUnixNanos(o.as_of);
  return std::min(absl::ToUnixNanos(PeriodBounds(o).first), as_of_ns - 2 * kRunMeanNs);
}

QuotaStatus ComputeQuota(const EventStore& store, const QuotaOptions& o) {
  QuotaStatus q;
  q.limit = o.limit;
  q.as_of = o.as_of;
  std::tie(q.period_start, q.period_end) = PeriodBounds(o);
  const int64_t start_ns = absl::ToUnixNanos(q.period_start);
  const int64_t as_of_ns = absl::ToUnixNanos(o.as_of);
  q.consumed = Total(store.Range(start_ns, as_of_ns)).total();
  q.share_used = o.limit > 0 ? double(q.consumed) / double(o.limit) : 0;
  q.share_left = std::max(0.0, 1.0 - q.share_used);
  q.elapsed_days = absl::ToDoubleHours(o.as_of - q.period_start) / 24.0;
  q.remaining_days = std::max(0.0, absl::ToDoubleHours(q.period_end - o.as_of) / 24.0);
  q.daily_average = q.elapsed_days > 0 ? double(q.consumed) / q.elapsed_days : 0;
  q.forecast = static_cast<int64_t>(std::llround(
      rules::Forecast(double(q.consumed), start_ns, as_of_ns, absl::ToUnixNanos(q.period_end))));
  q.forecast_share = o.limit > 0 ? double(q.forecast) / double(o.limit) : 0;
  q.will_exceed = q.forecast > o.limit;

  const int64_t w = kRunMeanNs;
  std::span<const StoredEvent> last7 = store.Range(as_of_ns - w, as_of_ns);
  std::span<const StoredEvent> prev7 = store.Range(as_of_ns - 2 * w, as_of_ns - w);
  absl::flat_hash_set<uint32_t> runs;
  for (const StoredEvent& r : last7)
    if (!r.rollup && r.dim(Dim::kRun)) runs.insert(r.dim(Dim::kRun));
  Agg a7 = Total(last7), p7 = Total(prev7);
  q.runs_7d = static_cast<int64_t>(runs.size());
  q.mean_tokens_per_run_7d = q.runs_7d > 0 ? double(a7.total()) / double(q.runs_7d) : 0;
  q.runs_left = RunsLeft(o.limit - q.consumed, q.mean_tokens_per_run_7d);
  if (a7.tokens.prompt() > 0) {
    q.cache_hit_rate_7d = CacheHitRate(a7.tokens);
    q.prompt_cache_share_7d = PromptCacheShare(a7.tokens);
  }
  if (p7.tokens.prompt() > 0) {
    q.cache_hit_rate_prev_7d = CacheHitRate(p7.tokens);
    q.prompt_cache_share_prev_7d = PromptCacheShare(p7.tokens);
  }
  for (double a : thresholds::kQuotaAlertShares)
    if (q.share_used >= a) q.alerts.push_back(a);
  if (q.will_exceed) {
    if (q.consumed >= o.limit || !(q.daily_average > 0)) {
      q.exhausted_at = o.as_of;
    } else {
      q.exhausted_at = o.as_of + absl::Hours(24.0 * double(o.limit - q.consumed) / q.daily_average);
    }
  }
  std::string_view basis;
  q.level = std::string(rules::QuotaLevel(q.share_left, q.forecast_share, &basis));
  q.level_basis = std::string(basis);
  return q;
}

}  // namespace tokmeter::analysis
