// Every rule with hand-computed expectations (src/rules). Each case runs the
// events two ways — the live path (one observation per event, keys hashed, as
// the monitor and `watch` feed the rules) and the batch path (`detect`: an
// event store, sorted, interned) — and expects the same findings from both.
#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/analysis/detect.h"
#include "src/model/thresholds.h"
#include "src/rules/engine.h"
#include "tests/analysis/test_events.h"
#include "tests/rules/describe.h"

namespace tokmeter::rules {
namespace {

using analysis::EventStore;
using analysis::SourceFormat;
using analysis::UsageEvent;
using analysis::testing::At;
using analysis::testing::kMinute;
using analysis::testing::Llm;
using analysis::testing::Tool;
using analysis::testing::With;
using testing::Describe;

constexpr int64_t kSecond = 1'000'000'000;
const int64_t kT0 = At("2026-11-23T09:00:00Z");

// The findings of both paths, checked equal; returns them.
std::vector<Finding> BothWays(const std::vector<UsageEvent>& events,
                              const std::vector<UsageEvent>& previous = {}) {
  RuleEngine live;
  for (const UsageEvent& e : previous) {
    Observation o = FromEvent(e);
    HashKeys(o);
    live.ObservePrevious(o);
  }
  for (const UsageEvent& e : events) {
    Observation o = FromEvent(e);
    HashKeys(o);
    live.Observe(o);
  }
  std::vector<Finding> a = live.Findings();

  EventStore store;
  for (const UsageEvent& e : previous) store.Add(e);
  for (const UsageEvent& e : events) store.Add(e);
  store.Finish();
  analysis::DetectInput in;
  in.store = &store;
  if (!previous.empty()) {
    const int64_t split = events.front().time_unix_ns;
    in.recs = store.Range(split, 0);
    in.previous = store.Range(0, split);
    in.has_previous = true;
  } else {
    in.recs = store.records();
  }
  std::vector<Finding> b = analysis::Detect(in);
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    EXPECT_EQ(Describe(a[i]), Describe(b[i]));
  return a;
}

// UsageEvent holds views: names made up in a test live here.
std::string_view Keep(std::string s) {
  static std::deque<std::string>* kept = new std::deque<std::string>;
  return kept->emplace_back(std::move(s));
}

std::vector<Finding> OfKind(const std::vector<Finding>& all, std::string_view kind) {
  std::vector<Finding> out;
  for (const Finding& f : all)
    if (f.kind == kind) out.push_back(f);
  return out;
}

UsageEvent Turn(int64_t t, std::string_view session, int64_t in, int64_t out, int tools) {
  UsageEvent e;
  e.time_unix_ns = t;
  e.kind = "turn_summary";
  e.format = SourceFormat::kTurnSummary;
  e.cache_reported = false;
  e.trace_id = session;
  e.model = "gpt-5";
  e.tokens.input = in;
  e.tokens.output = out;
  e.tool_calls = tools;
  return With(e, "session", session);
}

// ---- spike -------------------------------------------------------------------

// Twenty-four windows (two hours) of 100k, 105k, …, 215k tokens from 09:00,
// one request each. Interpolating between ranks: p50 at rank 0.5 × 23 = 11.5
// is 155k + 0.5 × 5k = 157,500; p95 at rank 0.95 × 23 = 21.85 is
// 205k + 0.85 × 5k = 209,250. A window is a spike from
// max(200,000, 10 × 157,500, 5 × 209,250) = 1,575,000 tokens.
constexpr int kBaselineWindows = 24;
std::vector<UsageEvent> BaselineTraffic() {
  std::vector<UsageEvent> v;
  for (int i = 0; i < kBaselineWindows; ++i)
    v.push_back(With(Llm(kT0 + i * 5 * kMinute + kMinute, 100000 + 5000 * i - 1000, 1000),
                     "session", "steady"));
  return v;
}
// The first window after the baseline: 11:00.
const int64_t kAfter = kT0 + kBaselineWindows * 5 * kMinute;

TEST(SpikeRuleTest, BaselineIsTheTrailingWindows) {
  std::vector<int64_t> w;
  for (int i = 0; i < kBaselineWindows; ++i) w.push_back(100000 + 5000 * i);
  Baseline b = MakeBaseline(w);
  EXPECT_EQ(b.windows, 24);
  EXPECT_DOUBLE_EQ(b.p50, 157500);
  EXPECT_NEAR(b.p95, 209250, 1e-6);
  EXPECT_EQ(b.threshold, 1575000);
  // When a few windows are much busier the p95 decides: 22 windows of 100k
  // and two of 1M have p50 100k and p95 at rank 21.85 (between the last
  // 100k and the first 1M) = 100k + 0.85 × 900k = 865k, so the threshold is
  // 5 × 865,000 = 4,325,000 (not 10 × 100k).
  std::vector<int64_t> tail(22, 100000);
  tail.push_back(1000000);
  tail.push_back(1000000);
  EXPECT_EQ(MakeBaseline(tail).threshold, 4325000);
  // Twenty-three windows (less than two hours) are too few to judge.
  EXPECT_EQ(MakeBaseline(std::vector<int64_t>(23, 100000)).threshold, INT64_MAX);
}

TEST(SpikeRuleTest, SixTimesTheMedianIsOrdinaryTraffic) {
  std::vector<UsageEvent> v = BaselineTraffic();
  v.push_back(With(Llm(kAfter + kMinute, 944000, 1000), "session", "busy"));  // 6x
  EXPECT_TRUE(OfKind(BothWays(v), "spike").empty());
}

TEST(SpikeRuleTest, IdleWindowsAreNoBaseline) {
  // Two hours of 5k-token windows (a heartbeat): below 20k, they are idle
  // time, not use, so there is no baseline and a 1M window is no spike.
  std::vector<UsageEvent> v;
  for (int i = 0; i < kBaselineWindows; ++i)
    v.push_back(With(Llm(kT0 + i * 5 * kMinute + kMinute, 4000, 1000), "session", "quiet"));
  v.push_back(With(Llm(kAfter + kMinute, 999000, 1000), "session", "work"));
  EXPECT_TRUE(OfKind(BothWays(v), "spike").empty());
}

TEST(SpikeRuleTest, BackgroundWindowsAreNotTheBaselineOfInteractiveOnes) {
  // The baseline traffic tagged as a cron job: background-only windows. An
  // interactive window of 1.6M has no interactive baseline: no spike.
  std::vector<UsageEvent> v;
  for (UsageEvent e : BaselineTraffic()) v.push_back(With(e, "job", "nightly"));
  v.push_back(With(Llm(kAfter + kMinute, 1599000, 1000), "session", "loud"));
  EXPECT_TRUE(OfKind(BothWays(v), "spike").empty());
}

TEST(SpikeRuleTest, AdjacentSpikeWindowsAreOneEpisode) {
  std::vector<UsageEvent> v = BaselineTraffic();
  // 11:00 and 11:05: 1.6M each from session "loud", each >= 1,575,000 (the
  // second window's baseline leaves out the first, a spike, so it is the
  // same 24 windows).
  v.push_back(With(Llm(kAfter + kMinute, 1599000, 1000), "session", "loud"));
  v.push_back(With(Llm(kAfter + 5 * kMinute + kMinute, 1599000, 1000), "session", "loud"));
  // 11:40, 30 minutes after the episode ended (> 15): a second episode.
  v.push_back(With(Llm(kAfter + 40 * kMinute + kMinute, 1999000, 1000), "session", "other"));
  std::vector<Finding> f = OfKind(BothWays(v), "spike");
  ASSERT_EQ(f.size(), 2u);
  // Sorted by tokens: the episode of 3.2M first.
  EXPECT_EQ(f[0].subject, "session loud");
  EXPECT_EQ(f[0].Key("session"), "loud");
  EXPECT_EQ(f[0].time_ns, kAfter);
  EXPECT_EQ(f[0].end_ns, kAfter + 10 * kMinute);
  EXPECT_EQ(f[0].Evidence("windows"), 2);
  EXPECT_EQ(f[0].Evidence("episode_tokens"), 3200000);
  EXPECT_EQ(f[0].Evidence("window_tokens"), 1600000);
  EXPECT_DOUBLE_EQ(f[0].Evidence("baseline_p50"), 157500);
  EXPECT_NEAR(f[0].Evidence("median_multiple"), 1600000.0 / 157500.0, 1e-9);
  EXPECT_EQ(f[1].subject, "session other");
  EXPECT_EQ(f[1].Evidence("windows"), 1);
}

TEST(SpikeRuleTest, LiveAlertComesWithTheCrossingRequest) {
  RuleEngine e;
  std::vector<std::string> alerts;
  e.OnAlert([&](const Finding& f, const Observation* o) {
    if (f.kind == "spike") alerts.push_back(f.kind + "@" + std::to_string(o ? o->time_ns : 0));
  });
  for (const UsageEvent& ev : BaselineTraffic()) {
    Observation o = FromEvent(ev);
    HashKeys(o);
    e.Observe(o);
  }
  EXPECT_TRUE(alerts.empty());
  // 11:00: 1.0M, then 0.6M more (1.6M >= 1.575M): the alert comes with the second.
  for (int64_t t : {kAfter + kMinute, kAfter + 2 * kMinute}) {
    UsageEvent ev = With(Llm(t, t == kAfter + kMinute ? 999000 : 599000, 1000), "session", "x");
    Observation o = FromEvent(ev);
    HashKeys(o);
    e.Observe(o);
  }
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0], "spike@" + std::to_string(kAfter + 2 * kMinute));
}

