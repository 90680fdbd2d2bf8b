// `tokmeter watch` as a replay (--from-start --exit-at-eof): the alert lines
// over data/watch (a tokmeter JSONL file and a turn_summary file read
// together in event time), the summary line, a second run over the same
// logs, and bad flags. Following growing and rotated files:
// watch_live_test.py.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli {
namespace {

namespace json = boost::json;
using testing::Data;
using testing::Tokmeter;

std::vector<json::object> Lines(const std::string& out) {
  std::vector<json::object> v;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty()))
    v.push_back(json::parse(std::string(line)).as_object());
  return v;
}

std::vector<std::string> Replay(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"watch", "--from-start", "--exit-at-eof", "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(Data("watch/agent.jsonl"));
  args.push_back(Data("watch/turns.jsonl"));
  return args;
}

// Token totals by event time (agent.jsonl: session s-1; turns.jsonl: b-1):
//   09:00 s-1 300   total  300   s-1 300
//   09:01 b-1 400   total  700               b-1 400
//   09:02 s-1 350   total 1050   s-1 650           total ≥ 1000 (50%), s-1 ≥ 500 (50%)
//   09:03 b-1 500   total 1550               b-1 900  b-1 ≥ 500 and ≥ 800 at once
//   09:04 s-1 200   total 1750   s-1 850           total ≥ 1600 (80%), s-1 ≥ 800 (80%)
//   09:05 b-1 250   total 2000               b-1 1150 total = 2000 (100%), b-1 ≥ 1000
//   09:06 s-1  50   total 2050   s-1 900
// then five 429s at 09:10:00…09:10:40 (no tokens): a retry storm at the fifth.
TEST(WatchTest, ReplayBudgetThresholdsFireOnceAtTheCrossingRecords) {
  auto r = Tokmeter(Replay({"--budget", "total=2k", "--budget", "session=1k"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<json::object> lines = Lines(r.out);
  ASSERT_FALSE(lines.empty());
  struct Want {
    const char* time;
    const char* scope;
    double threshold;
    const char* severity;
  };
  const std::vector<Want> want = {
      {"2026-11-23T09:02:00+00:00", "total", 0.5, "info"},
      {"2026-11-23T09:02:00+00:00", "session:s-1", 0.5, "info"},
      {"2026-11-23T09:03:00+00:00", "session:b-1", 0.5, "info"},
      {"2026-11-23T09:03:00+00:00", "session:b-1", 0.8, "warning"},
      {"2026-11-23T09:04:00+00:00", "total", 0.8, "warning"},
      {"2026-11-23T09:04:00+00:00", "session:s-1", 0.8, "warning"},
      {"2026-11-23T09:05:00+00:00", "total", 1.0, "critical"},
      {"2026-11-23T09:05:00+00:00", "session:b-1", 1.0, "critical"},
  };
  std::vector<json::object> budget;
  for (const json::object& l : lines)
    if (l.at("type") == "alert" && l.at("rule") == "budget") budget.push_back(l);
  ASSERT_EQ(budget.size(), want.size()) << r.out;
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(budget[i].at("timestamp").as_string(), want[i].time);
    EXPECT_EQ(budget[i].at("scope").as_string(), want[i].scope);
    EXPECT_EQ(budget[i].at("threshold").to_number<double>(), want[i].threshold);
    EXPECT_EQ(budget[i].at("severity").as_string(), want[i].severity);
    EXPECT_EQ(budget[i].at("budget").as_string(),
              std::string(want[i].scope) == "total" ? "total=2k" : "session=1k");
    EXPECT_FALSE(budget[i].at("message").as_string().empty());
    EXPECT_TRUE(budget[i].at("evidence").as_object().contains("consumed"));
  }
  // The consumed amounts at the crossings.
  EXPECT_EQ(budget[0].at("evidence").at("consumed").to_number<double>(), 1050);
  EXPECT_EQ(budget[4].at("evidence").at("consumed").to_number<double>(), 1750);
  EXPECT_EQ(budget[6].at("evidence").at("consumed").to_number<double>(), 2000);
  EXPECT_EQ(budget[7].at("evidence").at("consumed").to_number<double>(), 1150);
  EXPECT_EQ(budget[6].at("tokens").to_number<int64_t>(), 2000);
}

TEST(WatchTest, ReplayRetryStormAndSummary) {
  auto r = Tokmeter(Replay({"--window", "5m"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<json::object> lines = Lines(r.out);
  ASSERT_FALSE(lines.empty());
  int storms = 0, alerts = 0;
  for (const json::object& l : lines) {
    if (l.at("type") != "alert") continue;
    ++alerts;
    if (l.at("rule") != "retry_storm") continue;
    ++storms;
    EXPECT_EQ(l.at("timestamp").as_string(), "2026-11-23T09:10:40+00:00");
    EXPECT_EQ(l.at("evidence").at("rate_limited").to_number<double>(), 5);
  }
  EXPECT_EQ(storms, 1) << r.out;
  const json::object& s = lines.back();
  ASSERT_EQ(s.at("type"), "summary") << r.out;
  // agent.jsonl: a trace line, 4 spans, five 429s; turns.jsonl: 3 turns and
  // a bad line.
  EXPECT_EQ(s.at("lines").as_int64(), 14);
  EXPECT_EQ(s.at("bad_lines").as_int64(), 1);
  EXPECT_EQ(s.at("files").as_int64(), 2);
  EXPECT_EQ(s.at("events").as_int64(), 12);
  EXPECT_EQ(s.at("alerts").as_int64(), alerts);
  EXPECT_EQ(s.at("latest_event").as_string(), "2026-11-23T09:10:40+00:00");
}

TEST(WatchTest, RunningAgainOverTheSameLogsGivesTheSameAlerts) {
  auto args = Replay({"--budget", "total=2k", "--budget", "session=1k", "--budget", "cost=50/day",
                      "--budget", "job:heartbeat=500k/day"});
  auto a = Tokmeter(args);
  auto b = Tokmeter(args);
  ASSERT_EQ(a.rc, 0) << a.err;
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  // Each threshold once per scope.
  std::set<std::string> seen;
  for (const json::object& l : Lines(a.out)) {
    if (l.at("type") != "alert" || l.at("rule") != "budget") continue;
    std::string key = json::serialize(l.at("scope")) + json::serialize(l.at("threshold"));
    EXPECT_TRUE(seen.insert(key).second) << key;
  }
  EXPECT_EQ(seen.size(), 8u);
}

// A budget per a tag that is not one of the rules' dimensions (tag.NAME;
// agent.jsonl's trace tags team=core): 300 at 09:00 (≥ 250), 650 at 09:02
// (≥ 400, ≥ 500).
TEST(WatchTest, ReplayBudgetPerAnyTag) {
  auto r = Tokmeter(Replay({"--budget", "tag.team=500"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::pair<std::string, double>> got;
  for (const json::object& l : Lines(r.out))
    if (l.at("type") == "alert" && l.at("rule") == "budget") {
      EXPECT_EQ(l.at("scope").as_string(), "team:core");
      got.emplace_back(std::string(l.at("timestamp").as_string()),
                       l.at("threshold").to_number<double>());
    }
  const std::vector<std::pair<std::string, double>> want = {{"2026-11-23T09:00:00+00:00", 0.5},
                                                            {"2026-11-23T09:02:00+00:00", 0.8},
                                                            {"2026-11-23T09:02:00+00:00", 1.0}};
  EXPECT_EQ(got, want) << r.out;
}

TEST(WatchTest, TimesInTheZoneGiven) {
  auto r = Tokmeter(Replay({"--budget", "total=2k", "--tz", "Europe/Paris"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<json::object> lines = Lines(r.out);
  ASSERT_FALSE(lines.empty());
  bool found = false;
  for (const json::object& l : lines)
    if (l.at("type") == "alert" && l.at("rule") == "budget") {
      EXPECT_EQ(l.at("timestamp").as_string(), "2026-11-23T10:02:00+01:00");
      found = true;
      break;
    }
  EXPECT_TRUE(found);
}

TEST(WatchTest, TableReplayShowsBudgetsAndAlerts) {
  auto r =
      Tokmeter({"watch", "--from-start", "--exit-at-eof", "--format", "table", "--color", "never",
                "--budget", "total=2k", Data("watch/agent.jsonl"), Data("watch/turns.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("Budgets"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total=2k"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("102.5%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("retry_storm"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos);
}

TEST(WatchTest, WithoutFromStartWatchingStartsAtTheEndOfTheFiles) {
  auto r = Tokmeter({"watch", "--exit-at-eof", "--format", "json", "--budget", "total=1",
                     Data("watch/agent.jsonl"), Data("watch/turns.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<json::object> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;  // no alert: nothing was appended
  EXPECT_EQ(lines[0].at("type"), "summary");
  EXPECT_EQ(lines[0].at("lines").as_int64(), 0);
  EXPECT_EQ(lines[0].at("events").as_int64(), 0);
  EXPECT_EQ(lines[0].at("alerts").as_int64(), 0);
  EXPECT_TRUE(lines[0].at("latest_event").is_null());
}

TEST(WatchTest, BadFlagsExit2NamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  const std::vector<Case> cases = {
      {{"--budget", "total=abc"}, "--budget: budget 'total=abc'"},
      {{"--budget", "nolimit"}, "--budget: budget 'nolimit'"},
      {{"--budget", "total=2M/fortnight"}, "--budget: budget 'total=2M/fortnight'"},
      {{"--window", "0s"}, "--window"},
      {{"--window", "soon"}, "--window"},
      {{"--interval", "fast"}, "--interval"},
      {{"--format", "html"}, "--format"},
      {{"--format", "yaml"}, "--format"},
      {{"--tz", "Mars/Olympus"}, "--tz"},
      {{"--budgte", "total=1M"}, "--budget"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"watch", "--exit-at-eof"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.push_back(Data("watch/agent.jsonl"));
    auto r = Tokmeter(args);
    EXPECT_EQ(r.rc, 2) << c.args[0] << " " << c.args[1];
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace tokmeter::cli
