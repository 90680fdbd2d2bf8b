// Budgets: the grammar and the tracker (src/rules/budgets.h), with
// hand-computed expectations.
#include "src/rules/budgets.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/analysis/test_events.h"

namespace tokmeter::rules {
namespace {

using analysis::testing::At;
using analysis::testing::kMinute;
using analysis::testing::Llm;
using analysis::testing::With;

TEST(ParseBudgetTest, TheFormsTheDocsShow) {
  auto b = ParseBudget("total=300M/month");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->key, "");
  EXPECT_EQ(b->unit, BudgetUnit::kTokens);
  EXPECT_EQ(b->limit, 300e6);
  EXPECT_EQ(b->period, BudgetPeriod::kMonth);
  EXPECT_FALSE(b->hard);
  EXPECT_EQ(b->thresholds, (std::vector<double>{0.5, 0.8, 1.0}));

  b = ParseBudget("session=2M");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->key, "session");
  EXPECT_EQ(b->value, "");
  EXPECT_EQ(b->period, BudgetPeriod::kLifetime);

  b = ParseBudget("job:heartbeat=500k/day");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->key, "job");
  EXPECT_EQ(b->value, "heartbeat");
  EXPECT_EQ(b->limit, 500000);
  EXPECT_EQ(b->period, BudgetPeriod::kDay);

  b = ParseBudget("cost=50/day,hard");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->unit, BudgetUnit::kUsd);
  EXPECT_EQ(b->limit, 50);
  EXPECT_TRUE(b->hard);

  b = ParseBudget("user=$5/week,at=25:50:100");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->unit, BudgetUnit::kUsd);
  EXPECT_EQ(b->limit, 5);
  EXPECT_EQ(b->period, BudgetPeriod::kWeek);
  EXPECT_EQ(b->thresholds, (std::vector<double>{0.25, 0.5, 1.0}));

  b = ParseBudget("total=2M/5m,hard");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->period, BudgetPeriod::kRolling);
  EXPECT_EQ(b->window_ns, 5 * kMinute);

  b = ParseBudget("agent=1000req/day");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->unit, BudgetUnit::kRequests);
  EXPECT_EQ(b->limit, 1000);

  b = ParseBudget("tag.team:infra=10M/month");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->key, "team");
  EXPECT_EQ(b->value, "infra");
}

TEST(ParseBudgetTest, BadConfigurationNamesWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{"session", "expected SCOPE=LIMIT"}, Case{"session=-2M", "bad limit '-2M'"},
        Case{"session=0", "bad limit '0'"}, Case{"sesion=2M", "unknown scope 'sesion'"},
        Case{"session=2M/fortnight", "bad period 'fortnight'"},
        Case{"session=2M/-5m", "bad period '-5m'"}, Case{"session=2Mb", "bad limit '2Mb'"},
        Case{"cost=5req", "a cost budget takes USD"},
        Case{"requests=$5", "a requests budget takes a count"},
        Case{"job:=5M", "no value after 'job:'"}, Case{"total=5M,loud", "unknown option 'loud'"},
        Case{"total=5M,at=80:50", "must ascend"}, Case{"total=5M,at=x", "bad threshold 'x'"},
        Case{"=5M", "expected SCOPE=LIMIT"}}) {
    auto b = ParseBudget(c.text);
    ASSERT_FALSE(b.ok()) << c.text;
    EXPECT_NE(std::string(b.status().message()).find(c.says), std::string::npos)
        << c.text << ": " << b.status().message();
    EXPECT_NE(std::string(b.status().message()).find(c.text), std::string::npos)
        << "names the budget: " << b.status().message();
  }
}

struct Alert {
  std::string subject;
  double threshold;
  int64_t time;
  std::string message;
};

