// The live monitor (tokmeter/monitor.h) through the public API: a runtime
// with Options::monitor, spans, Runtime::Flush(), the guard, alert records in
// the batches and the on_alert callbacks. Expectations are computed by hand
// from the budgets and the spans each test writes.
#include "tokmeter/monitor.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/monitor/monitor_times.h"
#include "tokmeter/runtime.h"
#include "tokmeter/sinks.h"
#include "tokmeter/span.h"

namespace tokmeter {
namespace {

using testing::At;
using testing::kMinute;
using testing::kSecond;

// What the sinks got, copied on the flusher thread.
struct Collected {
  std::mutex mu;
  std::vector<AlertRecord> alerts;
  size_t spans = 0;

  std::vector<AlertRecord> Alerts() {
    std::lock_guard<std::mutex> l(mu);
    return alerts;
  }
  size_t Spans() {
    std::lock_guard<std::mutex> l(mu);
    return spans;
  }
};

struct Running {
  std::shared_ptr<Monitor> monitor;
  std::shared_ptr<Collected> got = std::make_shared<Collected>();
  std::unique_ptr<Runtime> rt;
};

// A runtime whose flusher only runs when the test flushes (the interval is
// far longer than any test).
Running Start(MonitorOptions mo) {
  Running r;
  absl::StatusOr<std::shared_ptr<Monitor>> m = Monitor::Create(std::move(mo));
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return r;
  r.monitor = *m;
  Options o;
  o.flush_interval = std::chrono::minutes(30);
  o.monitor = r.monitor;
  std::shared_ptr<Collected> got = r.got;
  o.sinks.push_back(std::make_unique<CallbackSink>([got](const Batch& b) {
    std::lock_guard<std::mutex> l(got->mu);
    got->spans += b.spans.size();
    got->alerts.insert(got->alerts.end(), b.alerts.begin(), b.alerts.end());
  }));
  absl::StatusOr<std::unique_ptr<Runtime>> rt = Runtime::Start(std::move(o));
  EXPECT_TRUE(rt.ok()) << rt.status();
  if (rt.ok()) r.rt = *std::move(rt);
  return r;
}

void Flush(Running& r) { ASSERT_TRUE(r.rt->Flush().ok()); }

// One LLM request in `session`: `tokens` input tokens, ending at `end_ns`
// (0: now).
void Llm(std::string_view session, int64_t tokens, int64_t end_ns = 0, int status = 0) {
  Span s("llm", "chat");
  s.Tag("session", session).Tag("model", "gpt-5").Add(Counter::kInputTokens, tokens);
  if (status != 0) s.Tag("status", status);
  if (end_ns != 0) s.SetTimes(end_ns - kSecond, end_ns);
}

std::vector<AlertRecord> OfKind(const std::vector<AlertRecord>& all, std::string_view kind) {
  std::vector<AlertRecord> out;
  for (const AlertRecord& a : all)
    if (a.finding.kind == kind) out.push_back(a);
  return out;
}

// ---- hard budget ---------------------------------------------------------------------

TEST(MonitorBudgetTest, HardBudgetDeniesFromTheFirstGuardAfterTheCrossing) {
  Running r = Start({.budgets = {"session=1000,hard"}, .rules = false});
  ASSERT_NE(r.rt, nullptr);
  // 500 + 499 = 999 tokens in s1: 99.9 % of 1000, under 100 %, over the 80 %
  // warn share.
  Llm("s1", 500);
  Llm("s1", 499);
  Llm("s2", 10);
  Flush(r);
  GuardResult g = Guard("session", "s1");
  EXPECT_FALSE(g.denied()) << g.message();
  EXPECT_EQ(g.verdict, Verdict::kWarn);
  EXPECT_EQ(g.reason, GuardResult::Reason::kBudget);
  EXPECT_EQ(Guard("session", "s2").verdict, Verdict::kAllow);
  EXPECT_FALSE(Guard().denied());

  // One more token: 1000 = 100 %.
  Llm("s1", 1);
  Flush(r);
  g = Guard("session", "s1");
  EXPECT_TRUE(g.denied());
  EXPECT_EQ(g.reason, GuardResult::Reason::kBudget);
  EXPECT_EQ(g.budget, 0);
  EXPECT_NE(g.message().find("session=1000,hard"), std::string::npos) << g.message();
  EXPECT_NE(g.message().find("s1"), std::string::npos) << g.message();
  // Other sessions and all traffic are still allowed.
  EXPECT_EQ(Guard("session", "s2").verdict, Verdict::kAllow);
  EXPECT_EQ(Guard("session", "s3").verdict, Verdict::kAllow);
  EXPECT_EQ(Guard().verdict, Verdict::kAllow);

  // Alerts: s1 crossed 50 % (at 500), 80 % and 100 % (at 999 and 1000); s2
  // used 1 %.
  const std::vector<AlertRecord> alerts = r.got->Alerts();
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_DOUBLE_EQ(alerts[0].finding.Evidence("threshold"), 0.5);
  EXPECT_DOUBLE_EQ(alerts[0].finding.Evidence("consumed"), 500);
  EXPECT_DOUBLE_EQ(alerts[1].finding.Evidence("threshold"), 0.8);
  EXPECT_DOUBLE_EQ(alerts[1].finding.Evidence("consumed"), 999);
  EXPECT_DOUBLE_EQ(alerts[2].finding.Evidence("threshold"), 1.0);
  EXPECT_DOUBLE_EQ(alerts[2].finding.Evidence("consumed"), 1000);
  EXPECT_EQ(alerts[2].finding.severity, Severity::kCritical);
  for (const AlertRecord& a : alerts) {
    EXPECT_EQ(a.finding.kind, "budget");
    EXPECT_EQ(a.finding.Key("session"), "s1");
    EXPECT_EQ(a.finding.Key("budget"), "session=1000,hard");
    EXPECT_TRUE(a.trace_id.valid());
    EXPECT_NE(a.span_id, 0u);
  }
  ASSERT_TRUE(r.rt->Shutdown().ok());
  // No runtime, no monitor: the guard allows.
  EXPECT_EQ(Guard("session", "s1").verdict, Verdict::kAllow);
}

// ---- 50/80/100 % once per scope and period ----------------------------------------------

TEST(MonitorBudgetTest, EachThresholdOncePerScopeFromEightThreads) {
  Running r = Start({.budgets = {"session=1000", "total=8000"}, .rules = false});
  ASSERT_NE(r.rt, nullptr);
  // 8 threads, each 100 spans of 10 tokens in its own session (1000 = 100 %
  // of its session budget); together 8000 = 100 % of the total budget. The
  // test thread flushes meanwhile, so the spans arrive over many passes.
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &done] {
      const std::string session = "t" + std::to_string(t);
      for (int i = 0; i < 100; ++i) Llm(session, 10);
      done.fetch_add(1);
    });
  }
  while (done.load() < 8) ASSERT_TRUE(r.rt->Flush().ok());
  for (std::thread& t : threads) t.join();
  Flush(r);
  EXPECT_EQ(r.got->Spans(), 800u);

  const std::vector<AlertRecord> alerts = r.got->Alerts();
  ASSERT_EQ(alerts.size(), 8u * 3 + 3);
  // Per session: 50 %, 80 %, 100 % at exactly 500, 800, 1000 tokens (10 at a
  // time from one thread, in order).
  for (int t = 0; t < 8; ++t) {
    const std::string session = "t" + std::to_string(t);
    std::vector<double> thresholds, consumed;
    for (const AlertRecord& a : alerts) {
      if (a.finding.Key("session") != session) continue;
      EXPECT_EQ(a.finding.Key("budget"), "session=1000");
      EXPECT_EQ(a.finding.subject, "session " + session);
      thresholds.push_back(a.finding.Evidence("threshold"));
      consumed.push_back(a.finding.Evidence("consumed"));
      EXPECT_DOUBLE_EQ(a.finding.Evidence("limit"), 1000);
      EXPECT_EQ(a.finding.tokens, int64_t(a.finding.Evidence("consumed")));
    }
    EXPECT_EQ(thresholds, (std::vector<double>{0.5, 0.8, 1.0})) << session;
    EXPECT_EQ(consumed, (std::vector<double>{500, 800, 1000})) << session;
  }
  // All traffic: 4000, 6400, 8000 of 8000 (every span is 10 tokens).
  std::vector<double> total;
  for (const AlertRecord& a : alerts) {
    if (a.finding.Key("budget") != "total=8000") continue;
    EXPECT_EQ(a.finding.subject, "all traffic");
    total.push_back(a.finding.Evidence("consumed"));
  }
  EXPECT_EQ(total, (std::vector<double>{4000, 6400, 8000}));
  const MonitorStats st = r.monitor->stats();
  EXPECT_EQ(st.alerts, 27u);
  EXPECT_EQ(st.observed, 800u);
  // Findings() holds the same 27 budget alerts.
  EXPECT_EQ(r.monitor->Findings().size(), 27u);
}

