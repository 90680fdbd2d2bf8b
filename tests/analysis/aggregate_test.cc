// Aggregation, windows and percentiles (src/analysis/aggregate.h).
#include "src/analysis/aggregate.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "src/analysis/reader.h"
#include "tests/analysis/test_events.h"

namespace tokmeter::analysis {
namespace {

using testing::At;
using testing::kMinute;
using testing::Llm;
using testing::With;

TEST(PercentileTest, TwelveQuietWindowsAndOneSpike) {
  // 12 windows of 1,000 and one of 50,000, sorted: 1000 ×12, 50000.
  // p50: rank 0.5 × 12 = 6 → 1,000.
  // p95: rank 0.95 × 12 = 11.4 → 1000 + 0.4 × (50000 − 1000) = 20,600.
  // max 50,000; mean (12,000 + 50,000) / 13 = 4,769.23.
  std::vector<double> v(12, 1000.0);
  v.push_back(50000.0);
  Distribution d = Distribute(v);
  EXPECT_EQ(d.count, 13);
  EXPECT_DOUBLE_EQ(d.p50, 1000.0);
  EXPECT_NEAR(d.p95, 20600.0, 1e-6);
  EXPECT_DOUBLE_EQ(d.max, 50000.0);
  EXPECT_NEAR(d.mean, 62000.0 / 13.0, 1e-9);
  EXPECT_DOUBLE_EQ(Percentile({}, 0.95), 0.0);
  EXPECT_DOUBLE_EQ(Percentile({7}, 0.95), 7.0);
}

TEST(PercentileTest, SortedIntegersGiveTheSameQuantiles) {
  // The same 13 values as above, as the ascending integers fanout keeps.
  std::vector<int64_t> v(12, 1000);
  v.push_back(50000);
  EXPECT_DOUBLE_EQ(rules::SortedPercentile(v, 0.50), 1000.0);
  EXPECT_NEAR(rules::SortedPercentile(v, 0.95), 20600.0, 1e-6);
  EXPECT_DOUBLE_EQ(rules::SortedPercentile(v, 1.0), 50000.0);
  // {1, 2, 3, 10}: p50 at rank 1.5 = 2.5 (numpy's default).
  EXPECT_DOUBLE_EQ(rules::SortedPercentile({1, 2, 3, 10}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(rules::SortedPercentile({}, 0.95), 0.0);
  EXPECT_DOUBLE_EQ(rules::SortedPercentile({7}, 0.95), 7.0);
}

TEST(GroupByTest, SumsTokensRequestsRunsAndModels) {
  EventStore store;
  const int64_t t = At("2026-11-23T09:00:00Z");
  UsageEvent a = With(With(Llm(t, 100, 10, 1000, 50), "workflow", "smoke"), "run", "r1");
  UsageEvent b = With(With(Llm(t + kMinute, 200, 20), "workflow", "smoke"), "run", "r2");
  b.model = "claude-haiku-4-5";
  UsageEvent c = With(Llm(t + 2 * kMinute, 5, 5), "workflow", "other");
  store.Add(a);
  store.Add(b);
  store.Add(c);
  store.Finish();
  std::vector<Group> g = GroupBy(store, store.records(), Dim::kWorkflow);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].key, "smoke");
  // smoke: 100+10+1000+50 + 200+20 = 1,380 tokens, 2 requests, 2 runs.
  EXPECT_EQ(g[0].agg.total(), 1380);
  EXPECT_EQ(g[0].agg.requests, 2);
  EXPECT_EQ(g[0].runs, 2);
  ASSERT_EQ(g[0].by_model.size(), 2u);
  EXPECT_EQ(g[0].by_model["claude-haiku-4-5"].total(), 220);
  EXPECT_EQ(g[1].key, "other");
  EXPECT_EQ(g[1].agg.total(), 10);
}

TEST(GroupByTest, UntaggedRecordsThatCarryNothingMakeNoRow) {
  const int64_t t = At("2026-11-23T09:00:00Z");
  UsageEvent root;  // a trace's root span: no model, no tokens, no requests
  root.time_unix_ns = t;
  root.kind = "session";
  root.name = "s-42";
  EventStore store;
  store.Add(Llm(t, 812, 96));  // claude-sonnet-4-5
  store.Add(root);
  store.Finish();
  std::vector<Group> g = GroupBy(store, store.records(), Dim::kModel);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].key, "claude-sonnet-4-5");