// ---- retry_storm -------------------------------------------------------------

UsageEvent RateLimited(int64_t t, std::string_view session) {
  UsageEvent e = With(Llm(t, 0, 0), "session", session);
  e.status = 429;
  e.retries = 1;
  e.retry_wait_ms = 1000;
  e.fingerprint = 0x55;
  return e;
}

TEST(RetryStormRuleTest, SixRateLimitsInFourMinutes) {
  std::vector<UsageEvent> v;
  // 429s at +0, 40, 80, 120, 160, 200 s: minutes 0, 0, 1, 2, 2, 3.
  for (int i = 0; i < 6; ++i) v.push_back(RateLimited(kT0 + i * 40 * kSecond, "s9"));
  v.push_back(With(Llm(kT0 + 270 * kSecond, 1000, 100), "session", "s9"));
  std::vector<Finding> f = OfKind(BothWays(v), "retry_storm");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session s9");
  EXPECT_EQ(f[0].time_ns, kT0);
  EXPECT_EQ(f[0].end_ns, kT0 + 4 * kMinute);
  EXPECT_EQ(f[0].Evidence("rate_limited"), 6);
  EXPECT_EQ(f[0].Evidence("retries"), 6);
  EXPECT_EQ(f[0].Evidence("retry_wait_ms"), 6000);
  EXPECT_EQ(f[0].Evidence("identical_requests"), 6);
  EXPECT_EQ(f[0].severity, Severity::kWarning);  // 6 < 4 x 5
}

TEST(RetryStormRuleTest, ABurstAcrossAWindowEdgeStillCounts) {
  std::vector<UsageEvent> v;
  // 3 at 09:03 and 3 at 09:06: 3 + 3 in fixed 5-minute windows, but 6 within
  // the 5 minutes 09:02–09:06.
  for (int i = 0; i < 3; ++i) v.push_back(RateLimited(kT0 + 3 * kMinute + i * kSecond, "a"));
  for (int i = 0; i < 3; ++i) v.push_back(RateLimited(kT0 + 6 * kMinute + i * kSecond, "a"));
  EXPECT_EQ(OfKind(BothWays(v), "retry_storm").size(), 1u);
}

TEST(RetryStormRuleTest, FourRateLimitsAreNotAStorm) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 4; ++i) v.push_back(RateLimited(kT0 + i * kMinute, "a"));
  EXPECT_TRUE(OfKind(BothWays(v), "retry_storm").empty());
}

// ---- loop ------------------------------------------------------------------------

TEST(LoopRuleTest, SameFingerprintSixTimesInOneSession) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 6; ++i)
    v.push_back(With(Tool(kT0 + i * 10 * kSecond, "grep", 0xabc), "session", "s1"));
  // Another session: 4 times, one short of the rule.
  for (int i = 0; i < 4; ++i)
    v.push_back(With(Tool(kT0 + i * 10 * kSecond, "grep", 0xabc), "session", "s2"));
  std::vector<Finding> f = OfKind(BothWays(v), "loop");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session s1: tool grep");
  EXPECT_EQ(f[0].Key("session"), "s1");
  EXPECT_EQ(f[0].Evidence("repeats"), 6);
  EXPECT_EQ(f[0].Evidence("seconds"), 50);
  // Tool calls carry no tokens and nothing else ran: not critical.
  EXPECT_EQ(f[0].tokens, 0);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
}