TEST(MonitorBudgetTest, DailyBudgetFiresAgainInTheNextDayOnce) {
  Running r = Start({.budgets = {"total=1000/day"}, .rules = false});
  ASSERT_NE(r.rt, nullptr);
  const int64_t d1 = At("2026-11-23T23:00:00Z");
  const int64_t d2 = At("2026-11-24T00:05:00Z");
  // Day 1: 500 (50 %), 800 (80 %), 1000 (100 %), 1100 (nothing new).
  Llm("a", 500, d1);
  Llm("a", 300, d1 + 10 * kMinute);
  Llm("a", 200, d1 + 20 * kMinute);
  Llm("a", 100, d1 + 30 * kMinute);
  Flush(r);
  // Day 2 starts from 0: 400 (nothing), 500 (50 %), 900 (80 %), 1100 (100 %).
  Llm("a", 400, d2);
  Llm("a", 100, d2 + 5 * kMinute);
  Llm("a", 400, d2 + 15 * kMinute);
  Llm("a", 200, d2 + 25 * kMinute);
  Flush(r);
  const std::vector<AlertRecord> alerts = r.got->Alerts();
  ASSERT_EQ(alerts.size(), 6u);
  const int64_t want_time[] = {d1,
                               d1 + 10 * kMinute,
                               d1 + 20 * kMinute,
                               d2 + 5 * kMinute,
                               d2 + 15 * kMinute,
                               d2 + 25 * kMinute};
  const double want_threshold[] = {0.5, 0.8, 1.0, 0.5, 0.8, 1.0};
  const double want_consumed[] = {500, 800, 1000, 500, 900, 1100};
  for (size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(alerts[i].time_unix_ns, want_time[i]);
    EXPECT_DOUBLE_EQ(alerts[i].finding.Evidence("threshold"), want_threshold[i]);
    EXPECT_DOUBLE_EQ(alerts[i].finding.Evidence("consumed"), want_consumed[i]);
    EXPECT_DOUBLE_EQ(alerts[i].finding.Evidence("limit"), 1000);
  }
}