class Tracker {
 public:
  explicit Tracker(std::vector<std::string> specs, const char* tz = "UTC", int64_t retain = 0) {
    std::vector<BudgetSpec> v;
    for (const auto& s : specs) v.push_back(*ParseBudget(s));
    absl::TimeZone zone;
    absl::LoadTimeZone(tz, &zone);
    t_ = std::make_unique<BudgetTracker>(std::move(v), zone, 0.8, retain);
    fn_ = [this](const Finding& f, const Observation* o) {
      alerts.push_back({f.subject, f.Evidence("threshold"), o ? o->time_ns : 0, f.recommendation});
    };
  }
  void Add(const UsageEvent& e, double cost = 0) {
    Observation o = FromEvent(e);
    HashKeys(o);
    o.cost = cost;
    t_->Observe(o, &fn_);
  }
  BudgetTracker& operator*() { return *t_; }
  BudgetTracker* operator->() { return t_.get(); }
  std::vector<Alert> alerts;

 private:
  std::unique_ptr<BudgetTracker> t_;
  AlertFn fn_;
};

TEST(BudgetTrackerTest, EachThresholdFiresOncePerScope) {
  Tracker t({"session=1M"});
  const int64_t t0 = At("2026-11-23T09:00:00Z");
  // Session a: 300k, 300k (600k: 50 %), 300k (900k: 80 %), 300k (1.2M:
  // 100 %), 300k more (nothing new). Session b: 500k (50 %).
  for (int i = 0; i < 5; ++i) t.Add(With(Llm(t0 + i * kMinute, 290000, 10000), "session", "a"));
  t.Add(With(Llm(t0, 490000, 10000), "session", "b"));
  ASSERT_EQ(t.alerts.size(), 4u);
  EXPECT_EQ(t.alerts[0].subject, "session a");
  EXPECT_EQ(t.alerts[0].threshold, 0.5);
  EXPECT_EQ(t.alerts[0].time, t0 + kMinute);
  EXPECT_EQ(t.alerts[1].threshold, 0.8);
  EXPECT_EQ(t.alerts[1].time, t0 + 2 * kMinute);
  EXPECT_EQ(t.alerts[2].threshold, 1.0);
  EXPECT_EQ(t.alerts[2].time, t0 + 3 * kMinute);
  EXPECT_EQ(t.alerts[3].subject, "session b");
  EXPECT_EQ(t.alerts[3].threshold, 0.5);
}

TEST(BudgetTrackerTest, OneRecordCanCrossSeveralThresholds) {
  Tracker t({"total=1M"});
  t.Add(Llm(At("2026-11-23T09:00:00Z"), 990000, 10000));  // 0 → 100 %
  ASSERT_EQ(t.alerts.size(), 3u);
  EXPECT_EQ(t.alerts[0].threshold, 0.5);
  EXPECT_EQ(t.alerts[2].threshold, 1.0);
}

TEST(BudgetTrackerTest, EachAlertOfOneRecordNamesItsOwnThreshold) {
  Tracker t({"total=1M"});
  t.Add(Llm(At("2026-11-23T09:00:00Z"), 840000, 10000));  // 0 → 85 %: 50 % and 80 %
  ASSERT_EQ(t.alerts.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const std::string crossed = i == 0 ? "crossed 50% of" : "crossed 80% of";
    EXPECT_NE(t.alerts[i].message.find(crossed), std::string::npos) << t.alerts[i].message;
    EXPECT_NE(t.alerts[i].message.find("it has used 85%"), std::string::npos)
        << t.alerts[i].message;
  }
}