// A batch run (no retain) closes a session once nobody has written to it
// for kSessionIdleNs of event time and a sweep period of records: its open
// episode becomes a finding, its memory goes. Session "a" loops at T0, then
// 2 sweep periods of session "b" follow `gap` later; `findings` gets a's.
size_t SessionsLeftAfterOthersWrite(int64_t gap, std::vector<Finding>* findings) {
  SessionRules rules{RuleOptions{}};
  auto feed = [&](const UsageEvent& e) {
    Observation o = FromEvent(e);
    HashKeys(o);
    rules.Observe(o, nullptr);
  };
  for (int i = 0; i < 6; ++i)
    feed(With(Tool(kT0 + i * 10 * kSecond, "grep", 0xabc), "session", "a"));
  for (uint64_t i = 0; i < 2 * IdleSweep::kEvery; ++i)
    feed(With(Llm(kT0 + gap + int64_t(i) * 1000, 100, 10), "session", "b"));
  std::vector<Finding> all;
  rules.AppendFindings(&all);
  for (const Finding& f : all)
    if (f.Key("session") == "a") findings->push_back(f);
  return rules.sessions();
}

TEST(LoopRuleTest, ABatchRunClosesASessionIdleForHoursAndKeepsItsFinding) {
  std::vector<Finding> f;
  EXPECT_EQ(SessionsLeftAfterOthersWrite(thresholds::kSessionIdleNs + kMinute, &f), 1u);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session a: tool grep");
  EXPECT_EQ(f[0].Evidence("repeats"), 6);
}

TEST(LoopRuleTest, ABatchRunKeepsASessionPausedForLessThanTheIdleTime) {
  std::vector<Finding> f;
  EXPECT_EQ(SessionsLeftAfterOthersWrite(thresholds::kSessionIdleNs - kMinute, &f), 2u);
  ASSERT_EQ(f.size(), 1u);
  // The next input going back in time: "a" holds the newest record.
  f.clear();
  EXPECT_EQ(SessionsLeftAfterOthersWrite(-2 * thresholds::kSessionIdleNs, &f), 2u);
  ASSERT_EQ(f.size(), 1u);
}

TEST(LoopRuleTest, TokensSpentWhileTheLoopRanMakeItCritical) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 5; ++i) {
    v.push_back(With(Tool(kT0 + i * kMinute, "grep", 0xabc), "session", "s"));
    // Between repeats the session's model calls: 300,000 tokens each.
    v.push_back(With(Llm(kT0 + i * kMinute + 10 * kSecond, 290000, 10000), "session", "s"));
  }
  std::vector<Finding> f = OfKind(BothWays(v), "loop");
  ASSERT_EQ(f.size(), 1u);
  // From before the first repeat to the fifth: the 4 requests in between
  // (the fifth request comes after the last repeat).
  EXPECT_EQ(f[0].tokens, 1200000);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
}

TEST(LoopRuleTest, RepeatsFarApartAreNotALoop) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 6; ++i)
    v.push_back(With(Tool(kT0 + i * 40 * kMinute, "poll", 0x1), "session", "s"));
  EXPECT_TRUE(OfKind(BothWays(v), "loop").empty());
}

TEST(LoopRuleTest, ARepeatAmongManyOtherToolCallsIsNotALoop) {
  std::vector<UsageEvent> v;
  auto llm = [](int64_t t, std::string_view session, uint64_t fingerprint) {
    UsageEvent e = With(Llm(t, 20000, 500), "session", session);
    e.fingerprint = fingerprint;  // every model request differs
    return e;
  };
  for (int i = 0; i < 5; ++i) {
    const int64_t t = kT0 + i * 4 * kMinute;
    // "coding": `git status`, then three other tool calls, each asked for by
    // a model request. At the fifth status: 5 of 5 + 4 × 3 = 17 tool calls,
    // 29 % < 1/3: a habit, not a loop.
    v.push_back(With(Tool(t, "git_status", 0x60), "session", "coding"));
    for (int k = 1; k <= 3; ++k) {
      v.push_back(llm(t + k * 10 * kSecond, "coding", 0x1000 + i * 10 + k));
      v.push_back(With(Tool(t + k * 10 * kSecond + kSecond, "edit", 0x2000 + i * 10 + k), "session",
                       "coding"));
    }
    // "stuck": the same test, one other tool call between: at the fifth,
    // 5 of 5 + 4 = 9 tool calls, 56 % >= 1/3. The model requests between
    // (all different) are not tool calls and do not dilute it.
    v.push_back(With(Tool(t, "run_tests", 0x70), "session", "stuck"));
    v.push_back(llm(t + 10 * kSecond, "stuck", 0x3000 + i * 10));
    v.push_back(With(Tool(t + 20 * kSecond, "edit", 0x4000 + i), "session", "stuck"));
    v.push_back(llm(t + 30 * kSecond, "stuck", 0x3001 + i * 10));
  }
  std::vector<Finding> f = OfKind(BothWays(v), "loop");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Key("session"), "stuck");
  EXPECT_EQ(f[0].Evidence("repeats"), 5);
}

// A session remembers its 8 most recently used calls: a ninth distinct call
// forgets the least recently used one, not the first one seen.
TEST(LoopRuleTest, ANewCallForgetsTheLeastRecentlyUsedOne) {
  std::vector<UsageEvent> v;
  int64_t t = kT0;
  auto call = [&](std::string_view tool, uint64_t fingerprint) {
    v.push_back(With(Tool(t, tool, fingerprint), "session", "s"));
    t += 10 * kSecond;
  };
  for (int i = 0; i < 3; ++i) call("grep", 0xa);             // A three times
  for (uint64_t k = 1; k <= 7; ++k) call("edit", 0xb0 + k);  // 7 others: 8 calls known
  call("grep", 0xa);                                         // A: most recently used again
  call("edit", 0xc0);  // a ninth call: forgets the first "edit", not A
  call("grep", 0xa);
  call("grep", 0xa);
  // A: 3 + 1 + 2 = 6 repeats of 6 + 8 = 14 tool calls since its first, 43 %
  // >= 1/3. Had A been forgotten, it would count 2.
  std::vector<Finding> f = OfKind(BothWays(v), "loop");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session s: tool grep");
  EXPECT_EQ(f[0].Evidence("repeats"), 6);
}

