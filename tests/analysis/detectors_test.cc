// Each detector rule with hand-computed expectations (src/analysis/detectors.h).
#include "src/analysis/detectors.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/model/thresholds.h"
#include "tests/analysis/test_events.h"

namespace tokmeter::analysis {
namespace {

using testing::At;
using testing::kMinute;
using testing::Llm;
using testing::Tool;
using testing::With;

std::vector<Finding> RunRule(EventStore& store, std::vector<Finding> (*fn)(const DetectInput&),
                             const std::vector<InputSummary>* inputs = nullptr) {
  store.Finish();
  DetectInput in;
  in.store = &store;
  in.recs = store.records();
  in.inputs = inputs;
  return fn(in);
}

const int64_t kT0 = At("2026-11-23T09:00:00Z");

TEST(LoopTest, SameFingerprintSixTimesInOneSession) {
  EventStore store;
  for (int i = 0; i < 6; ++i)
    store.Add(With(Tool(kT0 + i * 10'000'000'000, "grep", 0xabc), "session", "s1"));
  // Same fingerprint in another session: 4 times, below kLoopMinRepeats (5).
  for (int i = 0; i < 4; ++i)
    store.Add(With(Tool(kT0 + i * 10'000'000'000, "grep", 0xabc), "session", "s2"));
  std::vector<Finding> f = RunRule(store, &DetectLoops);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, "loop");
  EXPECT_EQ(f[0].subject, "session s1: tool grep");
  EXPECT_EQ(f[0].Evidence("repeats"), 6);
  EXPECT_EQ(f[0].Evidence("seconds"), 50);  // first at +0 s, last at +50 s
  EXPECT_NE(f[0].recommendation.find("Loop rule"), std::string::npos);
}

TEST(LoopTest, RateLimitedRetriesAreNotLoops) {
  EventStore store;
  for (int i = 0; i < 8; ++i) {
    UsageEvent e = With(Llm(kT0 + i * kMinute, 0, 0), "session", "s1");
    e.fingerprint = 0x77;
    e.status = 429;
    store.Add(e);
  }
  EXPECT_TRUE(RunRule(store, &DetectLoops).empty());
}

TEST(LoopTest, SameToolAndArgsWithoutFingerprint) {
  EventStore store;
  for (int i = 0; i < 5; ++i)
    store.Add(
        With(With(Tool(kT0 + i * kMinute, "fetch", 0), "args", "{\"url\":\"x\"}"), "session", "s"));
  std::vector<Finding> f = RunRule(store, &DetectLoops);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("repeats"), 5);
}

TEST(RetryStormTest, SixRateLimitsInOneWindow) {
  EventStore store;
  // 6 × 429 between 09:00 and 09:04 (one 5-minute window), then a success.
  for (int i = 0; i < 6; ++i) {
    UsageEvent e = With(Llm(kT0 + i * 40'000'000'000, 0, 0), "session", "s9");
    e.status = 429;
    e.retries = 1;
    e.retry_wait_ms = 1000;
    e.fingerprint = 0x55;
    store.Add(e);
  }
  store.Add(With(Llm(kT0 + 4 * kMinute + 30'000'000'000, 1000, 100), "session", "s9"));
  std::vector<Finding> f = RunRule(store, &DetectRetryStorms);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, "retry_storm");
  EXPECT_EQ(f[0].Evidence("rate_limited"), 6);
  EXPECT_EQ(f[0].Evidence("requests"), 7);
  EXPECT_EQ(f[0].Evidence("retry_wait_ms"), 6000);
  EXPECT_EQ(f[0].Evidence("identical_requests"), 6);
  EXPECT_EQ(f[0].subject, "s9 at 2026-11-23T09:00:00Z");
}

TEST(RetryStormTest, FourRateLimitsAreNotAStorm) {
  EventStore store;
  for (int i = 0; i < 4; ++i) {
    UsageEvent e = Llm(kT0 + i * kMinute, 0, 0);
    e.status = 429;
    store.Add(e);
  }
  EXPECT_TRUE(RunRule(store, &DetectRetryStorms).empty());
}

TEST(BackgroundTest, HeartbeatSpendingWhileNobodyWorks) {
  EventStore store;
  // Interactive: 100,000 tokens at 10:xx. Heartbeat: 6 × 10,000 at 03:xx
  // (an hour without interactive events) and 1 × 10,000 at 10:xx (busy).
  store.Add(With(Llm(At("2026-11-23T10:05:00Z"), 90000, 10000), "session", "human"));
  for (int i = 0; i < 6; ++i)
    store.Add(
        With(Llm(At("2026-11-23T03:00:00Z") + i * 5 * kMinute, 9000, 1000), "heartbeat", "true"));
  store.Add(With(Llm(At("2026-11-23T10:30:00Z"), 9000, 1000), "job", "digest"));
  std::vector<Finding> f = RunRule(store, &DetectBackground);
  // idle background = 60,000; all = 170,000; share = 0.3529 >= 0.05.
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, "background");
  EXPECT_EQ(f[0].subject, "job heartbeat");
  EXPECT_EQ(f[0].Evidence("idle_background_tokens"), 60000);
  EXPECT_EQ(f[0].Evidence("background_tokens"), 70000);
  EXPECT_NEAR(f[0].Evidence("idle_share"), 60000.0 / 170000.0, 1e-12);
}

TEST(BackgroundTest, JobsRunningAlongsideInteractiveUseAreFine) {
  EventStore store;
  store.Add(With(Llm(At("2026-11-23T10:05:00Z"), 90000, 10000), "session", "human"));
  store.Add(With(Llm(At("2026-11-23T10:30:00Z"), 90000, 10000), "job", "digest"));
  EXPECT_TRUE(RunRule(store, &DetectBackground).empty());
}

TEST(ContextBloatTest, PromptGrowingEveryTurn) {
  EventStore store;
  // Prompts 5k, 10k, …, 30k: growth 30k / 5k = 6× >= 3×, 5/5 steps up,
  // last 30k >= 20k. Sum of prompts 105,000.
  for (int i = 1; i <= 6; ++i)
    store.Add(With(Llm(kT0 + i * kMinute, 1000, 200, i * 5000 - 1000), "session", "grow"));
  // Flat session: 6 × 30k, growth 1×.
  for (int i = 1; i <= 6; ++i)
    store.Add(With(Llm(kT0 + i * kMinute, 1000, 200, 29000), "session", "flat"));
  std::vector<Finding> f = RunRule(store, &DetectContextBloat);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session grow");
  EXPECT_EQ(f[0].Evidence("first_prompt_tokens"), 5000);
  EXPECT_EQ(f[0].Evidence("last_prompt_tokens"), 30000);
  EXPECT_EQ(f[0].Evidence("growth"), 6);
  EXPECT_EQ(f[0].Evidence("increasing_share"), 1);
  EXPECT_EQ(f[0].Evidence("prompt_tokens"), 105000);
}

TEST(FanoutTest, TwelveToolCallsUnderOneTurn) {
  EventStore store;
  for (int i = 0; i < 12; ++i) {
    UsageEvent e = Tool(kT0 + i, "search", uint64_t(i + 1));
    e.trace_id = "t1";
    e.parent_id = "turn1";
    store.Add(With(e, "session", "s"));
  }
  for (int i = 0; i < 3; ++i) {
    UsageEvent e = Tool(kT0 + i, "search", uint64_t(i + 100));
    e.trace_id = "t1";
    e.parent_id = "turn2";
    store.Add(e);
  }
  std::vector<Finding> f = RunRule(store, &DetectFanout);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("tool_calls"), 12);
  EXPECT_EQ(f[0].subject, "session s turn turn1");
}

TEST(FanoutTest, TurnSummaryToolCalls) {
  EventStore store;
  UsageEvent e = Llm(kT0, 1820, 420);
  e.kind = "turn_summary";
  e.format = SourceFormat::kTurnSummary;  // a runtime's turn line: counted, not a roll-up
  e.tool_calls = 14;
  e.trace_id = "sess";
  store.Add(e);
  std::vector<Finding> f = RunRule(store, &DetectFanout);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("tool_calls"), 14);
}

TEST(GroupRulesTest, SeedOneRecommendationRules) {
  EventStore store;
  // workflow "nocache": 100,000 input, 500 output, no cache reads:
  //   no_cache; input/output = 100,000 / 500 = 200 > 100 → high_io_ratio.
  store.Add(With(With(Llm(kT0, 100000, 500), "workflow", "nocache"), "run", "n1"));
  // workflow "good": 1,000 input, 99,000 cache read, 1,000 output:
  //   hit rate 0.99; ratio 100,000 / 1,000 = 100, not > 100 → nothing.
  store.Add(With(With(Llm(kT0, 1000, 1000, 99000), "workflow", "good"), "run", "g1"));
  // workflow "lowcache": 50,000 input, 50,000 cache read, 2,000 output:
  //   hit rate 0.5 < 0.9 → low_cache; ratio 50 → fine.
  store.Add(With(With(Llm(kT0, 50000, 2000, 50000), "workflow", "lowcache"), "run", "l1"));
  // workflow "chatty": one run of 25 requests of 300 + 100 tokens:
  //   25 per run >= 20 and 400 tokens each < 5,000 → many_small_requests.
  for (int i = 0; i < 25; ++i)
    store.Add(With(With(Llm(kT0 + i, 300, 100), "workflow", "chatty"), "run", "c1"));
  std::vector<Finding> f = RunRule(store, &DetectGroupRules);
  auto has = [&](std::string_view kind, std::string_view subject) {
    for (const Finding& x : f)
      if (x.kind == kind && x.subject == subject) return true;
    return false;
  };
  EXPECT_TRUE(has("no_cache", "workflow nocache"));
  EXPECT_TRUE(has("high_io_ratio", "workflow nocache"));
  EXPECT_TRUE(has("low_cache", "workflow lowcache"));
  EXPECT_TRUE(has("many_small_requests", "workflow chatty"));
  EXPECT_FALSE(has("no_cache", "workflow good"));
  EXPECT_FALSE(has("high_io_ratio", "workflow good"));
  EXPECT_FALSE(has("low_cache", "workflow good"));
  for (const Finding& x : f) {
    if (x.kind == "high_io_ratio") EXPECT_DOUBLE_EQ(x.Evidence("input_output_ratio"), 200.0);
    if (x.kind == "low_cache") EXPECT_DOUBLE_EQ(x.Evidence("cache_hit_rate"), 0.5);
    if (x.kind == "many_small_requests") {
      EXPECT_EQ(x.Evidence("requests_per_run"), 25);
      EXPECT_EQ(x.Evidence("tokens_per_request"), 400);
    }
  }
  // "chatty": 10,000 prompt tokens... 25 × 300 = 7,500 < 10,000: not judged
  // for caching.
  EXPECT_FALSE(has("no_cache", "workflow chatty"));
}

TEST(GroupRulesTest, IncreasingAgainstThePreviousPeriod) {
  EventStore store;
  const int64_t day = 24 * 60 * kMinute;
  store.Add(With(Llm(kT0 - day, 90000, 10000, 0), "workflow", "w"));  // 100,000 before
  store.Add(With(Llm(kT0, 135000, 15000, 0), "workflow", "w"));       // 150,000 now
  store.Finish();
  DetectInput in;
  in.store = &store;
  in.recs = store.Range(kT0, 0);
  in.previous = store.Range(kT0 - day, kT0);
  in.has_previous = true;
  std::vector<Finding> f = DetectGroupRules(in);
  int n = 0;
  for (const Finding& x : f) {
    if (x.kind != "increasing") continue;
    ++n;
    EXPECT_DOUBLE_EQ(x.Evidence("growth"), 0.5);  // (150,000 − 100,000) / 100,000
    EXPECT_EQ(x.Evidence("previous_tokens"), 100000);
  }
  EXPECT_EQ(n, 1);
}

TEST(LargeRunTest, AboveThreeMillionTokens) {
  EventStore store;
  // the 4.6M-token run: its parts add up to 4,637,898 > 3,000,000.
  store.Add(With(Llm(kT0, 326432, 48366, 4234687, 28413), "run", "issue-35"));
  store.Add(With(Llm(kT0, 1000, 100), "run", "small"));
  std::vector<Finding> f = RunRule(store, &DetectLargeRuns);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "run issue-35");
  EXPECT_EQ(f[0].Evidence("tokens"), 4637898);
}

TEST(LargeRunTest, FiveTimesTheMedianRun) {
  EventStore store;
  // Runs of 50k, 50k, 50k, 50k and 400k: median 50,000; 400k >= 5 × 50k.
  for (int i = 0; i < 4; ++i)
    store.Add(With(Llm(kT0, 40000, 10000), "run", std::string_view("abcd" + i, 1)));
  store.Add(With(Llm(kT0, 390000, 10000), "run", "big"));
  std::vector<Finding> f = RunRule(store, &DetectLargeRuns);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "run big");
  EXPECT_EQ(f[0].Evidence("median_run_tokens"), 50000);
}

TEST(DataGapTest, EmptyAndMalformedInputs) {
  EventStore store;
  std::vector<InputSummary> inputs(3);
  inputs[0].path = "ok.jsonl";
  inputs[0].records = 5;
  inputs[1].path = "empty.jsonl";
  inputs[1].empty = true;
  inputs[2].path = "bad.jsonl";
  inputs[2].records = 3;
  inputs[2].skipped_lines = 2;
  inputs[2].first_bad_lines = {4, 9};
  std::vector<Finding> f = RunRule(store, &DetectDataGaps, &inputs);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].subject, "input empty.jsonl");
  EXPECT_EQ(f[1].subject, "input bad.jsonl");
  EXPECT_EQ(f[1].Evidence("skipped_lines"), 2);
  EXPECT_NE(f[1].recommendation.find("first: 4, 9"), std::string::npos);
}

TEST(DetectTest, SortedBySeverityThenTokens) {
  EventStore store;
  for (int i = 0; i < 25; ++i) {  // 25 × 429: critical (>= 4 × 5)
    UsageEvent e = Llm(kT0 + i * int64_t{1'000'000'000}, 0, 0);
    e.status = 429;
    store.Add(e);
  }
  store.Add(With(Llm(kT0, 100000, 500), "workflow", "w"));  // no_cache (warning)
  store.Finish();
  DetectInput in;
  in.store = &store;
  in.recs = store.records();
  std::vector<Finding> f = Detect(in);
  ASSERT_GE(f.size(), 2u);
  EXPECT_EQ(f[0].kind, "retry_storm");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
}

}  // namespace
}  // namespace tokmeter::analysis