TEST(BudgetTrackerTest, ADayBudgetStartsAgainAtMidnightInItsTimeZone) {
  // Paris is UTC+1 in November: the day ends at 23:00 UTC.
  Tracker t({"job:heartbeat=500k/day,hard"}, "Europe/Paris");
  auto beat = [&](const char* at) {
    t.Add(With(With(Llm(At(at), 240000, 10000), "heartbeat", "true"), "session", "hb"));
  };
  beat("2026-11-23T20:00:00Z");  // 250k: 50 %
  beat("2026-11-23T21:00:00Z");  // 500k: 80 % and 100 %
  EXPECT_EQ(t.alerts.size(), 3u);
  auto st = t->Statuses(At("2026-11-23T21:30:00Z"));
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].verdict, Verdict::kDeny);
  EXPECT_EQ(st[0].period_end_ns, At("2026-11-23T23:00:00Z"));
  auto changes = t->TakeChanges();
  ASSERT_EQ(changes.size(), 1u);  // allow → deny (the 80 % warn and the deny in one record)
  EXPECT_EQ(changes[0].verdict, Verdict::kDeny);
  EXPECT_EQ(changes[0].value, "heartbeat");
  // 23:00 UTC is midnight in Paris: the day is over, the job may run again.
  t->Advance(At("2026-11-23T23:00:00Z"));
  changes = t->TakeChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].verdict, Verdict::kAllow);
  beat("2026-11-23T23:30:00Z");  // the new day: 50 % again, once
  EXPECT_EQ(t.alerts.size(), 4u);
  EXPECT_EQ(t.alerts[3].threshold, 0.5);
}

// A record of the next day starts the new period by itself (a flush pass
// can hold records from both sides of midnight, judged before Advance runs).
TEST(BudgetTrackerTest, TheNextDaysFirstRecordStartsTheNewDay) {
  Tracker t({"total=1M/day,hard"});
  t.Add(Llm(At("2026-11-23T23:00:00Z"), 1190000, 10000));  // 1.2M: 50, 80 and 100 %
  ASSERT_EQ(t.alerts.size(), 3u);
  t.Add(Llm(At("2026-11-24T00:10:00Z"), 590000, 10000));  // the new day: 600k, 50 %
  ASSERT_EQ(t.alerts.size(), 4u);
  EXPECT_EQ(t.alerts[3].threshold, 0.5);
  EXPECT_EQ(t.alerts[3].time, At("2026-11-24T00:10:00Z"));
  auto st = t->Statuses(At("2026-11-24T00:20:00Z"));
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].verdict, Verdict::kAllow);  // 60 %: below the warning share (80 %)
  EXPECT_EQ(st[0].consumed, 600000);
}

// Random traffic of three sessions over four days against a day budget and a
// per-session budget: every crossing and every verdict as a running sum per
// day and per session says (computed here, record by record).
TEST(BudgetTrackerTest, CrossingsAndVerdictsFollowTheRunningSums) {
  Tracker t({"total=10k/day,hard", "session=6k"});
  std::mt19937 rng(7);
  const int64_t t0 = At("2026-11-23T00:00:00Z");
  const double kShares[] = {0.5, 0.8, 1.0};
  std::map<std::pair<std::string, int64_t>, int64_t> sums;  // (scope, day) → tokens
  std::vector<std::pair<std::string, double>> want;         // (subject, threshold)
  int64_t time = t0;
  for (int i = 0; i < 400; ++i) {
    time += std::uniform_int_distribution<int64_t>(1, 40)(rng) * kMinute;
    const std::string session = "s" + std::to_string(rng() % 3);
    const int64_t tokens = std::uniform_int_distribution<int64_t>(0, 900)(rng);
    t.Add(With(Llm(time, tokens, 0), "session", session));
    const int64_t day = (time - t0) / (24 * 60 * kMinute);
    auto add = [&](const std::string& scope, int64_t period, int64_t limit) {
      int64_t& sum = sums[{scope, period}];
      for (double share : kShares)
        if (sum < share * double(limit) && sum + tokens >= share * double(limit))
          want.push_back({scope, share});
      sum += tokens;
    };
    add("all traffic", day, 10000);
    add("session " + session, 0, 6000);
    // The day's verdict: deny from 100 %, warn from 80 %.
    const int64_t today = sums[{"all traffic", day}];
    const Verdict verdict = today >= 10000  ? Verdict::kDeny
                            : today >= 8000 ? Verdict::kWarn
                                            : Verdict::kAllow;
    for (const BudgetStatus& st : t->Statuses(time))
      if (st.spec == 0 && tokens > 0) ASSERT_EQ(st.verdict, verdict) << "record " << i;
  }
  EXPECT_GE(want.size(), 3u * 3 + 5 * 3);  // each session's and each day's three
  ASSERT_EQ(t.alerts.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(t.alerts[i].subject, want[i].first);
    EXPECT_EQ(t.alerts[i].threshold, want[i].second);
  }
}