TEST(LoopRuleTest, TheSameToolCallTwiceInOneStepCountsOnce) {
  std::vector<UsageEvent> v;
  // A step every 30 s: a model request (prompts 5 % apart: not near-identical
  // requests), then the calls it asked for, 5 s later.
  auto steps = [&](std::string_view session, int n, int copies) {
    for (int i = 0; i < n; ++i) {
      const int64_t t = kT0 + i * 30 * kSecond;
      v.push_back(With(Llm(t, 20000 + i * 1000, 300), "session", session));
      for (int k = 0; k < copies; ++k)
        v.push_back(With(Tool(t + 5 * kSecond, "make_test", 0x77), "session", session));
    }
  };
  steps("twice", 4, 2);  // 8 calls in 4 steps: 4 repeats, one short of 5
  steps("five", 5, 2);   // 10 calls in 5 steps: 5 repeats
  // Without model requests in the log there are no steps: 5 calls, 5 repeats.
  for (int k = 0; k < 5; ++k)
    v.push_back(With(Tool(kT0 + 5 * kSecond, "make_test", 0x77), "session", "tools_only"));
  std::vector<Finding> f = OfKind(BothWays(v), "loop");
  ASSERT_EQ(f.size(), 2u);
  std::sort(f.begin(), f.end(),
            [](const Finding& a, const Finding& b) { return a.Key("session") < b.Key("session"); });
  EXPECT_EQ(f[0].Key("session"), "five");
  EXPECT_EQ(f[0].Evidence("repeats"), 5);
  EXPECT_EQ(f[0].Evidence("seconds"), 120);  // the first step's call to the fifth's: 4 x 30 s
  EXPECT_EQ(f[1].Key("session"), "tools_only");
  EXPECT_EQ(f[1].Evidence("repeats"), 5);
}

TEST(LoopRuleTest, RateLimitedRetriesAreNotLoops) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 8; ++i) v.push_back(RateLimited(kT0 + i * kMinute, "s1"));
  EXPECT_TRUE(OfKind(BothWays(v), "loop").empty());
}

TEST(LoopRuleTest, SameToolAndArgsWithoutFingerprint) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 5; ++i)
    v.push_back(
        With(With(Tool(kT0 + i * kMinute, "fetch", 0), "args", "{\"url\":\"x\"}"), "session", "s"));
  std::vector<Finding> f = OfKind(BothWays(v), "loop");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("repeats"), 5);
}

TEST(LoopRuleTest, NearIdenticalTurnsWithoutFingerprints) {
  std::vector<UsageEvent> v;
  // 8 turns a minute apart: input 20,000 ± 100 (within 3 %), output 500 ± 10
  // (within 10 %), 2 tool calls each.
  for (int i = 0; i < 8; ++i)
    v.push_back(Turn(kT0 + i * kMinute, "agent:hb", 20000 + (i % 2 ? 100 : -100),
                     500 + (i % 2 ? 10 : 0), 2));
  // Another session: 7 such turns, one short.
  for (int i = 0; i < 7; ++i) v.push_back(Turn(kT0 + i * kMinute, "agent:b", 20000, 500, 2));
  // Another: 8 turns whose outputs differ (a conversation, not a loop).
  for (int i = 0; i < 8; ++i)
    v.push_back(Turn(kT0 + i * kMinute, "agent:c", 20000, 300 + 200 * i, 2));
  std::vector<Finding> f = OfKind(BothWays(v), "loop");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session agent:hb: near-identical requests");
  EXPECT_EQ(f[0].Evidence("repeats"), 8);
  EXPECT_EQ(f[0].Evidence("seconds"), 420);
  // 8 × (20,000 ± 100 + 500 or 510): 4 × 19,900 + 4 × 20,100 + 4 × 500 + 4 × 510.
  EXPECT_EQ(f[0].tokens, 164040);
}

TEST(LoopRuleTest, NearIdenticalTurnsSpacedOutAreNotALoop) {
  std::vector<UsageEvent> v;
  // A heartbeat every 30 minutes looks the same each time: that is the
  // background rule's business, not a loop.
  for (int i = 0; i < 10; ++i) v.push_back(Turn(kT0 + i * 30 * kMinute, "hb", 20000, 500, 0));
  EXPECT_TRUE(OfKind(BothWays(v), "loop").empty());
}

// ---- context_bloat ---------------------------------------------------------------

TEST(ContextBloatRuleTest, TurnInputGrowingTurnAfterTurn) {
  std::vector<UsageEvent> v;
  // Nine turns, every step up, none more than 40 % of the growth (largest
  // 45k of 170k): median of the last three 180k >= 3 × median of the first
  // three 30k, and the last two turns' inputs (180k, 190k) >= 180k.
  const int64_t in[] = {20000, 30000, 45000, 60000, 80000, 100000, 135000, 180000, 190000};
  for (int i = 0; i < 9; ++i) v.push_back(Turn(kT0 + i * kMinute, "grow", in[i], 500, 0));
  // The same growth with one turn a little smaller than the one before: turn
  // summaries must grow at every step (their sums also move with the number
  // of calls in a turn).
  const int64_t dip[] = {20000, 30000, 45000, 60000, 58000, 100000, 135000, 180000, 190000};
  for (int i = 0; i < 9; ++i) v.push_back(Turn(kT0 + i * kMinute, "dip", dip[i], 500, 0));
  // Two large last turns: the step to 190k is 158k, more than 40 % of the
  // growth (0.4 × 180k = 72k): one large tool result, not steady growth.
  const int64_t jump[] = {20000, 22000, 24000, 26000, 28000, 30000, 32000, 190000, 200000};
  for (int i = 0; i < 9; ++i) v.push_back(Turn(kT0 + i * kMinute, "jump", jump[i], 500, 0));
  // Steady growth to one prompt past 180k, then a compaction: the request
  // that compacts sends the whole history once; that is not staying there.
  const int64_t once[] = {20000, 30000, 45000, 60000, 80000, 100000, 135000, 160000, 185000, 15000};
  for (int i = 0; i < 10; ++i) v.push_back(Turn(kT0 + i * kMinute, "once", once[i], 500, 0));
  // Slow natural growth: 20k to 64k over 12 turns, never 180k.
  for (int i = 0; i < 12; ++i)
    v.push_back(Turn(kT0 + i * kMinute, "chat", 20000 + 4000 * i, 500, 0));
  std::vector<Finding> f = OfKind(BothWays(v), "context_bloat");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session grow");
  EXPECT_EQ(f[0].time_ns, kT0);
  EXPECT_EQ(f[0].Evidence("first_prompt_tokens"), 20000);
  EXPECT_EQ(f[0].Evidence("last_prompt_tokens"), 190000);
  EXPECT_DOUBLE_EQ(f[0].Evidence("growth"), 9.5);
  EXPECT_DOUBLE_EQ(f[0].Evidence("median_growth"), 6.0);
  EXPECT_EQ(f[0].Evidence("steps"), 9);
  EXPECT_EQ(f[0].severity, Severity::kWarning);  // 9.5x < 10x
  // The growing prompts: 20 + 30 + 45 + 60 + 80 + 100 + 135 + 180 + 190 thousand.
  EXPECT_EQ(f[0].tokens, 840000);
}

