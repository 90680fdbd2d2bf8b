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

absl::StatusOr<int64_t> ParseTokenCount(std::string_view s) {
  absl::string_view t = absl::StripAsciiWhitespace(ToAbsl(s));
  double mult = 1;
  if (!t.empty()) {
    switch (absl::ascii_tolower(static_cast<unsigned char>(t.back()))) {
      case 'k':
        mult = 1e3;
        break;
      case 'm':
        mult = 1e6;
        break;
      case 'g':
      case 'b':
        mult = 1e9;
        break;
      default:
        break;
    }
    if (mult != 1) t.remove_suffix(1);
  }
  double v = 0;
  if (t.empty() || !absl::SimpleAtod(t, &v) || !(v > 0) || v * mult > 9e18) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad token count '", ToAbsl(s), "' (expected e.g. 300M, 4.6M, 500k, 250000)"));
  }
  return static_cast<int64_t>(std::llround(v * mult));
}

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

std::string_view OptimizationLevel(double share_left) {
  if (share_left > thresholds::kLevelMinimalAbove) return "minimal";
  if (share_left > thresholds::kLevelBalancedAbove) return "balanced";
  if (share_left > thresholds::kLevelAggressiveAbove) return "aggressive";
  return "emergency";
}

std::string_view ForecastLevel(double forecast_share) {
  if (!(forecast_share > 1.0)) return "minimal";
  if (forecast_share <= kForecastBalancedUpTo) return "balanced";
  if (forecast_share <= kForecastAggressiveUpTo) return "aggressive";
  return "emergency";
}

int LevelRank(std::string_view level) {
  if (level == "minimal") return 0;
  if (level == "balanced") return 1;
  if (level == "aggressive") return 2;
  if (level == "emergency") return 3;
  return -1;
}

int64_t RunsLeft(int64_t tokens_left, double tokens_per_run) {
  if (!(tokens_per_run > 0)) return -1;
  if (tokens_left <= 0) return 0;
  const double runs = std::floor(double(tokens_left) / tokens_per_run);
  return runs < 9e18 ? static_cast<int64_t>(runs) : INT64_MAX;  // a defined conversion
}

namespace {

constexpr int64_t kDayNs = int64_t{86400} * 1'000'000'000;
constexpr int64_t kRunMeanNs = thresholds::kRunMeanDays * kDayNs;

// [start, end) of the quota period holding o.as_of.
std::pair<absl::Time, absl::Time> PeriodBounds(const QuotaOptions& o) {
  switch (o.period) {
    case QuotaPeriod::kDay:
      return {StartOfDay(o.as_of, o.tz),
              absl::FromCivil(absl::ToCivilDay(o.as_of, o.tz) + 1, o.tz)};
    case QuotaPeriod::kWeek: {
      // Weeks start on Monday.
      absl::CivilDay d = absl::ToCivilDay(o.as_of, o.tz);
      absl::CivilDay monday = absl::PrevWeekday(d + 1, absl::Weekday::monday);
      return {absl::FromCivil(monday, o.tz), absl::FromCivil(monday + 7, o.tz)};
    }
    case QuotaPeriod::kMonth:
      break;
  }
  return {StartOfMonth(o.as_of, o.tz), StartOfNextMonth(o.as_of, o.tz)};
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
  q.forecast = q.consumed + static_cast<int64_t>(std::llround(q.daily_average * q.remaining_days));
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
  const std::string_view by_left = OptimizationLevel(q.share_left);
  const std::string_view by_forecast = ForecastLevel(q.forecast_share);
  const bool forecast_stricter = LevelRank(by_forecast) > LevelRank(by_left);
  q.level = std::string(forecast_stricter ? by_forecast : by_left);
  q.level_basis = forecast_stricter ? "forecast" : "share_left";
  return q;
}

}  // namespace tokmeter::analysis