TEST(MonitorBudgetTest, CalendarDaysAreInTheMonitorsTimeZone) {
  // Berlin is UTC+1 in November: its day ends at 23:00 UTC.
  Running r = Start({.budgets = {"total=1000/day"}, .time_zone = "Europe/Berlin", .rules = false});
  ASSERT_NE(r.rt, nullptr);
  Llm("a", 600, At("2026-11-23T22:30:00Z"));  // 23:30 in Berlin: 50 %
  Llm("a", 600, At("2026-11-23T23:30:00Z"));  // 00:30 the next day: 50 % again
  Flush(r);
  const std::vector<AlertRecord> alerts = r.got->Alerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_DOUBLE_EQ(alerts[0].finding.Evidence("consumed"), 600);
  EXPECT_DOUBLE_EQ(alerts[1].finding.Evidence("consumed"), 600);
  EXPECT_DOUBLE_EQ(alerts[1].finding.Evidence("threshold"), 0.5);
}

// ---- loop guard -------------------------------------------------------------------------

void ToolCall(std::string_view session, int64_t end_ns, std::string_view fingerprint,
              std::string_view args = {}) {
  Span s("tool", "read_file");
  s.Tag("session", session).Add(Counter::kInputTokens, 100);
  if (!fingerprint.empty()) s.Fingerprint(fingerprint);
  if (!args.empty()) s.Tag("args", args);
  s.SetTimes(end_ns - kSecond, end_ns);
}