TEST(ContextBloatRuleTest, EarlierTurnsOfAnotherPaceDoNotHideTheGrowth) {
  std::vector<UsageEvent> v;
  // Two turns up and down, then eight turns of steady growth: the last eight
  // are the run (every step up, as turn summaries must), from 40k.
  const int64_t in[] = {30000, 25000, 40000, 55000, 75000, 100000, 125000, 150000, 185000, 200000};
  for (int i = 0; i < 10; ++i) v.push_back(Turn(kT0 + i * kMinute, "late", in[i], 500, 0));
  std::vector<Finding> f = OfKind(BothWays(v), "context_bloat");
  ASSERT_EQ(f.size(), 1u);
  // From 25k (the step 25k -> 40k is up): nine points; medians 40k and 185k.
  EXPECT_EQ(f[0].Evidence("first_prompt_tokens"), 25000);
  EXPECT_EQ(f[0].Evidence("steps"), 9);
  EXPECT_EQ(f[0].time_ns, kT0 + kMinute);
  EXPECT_DOUBLE_EQ(f[0].Evidence("median_growth"), 185000.0 / 40000.0);
}

TEST(ContextBloatRuleTest, ATurnSummarysPointIsItsInputPerModelCall) {
  std::vector<UsageEvent> v;
  // Nine turns of 3 tool calls (4 model calls each): inputs 4 × the series
  // above, so the points are the same and it fires.
  const int64_t in[] = {20000, 30000, 45000, 60000, 80000, 100000, 135000, 180000, 190000};
  for (int i = 0; i < 9; ++i) v.push_back(Turn(kT0 + i * kMinute, "tools", 4 * in[i], 500, 3));
  // Input that grows only because each turn makes more calls (1, 2, …, 9
  // tool calls of a steady 25k prompt): per call it is flat, no bloat.
  for (int i = 0; i < 9; ++i)
    v.push_back(Turn(kT0 + i * kMinute, "busier", 25000 * (i + 2), 500, i + 1));
  std::vector<Finding> f = OfKind(BothWays(v), "context_bloat");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session tools");
  EXPECT_EQ(f[0].Evidence("first_prompt_tokens"), 20000);
  EXPECT_EQ(f[0].Evidence("last_prompt_tokens"), 190000);
}

TEST(ContextBloatRuleTest, OnePointPerTurnForRequestsThatNameTheirTurn) {
  std::vector<UsageEvent> v;
  // Nine turns, each starting at 30k and growing to 150k inside the turn
  // (tool results): the turns start flat, so no bloat.
  for (int t = 0; t < 9; ++t) {
    for (int r = 0; r < 5; ++r) {
      UsageEvent e =
          With(Llm(kT0 + (t * 10 + r) * kMinute, 2000, 300, 28000 + 30000 * r), "session", "flat");
      e.parent_id = Keep("t" + std::to_string(t));
      v.push_back(e);
    }
  }
  // Nine turns starting at 25k, 50k, …, 225k (two requests each, the second
  // 500 more): medians 50k and 200k, steps of 25k, the last two 200k, 225k.
  for (int t = 0; t < 9; ++t) {
    for (int r = 0; r < 2; ++r) {
      UsageEvent e =
          With(Llm(kT0 + (t * 10 + r) * kMinute, 1000, 300, 25000 * (t + 1) - 1000 + 500 * r),
               "session", "bloat");
      e.parent_id = Keep("u" + std::to_string(t));
      v.push_back(e);
    }
  }
  std::vector<Finding> f = OfKind(BothWays(v), "context_bloat");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session bloat");
  EXPECT_EQ(f[0].Evidence("first_prompt_tokens"), 25000);
  EXPECT_EQ(f[0].Evidence("last_prompt_tokens"), 225000);
  EXPECT_EQ(f[0].Evidence("steps"), 9);
}

TEST(ContextBloatRuleTest, ACompactionStartsTheCountAgain) {
  std::vector<UsageEvent> v;
  // 40k, 60k, then 20k (under half of 60k: compacted), then 30k … 90k.
  const int64_t in[] = {40000, 60000, 20000, 30000, 45000, 60000, 75000, 90000};
  for (int i = 0; i < 8; ++i) v.push_back(Turn(kT0 + i * kMinute, "s", in[i], 500, 0));
  // Since the reset: 6 turns (< 8) and 90k (< 180k).
  EXPECT_TRUE(OfKind(BothWays(v), "context_bloat").empty());
}

// ---- output_ratio_rise -----------------------------------------------------------

