// Quota figures (src/analysis/quota.h).
#include "src/analysis/quota.h"

#include "gtest/gtest.h"
#include "tests/analysis/test_events.h"

namespace tokmeter::analysis {
namespace {

using testing::At;
using testing::Llm;
using testing::With;

TEST(QuotaTest, SeedTwoIssue35) {
  // Issue #35: 326,432 fresh input, 48,366 output, 4,234,687 cache read,
  // 28,413 cache write. These parts add up to 4,637,898; the seed prints
  // 4,635,898 (its parts and its total disagree by 2,000; we sum parts).
  // Prompt cache share = 4,234,687 / (326,432 + 4,234,687 + 28,413)
  //                    = 4,234,687 / 4,589,532 = 0.92268 → 92.3 %.
  TokenBuckets t{.input = 326432, .cache_read = 4234687, .cache_write_5m = 28413, .output = 48366};
  EXPECT_EQ(t.total(), 4637898);
  EXPECT_NEAR(PromptCacheShare(t), 0.923, 0.0005);
  // "300M quota at 4.6M per run → 65 runs": floor(300 / 4.6) = floor(65.2) = 65.
  EXPECT_EQ(RunsLeft(300'000'000, 4.6e6), 65);
  // With the exact 4,635,898 it is floor(64.71) = 64: the seed rounded to
  // 4.6M (65 × 4,635,898 = 301.3M > 300M). Same with the parts' 4,637,898.
  EXPECT_EQ(RunsLeft(300'000'000, 4635898), 64);
  EXPECT_EQ(RunsLeft(300'000'000, 4637898), 64);
  EXPECT_EQ(RunsLeft(0, 4.6e6), 0);
  EXPECT_EQ(RunsLeft(100, 0), -1);
}

TEST(QuotaTest, ComputeFromEvents) {
  EventStore store;
  // One run (issue-35) on 2026-11-10; as of 2026-11-16T00:00Z.
  store.Add(
      With(Llm(At("2026-11-10T12:00:00Z"), 326432, 48366, 4234687, 28413), "run", "issue-35"));
  // Last month: not in this period.
  store.Add(With(Llm(At("2026-10-30T12:00:00Z"), 1000000, 0), "run", "old"));
  store.Finish();
  QuotaOptions o;
  o.limit = 300'000'000;
  o.as_of = absl::FromUnixNanos(At("2026-11-16T00:00:00Z"));
  o.tz = absl::UTCTimeZone();
  QuotaStatus q = ComputeQuota(store, o);
  EXPECT_EQ(q.consumed, 4637898);
  EXPECT_NEAR(q.share_used, 4637898.0 / 300e6, 1e-12);
  // 15 days elapsed of 30: daily 309,193.2; forecast 2 × consumed.
  EXPECT_DOUBLE_EQ(q.elapsed_days, 15.0);
  EXPECT_DOUBLE_EQ(q.remaining_days, 15.0);
  EXPECT_EQ(q.forecast, 2 * 4637898);
  EXPECT_FALSE(q.will_exceed);
  // Runs in the last 7 days (Nov 9–16): only issue-35 → mean 4,637,898.
  EXPECT_EQ(q.runs_7d, 1);
  EXPECT_DOUBLE_EQ(q.mean_tokens_per_run_7d, 4637898.0);
  // floor((300,000,000 − 4,637,898) / 4,637,898) = floor(63.68) = 63.
  EXPECT_EQ(q.runs_left, 63);
  ASSERT_TRUE(q.prompt_cache_share_7d.has_value());
  EXPECT_NEAR(*q.prompt_cache_share_7d, 0.923, 0.0005);
  EXPECT_TRUE(q.alerts.empty());
  EXPECT_EQ(q.level, "minimal");
}

TEST(QuotaTest, AlertsAndForecast) {
  EventStore store;
  // 150M consumed in the first 15 days of November: 10M/day → forecast
  // 150M + 10M × 15 = 300M = the limit (not exceeded); 50 % alert; 50 %
  // left → balanced.
  for (int d = 1; d <= 15; ++d)
    store.Add(
        Llm(absl::ToUnixNanos(absl::FromCivil(absl::CivilDay(2026, 11, d), absl::UTCTimeZone())),
            10'000'000, 0));
  store.Finish();
  QuotaOptions o;
  o.limit = 300'000'000;
  o.as_of = absl::FromCivil(absl::CivilDay(2026, 11, 16), absl::UTCTimeZone());
  o.tz = absl::UTCTimeZone();
  QuotaStatus q = ComputeQuota(store, o);
  EXPECT_EQ(q.consumed, 150'000'000);
  EXPECT_EQ(q.forecast, 300'000'000);
  EXPECT_FALSE(q.will_exceed);
  ASSERT_EQ(q.alerts.size(), 1u);
  EXPECT_DOUBLE_EQ(q.alerts[0], 0.5);
  EXPECT_EQ(q.level, "balanced");
  o.limit = 160'000'000;  // 93.75 % used: 50 and 80 % alerts; 6.25 % left
  q = ComputeQuota(store, o);
  EXPECT_EQ(q.alerts.size(), 2u);
  EXPECT_TRUE(q.will_exceed);
  EXPECT_EQ(q.level, "emergency");
}

TEST(QuotaTest, OptimizationLevels) {
  // > 60 % left minimal, > 30 % balanced, > 10 % aggressive, else emergency.
  EXPECT_EQ(OptimizationLevel(0.61), "minimal");
  EXPECT_EQ(OptimizationLevel(0.60), "balanced");
  EXPECT_EQ(OptimizationLevel(0.31), "balanced");
  EXPECT_EQ(OptimizationLevel(0.30), "aggressive");
  EXPECT_EQ(OptimizationLevel(0.11), "aggressive");
  EXPECT_EQ(OptimizationLevel(0.10), "emergency");
  EXPECT_EQ(OptimizationLevel(0.0), "emergency");
}

TEST(QuotaTest, ParseTokenCount) {
  EXPECT_EQ(*ParseTokenCount("300M"), 300'000'000);
  EXPECT_EQ(*ParseTokenCount("4.6M"), 4'600'000);
  EXPECT_EQ(*ParseTokenCount("500k"), 500'000);
  EXPECT_EQ(*ParseTokenCount("2G"), 2'000'000'000);
  EXPECT_EQ(*ParseTokenCount("250000"), 250'000);
  EXPECT_FALSE(ParseTokenCount("lots").ok());
  EXPECT_FALSE(ParseTokenCount("").ok());
  EXPECT_FALSE(ParseTokenCount("-5M").ok());
}

}  // namespace
}  // namespace tokmeter::analysis