  UsageEvent failed = root;  // no model either, but a 429: that is worth a row
  failed.kind = "llm";
  failed.requests = 1;
  failed.rate_limited = 1;
  failed.status = 429;
  EventStore with_429;
  with_429.Add(Llm(t, 812, 96));
  with_429.Add(root);
  with_429.Add(failed);
  with_429.Finish();
  g = GroupBy(with_429, with_429.records(), Dim::kModel);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1].key, "");
  EXPECT_EQ(g[1].agg.rate_limited, 1);
}

TEST(GroupByTest, TurnSummaryRollupsAreNotCountedTwice) {
  EventStore store;
  const int64_t t = At("2026-11-23T09:00:00Z");
  store.Add(Llm(t, 100, 10));
  UsageEvent sum = Llm(t, 100, 10);
  sum.kind = kTurnSummaryRollupKind;  // a tokmeter roll-up of the span above
  store.Add(sum);
  store.Finish();
  EXPECT_EQ(Total(store.records()).total(), 110);
  EXPECT_EQ(Total(store.records()).requests, 1);
}

TEST(CalendarTest, DaysFollowTheTimeZone) {
  EventStore store;
  // 23:30 UTC on the 23rd: 18:30 on the 23rd in New York, 08:30 on the 24th in Tokyo.
  store.Add(Llm(At("2026-11-23T23:30:00Z"), 10, 1));
  store.Add(Llm(At("2026-11-23T12:00:00Z"), 20, 2));
  store.Finish();
  absl::TimeZone ny, tokyo;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &ny));
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Tokyo", &tokyo));
  std::vector<Group> d_ny = GroupByCalendar(store, store.records(), Calendar::kDay, ny);
  ASSERT_EQ(d_ny.size(), 1u);
  EXPECT_EQ(d_ny[0].key, "2026-11-23");
  EXPECT_EQ(d_ny[0].agg.total(), 33);
  std::vector<Group> d_tk = GroupByCalendar(store, store.records(), Calendar::kDay, tokyo);
  ASSERT_EQ(d_tk.size(), 2u);
  EXPECT_EQ(d_tk[0].key, "2026-11-23");
  EXPECT_EQ(d_tk[1].key, "2026-11-24");
  EXPECT_EQ(d_tk[1].agg.total(), 11);
  std::vector<Group> m = GroupByCalendar(store, store.records(), Calendar::kMonth, tokyo);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].key, "2026-11");
}

TEST(CalendarTest, StreamedOutOfOrderAcrossTheFallBackDay) {
  // New York falls back on 2026-11-01: that day runs 04:00Z → 05:00Z next
  // day (25 h). 04:30Z on the 2nd is 23:30 EST, still the 1st; 05:30Z is
  // 00:30 on the 2nd. Out of order, so the grouper's cached day is left and
  // re-entered.
  EventStore store;
  absl::TimeZone ny;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &ny));
  Grouper days(store, Calendar::kDay, ny);
  int streamed = 0;
  store.StreamTo([&](const StoredEvent& r) {
    ++streamed;
    days.Add(r);
  });
  store.Add(Llm(At("2026-11-01T04:30:00Z"), 1, 0));     // 00:30 EDT, Nov 1
  store.Add(Llm(At("2026-11-02T05:30:00Z"), 100, 0));   // 00:30 EST, Nov 2
  store.Add(Llm(At("2026-11-02T04:30:00Z"), 10, 0));    // 23:30 EST, Nov 1
  store.Add(Llm(At("2026-11-01T03:59:59Z"), 1000, 0));  // 23:59:59 EDT, Oct 31
  store.Finish();
  EXPECT_EQ(streamed, 4);
  EXPECT_TRUE(store.records().empty());  // streamed, not kept
  EXPECT_EQ(store.earliest_ns(), At("2026-11-01T03:59:59Z"));
  EXPECT_EQ(store.latest_ns(), At("2026-11-02T05:30:00Z"));
  std::vector<Group> g = days.Take();
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].key, "2026-10-31");
  EXPECT_EQ(g[0].agg.total(), 1000);
  EXPECT_EQ(g[1].key, "2026-11-01");
  EXPECT_EQ(g[1].agg.total(), 11);
  EXPECT_EQ(g[2].key, "2026-11-02");
  EXPECT_EQ(g[2].agg.total(), 100);
}