TEST(OutputRatioRuleTest, OutputFiveTimesTheSessionsOwnBaseline) {
  std::vector<UsageEvent> v;
  // Baseline: 8 requests of 10,000 prompt and 500 output (ratio 0.05).
  for (int i = 0; i < 8; ++i) v.push_back(With(Llm(kT0 + i * kMinute, 10000, 500), "session", "s"));
  // Then 5 of 10,000 and 2,500 (0.25 = 5x >= 4x; >= 2,000 output).
  for (int i = 8; i < 13; ++i)
    v.push_back(With(Llm(kT0 + i * kMinute, 10000, 2500), "session", "s"));
  // Another session: only 4 such requests.
  for (int i = 0; i < 8; ++i) v.push_back(With(Llm(kT0 + i * kMinute, 10000, 500), "session", "t"));
  for (int i = 8; i < 12; ++i)
    v.push_back(With(Llm(kT0 + i * kMinute, 10000, 2500), "session", "t"));
  std::vector<Finding> f = OfKind(BothWays(v), "output_ratio_rise");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session s");
  EXPECT_DOUBLE_EQ(f[0].Evidence("baseline_ratio"), 0.05);
  EXPECT_DOUBLE_EQ(f[0].Evidence("max_ratio"), 0.25);
  EXPECT_EQ(f[0].Evidence("requests"), 5);
  EXPECT_EQ(f[0].tokens, 5 * 12500);
}

TEST(OutputRatioRuleTest, AgainstThePreviousPeriodPerGroup) {
  const int64_t day = 24 * 60 * kMinute;
  // Before: 1,000,000 prompt, 50,000 output (0.05). Now: 500,000 and 60,000
  // (0.12 = 2.4x >= 2x).
  std::vector<UsageEvent> before = {With(Llm(kT0 - day, 950000, 50000, 50000), "workflow", "w")};
  std::vector<UsageEvent> now = {With(Llm(kT0, 450000, 60000, 50000), "workflow", "w")};
  std::vector<Finding> f = OfKind(BothWays(now, before), "output_ratio_rise");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "workflow w");
  EXPECT_DOUBLE_EQ(f[0].Evidence("previous_output_prompt_ratio"), 0.05);
  EXPECT_DOUBLE_EQ(f[0].Evidence("output_prompt_ratio"), 0.12);
}

// ---- cache_miss_streak -----------------------------------------------------------

TEST(CacheMissRuleTest, FiveRequestsInARowWithoutACacheHit) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 3; ++i)
    v.push_back(With(Llm(kT0 + i * kMinute, 5000, 300, 15000), "session", "s"));
  for (int i = 3; i < 8; ++i) v.push_back(With(Llm(kT0 + i * kMinute, 20000, 300), "session", "s"));
  // Turn summaries say nothing about the cache: never a streak.
  for (int i = 0; i < 8; ++i) v.push_back(Turn(kT0 + i * kMinute, "ts", 20000, 300, 0));
  std::vector<Finding> f = OfKind(BothWays(v), "cache_miss_streak");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session s");
  EXPECT_EQ(f[0].Evidence("requests"), 5);
  EXPECT_EQ(f[0].time_ns, kT0 + 3 * kMinute);
}

// ---- fanout ----------------------------------------------------------------------

// Turns of tool spans under their turn's id, one turn a minute in session s.
void AddToolTurn(std::vector<UsageEvent>* v, int turn, int tools, uint64_t fp) {
  for (int i = 0; i < tools; ++i) {
    UsageEvent e = Tool(kT0 + turn * kMinute + int64_t{i} * 100'000'000, "search", fp + i);
    e.trace_id = "t1";
    e.parent_id = Keep("turn" + std::to_string(turn));
    v->push_back(With(e, "session", "s"));
  }
}

TEST(FanoutRuleTest, AgainstTheTurnsBefore) {
  std::vector<UsageEvent> v;
  // 30 turns of 1, 2, 3, 4, 5 tool calls (six each): p95 at rank
  // 0.95 × 29 = 27.55 of the sorted counts is 5, so a turn fans out from
  // max(40, 5 × 5) = 40 tool calls.
  for (int turn = 0; turn < 30; ++turn) AddToolTurn(&v, turn, turn % 5 + 1, 1000 * turn);
  AddToolTurn(&v, 30, 39, 100000);  // one short; it joins the history (p95 still 5)
  AddToolTurn(&v, 31, 40, 200000);
  std::vector<Finding> f = OfKind(BothWays(v), "fanout");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("tool_calls"), 40);
  EXPECT_EQ(f[0].Evidence("usual_p95"), 5);
  EXPECT_EQ(f[0].Evidence("threshold"), 40);
  EXPECT_EQ(f[0].subject, "session s turn at 09:31:00 UTC");
  EXPECT_EQ(f[0].time_ns, kT0 + 31 * kMinute);
}

TEST(FanoutRuleTest, InterleavedTurnsOfOneSessionCountEveryCall) {
  std::vector<UsageEvent> v;
  // The history of the test above: threshold 40.
  for (int turn = 0; turn < 30; ++turn) AddToolTurn(&v, turn, turn % 5 + 1, 1000 * turn);
  // Two sub-agents of session s at once: turn A makes 40 tool calls, turn B
  // 3, their records alternating while B runs (A0 B0 A1 B1 A2 B2 A3 ...
  // A39). Each switch looks like the session moving on to another turn and
  // puts the turn it left in the history (A and B with 1 call each: p95 of
  // the 32 turns still 5, threshold 40); A's later calls still count, and
  // its 40th makes it fire. B's 3 never do.
  const int64_t start = kT0 + 30 * kMinute;
  auto call = [&](const char* turn, int64_t at_ms, uint64_t fp) {
    UsageEvent e = Tool(start + at_ms * 1'000'000, "search", fp);
    e.trace_id = "t1";
    e.parent_id = Keep(turn);
    v.push_back(With(e, "session", "s"));
  };
  for (int i = 0; i < 40; ++i) {
    call("turnA", i * 100, 100000 + i);
    if (i < 3) call("turnB", i * 100 + 50, 200000 + i);
  }
  std::vector<Finding> f = OfKind(BothWays(v), "fanout");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("tool_calls"), 40);
  EXPECT_EQ(f[0].Evidence("usual_p95"), 5);
  EXPECT_EQ(f[0].Evidence("threshold"), 40);
  EXPECT_EQ(f[0].subject, "session s turn at 09:30:00 UTC");
  EXPECT_EQ(f[0].time_ns, start);
  EXPECT_EQ(f[0].end_ns, start + int64_t{3900} * 1'000'000);
}