TEST(MonitorLoopTest, GuardTripsOnTheNthIdenticalCallByFingerprint) {
  Running r = Start({.loop_repeats = 4, .deny_on_loop = true});
  ASSERT_NE(r.rt, nullptr);
  const int64_t t0 = At("2026-11-23T10:00:00Z");
  for (int i = 0; i < 3; ++i) ToolCall("s1", t0 + i * kMinute, "read_file a.txt");
  ToolCall("s2", t0, "read_file a.txt");
  Flush(r);
  EXPECT_EQ(Guard("session", "s1").verdict, Verdict::kAllow);  // 3 of 4
  ToolCall("s1", t0 + 3 * kMinute, "read_file a.txt");
  Flush(r);
  const GuardResult g = Guard("session", "s1");
  EXPECT_TRUE(g.denied());
  EXPECT_EQ(g.reason, GuardResult::Reason::kLoop);
  EXPECT_NE(g.message().find("loop"), std::string::npos) << g.message();
  EXPECT_EQ(Guard("session", "s2").verdict, Verdict::kAllow);
  const std::vector<AlertRecord> loops = OfKind(r.got->Alerts(), "loop");
  ASSERT_EQ(loops.size(), 1u);
  EXPECT_EQ(loops[0].finding.Key("session"), "s1");
  EXPECT_EQ(loops[0].time_unix_ns, t0 + 3 * kMinute);
}

TEST(MonitorLoopTest, GuardTripsOnTheNthIdenticalCallByToolAndArgs) {
  Running r = Start({.loop_repeats = 3, .deny_on_loop = true});
  ASSERT_NE(r.rt, nullptr);
  const int64_t t0 = At("2026-11-23T10:00:00Z");
  ToolCall("s1", t0, "", R"({"path":"a.txt"})");
  ToolCall("s1", t0 + kMinute, "", R"({"path":"a.txt"})");
  ToolCall("s1", t0 + 2 * kMinute, "", R"({"path":"b.txt"})");  // other args: another call
  Flush(r);
  EXPECT_EQ(Guard("session", "s1").verdict, Verdict::kAllow);
  ToolCall("s1", t0 + 3 * kMinute, "", R"({"path":"a.txt"})");  // the 3rd identical one
  Flush(r);
  EXPECT_TRUE(Guard("session", "s1").denied());
}

TEST(MonitorLoopTest, WithoutDenyOnLoopTheLoopOnlyAlerts) {
  Running r = Start({.loop_repeats = 3, .deny_on_loop = false});
  ASSERT_NE(r.rt, nullptr);
  const int64_t t0 = At("2026-11-23T10:00:00Z");
  for (int i = 0; i < 3; ++i) ToolCall("s1", t0 + i * kMinute, "same");
  Flush(r);
  EXPECT_EQ(Guard("session", "s1").verdict, Verdict::kAllow);
  EXPECT_EQ(OfKind(r.got->Alerts(), "loop").size(), 1u);
}

// ---- retry storm ------------------------------------------------------------------------

void StormTest(bool deny_on_storm) {
  Running r = Start({.deny_on_storm = deny_on_storm});
  ASSERT_NE(r.rt, nullptr);
  const int64_t t0 = At("2026-11-23T10:00:00Z");
  for (int i = 0; i < 4; ++i) Llm("s1", 10, t0 + i * 10 * kSecond, 429);
  Flush(r);
  EXPECT_EQ(Guard().verdict, Verdict::kAllow);  // 4 429s: no storm yet
  Llm("s1", 10, t0 + 40 * kSecond, 429);
  Flush(r);
  const GuardResult g = Guard();
  EXPECT_EQ(g.verdict, deny_on_storm ? Verdict::kDeny : Verdict::kWarn);
  EXPECT_EQ(g.reason, GuardResult::Reason::kStorm);
  EXPECT_NE(g.message().find("retry storm"), std::string::npos) << g.message();
  // A scope's guard includes the global verdict.
  EXPECT_EQ(Guard("session", "other").verdict, g.verdict);
  EXPECT_EQ(OfKind(r.got->Alerts(), "retry_storm").size(), 1u);
}

TEST(MonitorStormTest, FiveRateLimitedResponsesWarn) { StormTest(false); }
TEST(MonitorStormTest, FiveRateLimitedResponsesDenyWithDenyOnStorm) { StormTest(true); }

// ---- callbacks ----------------------------------------------------------------------------

// Counts calls and lets the test wait for a number of them (no timeouts).
struct CallLog {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> thresholds;  // of the alerts delivered
  void Add(const AlertRecord& a) {
    std::lock_guard<std::mutex> l(mu);
    thresholds.push_back(a.finding.Evidence("threshold"));
    cv.notify_all();
  }
  std::vector<double> WaitFor(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return thresholds.size() >= n; });
    return thresholds;
  }
};