TEST(BudgetTrackerTest, ARollingWindowFiresAgainAfterFallingBack) {
  Tracker t({"total=1M/10m"});
  const int64_t t0 = At("2026-11-23T09:00:00Z");
  t.Add(Llm(t0, 590000, 10000));                // 600k: 50 %
  t.Add(Llm(t0 + 11 * kMinute, 90000, 10000));  // the first left the window: 100k
  EXPECT_EQ(t.alerts.size(), 1u);
  t.Add(Llm(t0 + 12 * kMinute, 490000, 10000));  // 600k again: 50 % fires again
  ASSERT_EQ(t.alerts.size(), 2u);
  EXPECT_EQ(t.alerts[1].threshold, 0.5);
}

TEST(BudgetTrackerTest, UsdBudgetsCountUnpricedTokensApart) {
  Tracker t({"cost=1/day"});
  const int64_t t0 = At("2026-11-23T09:00:00Z");
  t.Add(Llm(t0, 1000, 100), 0.60);
  UsageEvent unknown = Llm(t0 + kMinute, 5000, 100);
  unknown.model = "some-unpriced-model";
  t.Add(unknown, std::numeric_limits<double>::quiet_NaN());
  auto st = t->Statuses(t0 + kMinute);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_DOUBLE_EQ(st[0].consumed, 0.60);
  EXPECT_EQ(st[0].unpriced_tokens, 5100);
  ASSERT_EQ(t.alerts.size(), 1u);  // 60 % crosses 50 %
}

TEST(BudgetTrackerTest, ForecastAtTheDaysAverageRate) {
  Tracker t({"total=1M/day"});
  // 300k by 06:00 UTC: a quarter of the day gone, 0.3 of the limit used;
  // forecast 300k / 6 h × 24 h = 1.2M.
  t.Add(Llm(At("2026-11-23T06:00:00Z"), 290000, 10000));
  auto st = t->Statuses(At("2026-11-23T06:00:00Z"));
  ASSERT_EQ(st.size(), 1u);
  EXPECT_NEAR(st[0].forecast, 1.2e6, 1);
  EXPECT_EQ(QuotaLevel(0.7, 1.2, nullptr), "aggressive");  // 1.2 > 1.10
  EXPECT_EQ(QuotaLevel(0.7, 0.9, nullptr), "minimal");
  EXPECT_EQ(QuotaLevel(0.05, 0.9, nullptr), "emergency");
}

TEST(BudgetTrackerTest, ReplayingTheSameRecordsGivesTheSameCrossings) {
  // A restart rebuilds the state by replaying the log: the same records in
  // the same order cross the same thresholds at the same records, so a
  // monitor that replays before it goes live fires nothing twice.
  std::vector<UsageEvent> log;
  const int64_t t0 = At("2026-11-23T09:00:00Z");
  for (int i = 0; i < 8; ++i)
    log.push_back(With(Llm(t0 + i * kMinute, 140000, 10000), "user", "u1"));
  Tracker first({"user=1M/day"});
  for (const auto& e : log) first.Add(e);
  Tracker second({"user=1M/day"});
  for (const auto& e : log) second.Add(e);
  ASSERT_EQ(first.alerts.size(), 3u);  // 600k at the 4th, 900k at the 6th, 1.05M at the 7th
  ASSERT_EQ(second.alerts.size(), first.alerts.size());
  for (size_t i = 0; i < first.alerts.size(); ++i)
    EXPECT_EQ(second.alerts[i].time, first.alerts[i].time);
  EXPECT_EQ(first.alerts[0].time, t0 + 3 * kMinute);
  EXPECT_EQ(first.alerts[1].time, t0 + 5 * kMinute);
  EXPECT_EQ(first.alerts[2].time, t0 + 6 * kMinute);
}

}  // namespace
}  // namespace tokmeter::rules