TEST(FanoutRuleTest, OnlyTheLast200TurnsAreTheHistory) {
  std::vector<UsageEvent> v;
  // 200 turns of 10 tool calls: p95 10, threshold max(40, 5 × 10) = 50, so
  // a turn of 45 is not a fan-out; it joins the history.
  for (int turn = 0; turn < 200; ++turn) AddToolTurn(&v, turn, 10, 1000 * turn);
  AddToolTurn(&v, 200, 45, 300000);
  // 200 turns of 2 push every turn above out of the last 200: p95 2,
  // threshold max(40, 5 × 2) = 40, and a turn of 40 fans out.
  for (int turn = 201; turn <= 400; ++turn) AddToolTurn(&v, turn, 2, 1000 * turn);
  AddToolTurn(&v, 401, 40, 500000);
  std::vector<Finding> f = OfKind(BothWays(v), "fanout");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("tool_calls"), 40);
  EXPECT_EQ(f[0].Evidence("usual_p95"), 2);
  EXPECT_EQ(f[0].Evidence("threshold"), 40);
  EXPECT_EQ(f[0].time_ns, kT0 + 401 * kMinute);
}

TEST(FanoutRuleTest, AnAgentThatAlwaysFansOutIsNotFlagged) {
  std::vector<UsageEvent> v;
  // A coding agent: 30 turns of 20 tool calls (p95 20, threshold 100); a
  // turn of 60 is its busy turn, not a fan-out.
  for (int turn = 0; turn < 30; ++turn) AddToolTurn(&v, turn, 20, 1000 * turn);
  AddToolTurn(&v, 30, 60, 100000);
  EXPECT_TRUE(OfKind(BothWays(v), "fanout").empty());
}

TEST(FanoutRuleTest, TurnSummaryToolCallsWithLittleHistory) {
  // With fewer than 30 turns to compare with, a turn fans out from
  // max(60, 5 × p95): after one turn of 3, from 60; 59 is not enough.
  std::vector<UsageEvent> v = {Turn(kT0, "sess", 1820, 420, 3),
                               Turn(kT0 + kMinute, "other", 1820, 420, 59)};
  EXPECT_TRUE(OfKind(BothWays(v), "fanout").empty());
  v[1] = Turn(kT0 + kMinute, "sess", 1820, 420, 60);
  std::vector<Finding> f = OfKind(BothWays(v), "fanout");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].Evidence("tool_calls"), 60);
  EXPECT_EQ(f[0].subject, "session sess turn at 09:01:00 UTC");
}

// ---- background ------------------------------------------------------------------

TEST(BackgroundRuleTest, NamesTheCronJobAndTheHeartbeatSession) {
  std::vector<UsageEvent> v;
  v.push_back(With(Llm(At("2026-11-23T10:05:00Z"), 90000, 10000), "session", "human"));
  for (int i = 0; i < 6; ++i)  // 03:xx, nobody else: 150,000 from heartbeat session "hb"
    v.push_back(With(
        With(Llm(At("2026-11-23T03:00:00Z") + i * 5 * kMinute, 24000, 1000), "heartbeat", "true"),
        "session", "hb"));
  for (int i = 0; i < 6; ++i)  // 04:xx: 120,000 from cron job "nightly"
    v.push_back(
        With(Llm(At("2026-11-23T04:00:00Z") + i * 5 * kMinute, 19000, 1000), "job", "nightly"));
  for (int h = 0; h < 3; ++h)  // 00:xx-02:xx: a light poll, 3 × 6 × 6,000 = 108,000
    for (int i = 0; i < 6; ++i)
      v.push_back(
          With(With(Llm(At("2026-11-23T00:00:00Z") + (h * 60 + i * 10) * kMinute, 5500, 500),
                    "heartbeat", "true"),
               "session", "poll"));
  v.push_back(With(Llm(At("2026-11-23T10:30:00Z"), 9000, 1000), "job", "digest"));  // busy hour
  // All: 100,000 + 150,000 + 120,000 + 108,000 + 10,000 = 488,000. "hb"
  // 150,000 (30.7 %) in one idle hour and "nightly" 120,000 (24.6 %) in one:
  // each >= 100,000, >= 10 %, >= 40,000 an hour. "poll" 108,000 (22.1 %) is
  // 36,000 an hour: a heartbeat doing its job. "digest" ran in a busy hour.
  std::vector<Finding> f = OfKind(BothWays(v), "background");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].subject, "heartbeat session hb");
  EXPECT_EQ(f[0].Key("session"), "hb");
  EXPECT_EQ(f[0].tokens, 150000);
  EXPECT_EQ(f[1].subject, "job nightly");
  EXPECT_EQ(f[1].Key("job"), "nightly");
  EXPECT_EQ(f[1].Evidence("idle_tokens"), 120000);
  EXPECT_EQ(f[1].Evidence("idle_hours"), 1);
  EXPECT_EQ(f[1].Evidence("tokens_per_idle_hour"), 120000);
  EXPECT_NEAR(f[1].Evidence("idle_share"), 120000.0 / 488000.0, 1e-12);
}

TEST(BackgroundRuleTest, JobsRunningAlongsideInteractiveUseAreFine) {
  std::vector<UsageEvent> v;
  v.push_back(With(Llm(At("2026-11-23T10:05:00Z"), 90000, 10000), "session", "human"));
  v.push_back(With(Llm(At("2026-11-23T10:30:00Z"), 90000, 10000), "job", "digest"));
  EXPECT_TRUE(OfKind(BothWays(v), "background").empty());
}

TEST(BackgroundRuleTest, LiveAlertWhenTheIdleHourIsOver) {
  RuleEngine e;
  std::vector<std::string> alerts;
  e.OnAlert([&](const Finding& f, const Observation*) { alerts.push_back(f.subject); });
  for (int i = 0; i < 6; ++i) {
    UsageEvent ev =
        With(Llm(At("2026-11-23T04:00:00Z") + i * 5 * kMinute, 19000, 1000), "job", "nightly");
    Observation o = FromEvent(ev);
    HashKeys(o);
    e.Observe(o);
  }
  e.Advance(At("2026-11-23T04:59:00Z"));  // the hour is not over
  EXPECT_TRUE(alerts.empty());
  e.Advance(At("2026-11-23T05:00:00Z"));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0], "job nightly");
  e.Advance(At("2026-11-23T06:00:00Z"));  // once
  EXPECT_EQ(alerts.size(), 1u);
}

// ---- groups and runs --------------------------------------------------------------