TEST(EventStoreTest, KeepFromHoldsOnlyWhatTheHorizonNeeds) {
  // 200,000 events one second apart (past the first prune at 65,536);
  // the horizon keeps the last 100 s before the latest event.
  EventStore store;
  store.KeepFrom([](int64_t latest_ns) { return latest_ns - 99 * int64_t{1'000'000'000}; });
  const int64_t t0 = At("2026-11-20T00:00:00Z");
  const int64_t s = 1'000'000'000;
  for (int i = 0; i < 200'000; ++i) store.Add(Llm(t0 + i * s, 7, 3));
  store.Finish();
  ASSERT_EQ(store.records().size(), 100u);  // seconds 199,900 … 199,999
  EXPECT_EQ(store.records().front().time_ns, t0 + 199'900 * s);
  EXPECT_EQ(store.records().back().time_ns, t0 + 199'999 * s);
  EXPECT_EQ(Total(store.records()).total(), 1000);
  EXPECT_EQ(store.earliest_ns(), t0);  // over every event, kept or not
}

TEST(EventStoreTest, SpanIdKeysKeepHexIdsWithoutAString) {
  EventStore store;
  const uint64_t hex = store.IdKey("00f067aa0ba902b7");
  EXPECT_EQ(hex, 0x00f067aa0ba902b7u);
  EXPECT_EQ(store.IdText(hex), "00f067aa0ba902b7");
  EXPECT_EQ(store.Find("00f067aa0ba902b7"), 0u);  // no string kept
  const uint64_t text = store.IdKey("turn1");     // not hex: interned
  EXPECT_NE(store.Find("turn1"), 0u);
  EXPECT_EQ(store.IdText(text), "turn1");
  EXPECT_NE(text, store.IdKey("turn2"));
  EXPECT_EQ(store.IdKey(""), 0u);
  // A hex id shaped like an interned key is kept as text: still exact.
  EXPECT_EQ(store.IdText(store.IdKey("8000000000000001")), "8000000000000001");
}

TEST(CostTest, UnpricedModelsHaveNoCostNeverZero) {
  EventStore store([](const UsageEvent& e) -> std::optional<double> {
    if (e.model == "mystery") return std::nullopt;
    return 0.5;
  });
  const int64_t t = At("2026-11-23T09:00:00Z");
  UsageEvent m = With(Llm(t, 100, 10), "workflow", "m");
  m.model = "mystery";
  store.Add(m);
  store.Add(With(Llm(t, 100, 10), "workflow", "p"));
  store.Finish();
  std::vector<Group> g = GroupBy(store, store.records(), Dim::kWorkflow);
  ASSERT_EQ(g.size(), 2u);
  const Group& mystery = g[0].key == "m" ? g[0] : g[1];
  const Group& priced = g[0].key == "m" ? g[1] : g[0];
  EXPECT_FALSE(mystery.agg.HasCost());
  EXPECT_EQ(mystery.agg.unpriced_tokens, 110);
  EXPECT_TRUE(priced.agg.HasCost());
  EXPECT_DOUBLE_EQ(priced.agg.cost_usd, 0.5);
  Agg all = Total(store.records());
  EXPECT_TRUE(all.HasCost());  // partly priced: $0.50 plus 110 unpriced tokens
  EXPECT_EQ(all.unpriced_tokens, 110);
  EXPECT_EQ(Summarize(store.records()).UnpricedModels(store), std::vector<std::string>{"mystery"});
}

TEST(DefinitionsTest, SeedOneSmokeClaudeCacheHitRate) {
  // the smoke-claude run: 775 input, 1,227 output, ~152K cache read, ~43K cache write.
  // cache hit rate = 152,000 / (152,000 + 775) = 0.99493 → 99.5 %.
  TokenBuckets t{.input = 775, .cache_read = 152000, .cache_write_5m = 43000, .output = 1227};
  EXPECT_NEAR(CacheHitRate(t), 0.995, 0.0005);
  EXPECT_EQ(t.total(), 197002);
}

}  // namespace
}  // namespace tokmeter::analysis