TEST(MonitorCallbackTest, ThrowingCallbackIsCountedAndTheNextAlertDelivered) {
  auto log = std::make_shared<CallLog>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  Running r = Start(
      {.budgets = {"total=1000"}, .rules = false, .on_alert = [log, calls](const AlertRecord& a) {
         if (calls->fetch_add(1) == 0) throw std::runtime_error("callback failed");
         log->Add(a);
       }});
  ASSERT_NE(r.rt, nullptr);
  Llm("s", 500);  // 50 %: the callback throws
  Llm("s", 300);  // 80 %
  Llm("s", 200);  // 100 %
  Flush(r);
  EXPECT_EQ(log->WaitFor(2), (std::vector<double>{0.8, 1.0}));
  EXPECT_EQ(r.monitor->stats().callback_errors, 1u);
  EXPECT_EQ(r.got->Alerts().size(), 3u);
}

TEST(MonitorCallbackTest, SlowCallbackDoesNotDelayRecording) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto log = std::make_shared<CallLog>();
  Running r = Start(
      {.budgets = {"total=1000"}, .rules = false, .on_alert = [gate, log](const AlertRecord& a) {
         log->Add(a);
         gate.wait();  // slow: held until the test is done
       }});
  ASSERT_NE(r.rt, nullptr);
  Llm("s", 500);
  Flush(r);
  log->WaitFor(1);  // the callback is running, and stays in it
  Llm("s", 300);
  Llm("s", 200);
  Llm("s", 1);
  Flush(r);  // returns while the callback still runs
  EXPECT_EQ(r.got->Spans(), 4u);
  EXPECT_EQ(r.got->Alerts().size(), 3u);
  release.set_value();
  EXPECT_EQ(log->WaitFor(3), (std::vector<double>{0.5, 0.8, 1.0}));
}

TEST(MonitorCallbackTest, FullQueueDropsCallbacksButNotAlertRecords) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto log = std::make_shared<CallLog>();
  Running r = Start({.budgets = {"total=1000"},
                     .rules = false,
                     .on_alert =
                         [gate, log](const AlertRecord& a) {
                           log->Add(a);
                           gate.wait();
                         },
                     .callback_queue = 1});
  ASSERT_NE(r.rt, nullptr);
  Llm("s", 500);  // 50 %: taken by the callback thread, which blocks
  Flush(r);
  log->WaitFor(1);
  Llm("s", 500);  // 80 % and 100 % in one pass: one queued, one dropped
  Flush(r);
  EXPECT_EQ(r.monitor->stats().callbacks_dropped, 1u);
  EXPECT_EQ(r.got->Alerts().size(), 3u);
  EXPECT_EQ(r.monitor->stats().alerts, 3u);
  release.set_value();
  EXPECT_EQ(log->WaitFor(2), (std::vector<double>{0.5, 0.8}));
}

// ---- bad configuration --------------------------------------------------------------------

void ExpectInvalid(MonitorOptions mo, std::string_view named) {
  absl::StatusOr<std::shared_ptr<Monitor>> m = Monitor::Create(std::move(mo));
  ASSERT_FALSE(m.ok()) << named;
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(m.status().message()).find(std::string(named)), std::string::npos)
      << m.status();
}

TEST(MonitorConfigTest, BadBudgetsAreInvalidArgumentsNamingTheBudget) {
  for (const char* bad : {"session=-1000", "session=0", "cost=-5/day", "team=5M",
                          "total=5M/fortnight", "total=5M/0s", "cost=5req", "requests=$5",
                          "total=5Q", "session=2M,firm", "total=5M,at=80:50", "total", "=5M"}) {
    ExpectInvalid({.budgets = {"total=1M", bad}}, bad);
  }
}

// A limit under one token would round to 0 (found by budget_fuzzer: "+.25").
TEST(MonitorConfigTest, LimitsUnderOneTokenAreRefused) {
  EXPECT_FALSE(ParseTokenCount("+.25").ok());
  EXPECT_FALSE(ParseTokenCount("0.0001k").ok());
  EXPECT_EQ(*ParseTokenCount("0.5"), 1);  // rounds to one token
  EXPECT_EQ(*ParseTokenCount("1.5k"), 1500);
  ExpectInvalid({.budgets = {"total=0.4/day"}}, "total=0.4/day");
}

TEST(MonitorConfigTest, BadTimeZoneIsNamed) {
  ExpectInvalid({.budgets = {"total=1M/day"}, .time_zone = "Mars/Olympus_Mons"},
                "Mars/Olympus_Mons");
}

}  // namespace
}  // namespace tokmeter