// No workflow, agent or job tags: groups are models. Run r1 writes one
// request to model "big", 30 small ones to "small", one to "big", 10 more to
// "small"; run r2 10 to "small". "small": 50 requests over 2 runs = 25 per
// run >= 20, of 400 tokens: many_small_requests with runs 2 (r1 counted
// once, though it started elsewhere, went away and came back). "big": 2
// requests, 1 run: nothing.
TEST(GroupRulesTest, ARunCountsOnceInEachGroupItWroteTo) {
  auto on = [](UsageEvent e, std::string_view model, std::string_view run) {
    e.model = model;
    return With(e, "run", run);
  };
  std::vector<UsageEvent> v;
  int64_t t = kT0;
  v.push_back(on(Llm(t++, 300, 100), "big", "r1"));
  for (int i = 0; i < 30; ++i) v.push_back(on(Llm(t++, 300, 100), "small", "r1"));
  v.push_back(on(Llm(t++, 300, 100), "big", "r1"));
  for (int i = 0; i < 10; ++i) v.push_back(on(Llm(t++, 300, 100), "small", "r1"));
  for (int i = 0; i < 10; ++i) v.push_back(on(Llm(t++, 300, 100), "small", "r2"));
  std::vector<Finding> f = OfKind(BothWays(v), "many_small_requests");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "model small");
  EXPECT_EQ(f[0].Evidence("requests"), 50);
  EXPECT_EQ(f[0].Evidence("runs"), 2);
  EXPECT_EQ(f[0].Evidence("requests_per_run"), 25);
  EXPECT_EQ(f[0].Evidence("tokens_per_request"), 400);
}

TEST(GroupRulesTest, RecommendationRules) {
  std::vector<UsageEvent> v;
  // "nocache": 100,000 input, 500 output, no cache reads: no_cache; input/
  // output = 200 > 100: high_io_ratio.
  v.push_back(With(With(Llm(kT0, 100000, 500), "workflow", "nocache"), "run", "n1"));
  // "good": hit rate 0.99, ratio 100 (not > 100): nothing.
  v.push_back(With(With(Llm(kT0, 1000, 1000, 99000), "workflow", "good"), "run", "g1"));
  // "lowcache": 50,000 input, 50,000 cache read: hit rate 0.5 < 0.9.
  v.push_back(With(With(Llm(kT0, 50000, 2000, 50000), "workflow", "lowcache"), "run", "l1"));
  // "chatty": 25 requests of 400 tokens in one run: many_small_requests.
  for (int i = 0; i < 25; ++i)
    v.push_back(With(With(Llm(kT0 + i, 300, 100), "workflow", "chatty"), "run", "c1"));
  // "turns": turn summaries that say nothing of the cache: no cache finding.
  for (int i = 0; i < 3; ++i)
    v.push_back(With(Turn(kT0 + i * kMinute, "x", 20000, 1000, 0), "workflow", "turns"));
  std::vector<Finding> f = BothWays(v);
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
  EXPECT_FALSE(has("no_cache", "workflow turns"));
  EXPECT_FALSE(has("low_cache", "workflow turns"));
  EXPECT_FALSE(has("no_cache", "workflow chatty"));  // 7,500 prompt tokens: not judged
  for (const Finding& x : f) {
    if (x.kind == "high_io_ratio") EXPECT_DOUBLE_EQ(x.Evidence("input_output_ratio"), 200.0);
    if (x.kind == "low_cache") EXPECT_DOUBLE_EQ(x.Evidence("cache_hit_rate"), 0.5);
  }
}

TEST(GroupRulesTest, IncreasingAgainstThePreviousPeriod) {
  const int64_t day = 24 * 60 * kMinute;
  std::vector<Finding> f = OfKind(BothWays({With(Llm(kT0, 135000, 15000), "workflow", "w")},
                                           {With(Llm(kT0 - day, 90000, 10000), "workflow", "w")}),
                                  "increasing");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_DOUBLE_EQ(f[0].Evidence("growth"), 0.5);
  EXPECT_EQ(f[0].Evidence("previous_tokens"), 100000);
}

TEST(LargeRunRuleTest, NamedByTheSessionNotTheTraceId) {
  // 326,432 + 48,366 + 4,234,687 + 28,413 = 4,637,898 > 3,000,000.
  UsageEvent e = With(Llm(kT0, 326432, 48366, 4234687, 28413), "session", "agent:main:issue-35");
  e.trace_id = "257f8ae8a1b2c3d4e5f60718293a4b5c";
  std::vector<Finding> f = OfKind(BothWays({e}), "large_run");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].subject, "session agent:main:issue-35");
  EXPECT_EQ(f[0].Evidence("tokens"), 4637898);
}

TEST(LargeRunRuleTest, WorkflowRunByItsKey) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 4; ++i)
    v.push_back(With(With(Llm(kT0 + i, 40000, 10000), "workflow", "smoke"), "run",
                     std::string_view("abcd" + i, 1)));
  v.push_back(With(With(Llm(kT0, 390000, 10000), "workflow", "smoke"), "run", "17"));
  std::vector<Finding> f = OfKind(BothWays(v), "large_run");
  ASSERT_EQ(f.size(), 1u);  // 400k >= 5 x the median run of 50k
  EXPECT_EQ(f[0].subject, "workflow smoke run 17");
  EXPECT_EQ(f[0].Key("run"), "17");
  EXPECT_EQ(f[0].Evidence("median_run_tokens"), 50000);
  EXPECT_EQ(f[0].severity, Severity::kInfo);
}

TEST(DetectTest, SortedBySeverityThenTokens) {
  std::vector<UsageEvent> v;
  for (int i = 0; i < 25; ++i) {  // 25 × 429 within 25 s: critical (>= 4 × 5)
    UsageEvent e = Llm(kT0 + i * kSecond, 0, 0);
    e.status = 429;
    v.push_back(e);
  }
  v.push_back(With(Llm(kT0 + kMinute, 100000, 500), "workflow", "w"));  // no_cache (warning)
  std::vector<Finding> f = BothWays(v);
  ASSERT_GE(f.size(), 2u);
  EXPECT_EQ(f[0].kind, "retry_storm");
  EXPECT_EQ(f[0].severity, Severity::kCritical);
}

}  // namespace
}  // namespace tokmeter::rules
