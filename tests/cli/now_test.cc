// One notion of "now" (the latest event, --as-of, --now), quota alerts and
// level that agree with the forecast, labels that match the period, and
// empty input as a clear "no data" document.
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const boost::json::object& Quota(const Result& r) { return r.doc().at("quota").as_object(); }

// Without --as-of, "now" is the latest event (bad.jsonl's 11:01:00), not the
// wall clock: November's consumption is usage.jsonl and bad.jsonl's 402,658
// tokens, not 0.
TEST(CliNowTest, QuotaIsAsOfTheLatestEvent) {
  Result r = Tokmeter(
      {"quota", "--format", "json", "--limit", "300M", Data("usage.jsonl"), Data("bad.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc().at("as_of_source").as_string(), "latest-event");
  EXPECT_EQ(r.doc().at("latest_event").as_string(), "2026-11-23T11:01:00Z");
  EXPECT_EQ(Quota(r).at("consumed").as_int64(), 402658);
  EXPECT_EQ(Quota(r).at("period_start").as_string(), "2026-11-01T00:00:00+00:00");
  Result table = Tokmeter(
      {"quota", "--format", "table", "--limit", "300M", Data("usage.jsonl"), Data("bad.jsonl")});
  EXPECT_THAT(table.out, HasSubstr("As of 2026-11-23 11:01:00 +00:00 (the latest event)"));
}

// A "now" after the data: the page says where the data ends.
TEST(CliNowTest, QuotaSaysWhenTheDataEndsBeforeThePeriod) {
  Result r = Tokmeter({"quota", "--format", "table", "--limit", "300M", "--as-of", "2026-12-07",
                       Data("usage.jsonl"), Data("bad.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("No usage in this month so far: the data ends 2026-11-23T11:01:00Z"));
  EXPECT_THAT(r.out, HasSubstr("(--as-of)"));
}

// A week of 10.5M tokens a day against 300M a month, as of Nov 8: consumed
// 73.5M (24.5 %, no consumption alert); forecast 73.5M + 10.5M × 23 = 315M
// = 105 % of the limit. So: a forecast alert, and the level is "balanced"
// (forecast within 110 %), not "minimal". The quota runs out
// (300M − 73.5M) / 10.5M = 21.571 days after Nov 8 00:00 = Nov 29 13:42:51.
TEST(CliNowTest, ForecastOverTheLimitAlertsAndSetsTheLevel) {
  TempDir dir("quota_week");
  std::string text;
  for (int d = 1; d <= 7; ++d)
    text += absl::StrFormat(
        R"({"type":"span","timestamp":"2026-11-%02dT12:00:00Z","trace_id":"%032x","span_id":"%016x","kind":"llm","name":"m","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":10500000,"output_tokens":0,"tags":{"run":"r%d"}})"
        "\n",
        d, d, d, d);
  const std::string path = dir.Write("week.jsonl", text);
  Result r = Tokmeter(
      {"quota", "--format", "json", "--limit", "300M", "--as-of", "2026-11-08T00:00:00Z", path});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto& q = Quota(r);
  EXPECT_EQ(q.at("consumed").as_int64(), 73500000);
  EXPECT_EQ(q.at("forecast").as_int64(), 315000000);
  EXPECT_TRUE(q.at("will_exceed").as_bool());
  EXPECT_EQ(q.at("level").as_string(), "balanced");
  EXPECT_EQ(q.at("level_basis").as_string(), "forecast");
  EXPECT_EQ(q.at("exhausted_at").as_string(), "2026-11-29T13:42:51+00:00");
  const auto& alerts = q.at("alerts").as_array();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].as_object().at("basis").as_string(), "forecast");
  Result table = Tokmeter(
      {"quota", "--format", "table", "--limit", "300M", "--as-of", "2026-11-08T00:00:00Z", path});
  EXPECT_THAT(table.out, HasSubstr("ALERT: forecast 105% of the month quota"));
  EXPECT_THAT(table.out, Not(HasSubstr("No alerts")));
  EXPECT_THAT(table.out, Not(HasSubstr("minimal")));
}

TEST(CliNowTest, ForecastRowIsNamedAfterThePeriod) {
  for (const char* period : {"day", "week", "month"}) {
    Result r = Tokmeter(
        {"quota", "--format", "md", "--limit", "1M", "--period", period, Data("usage.jsonl")});
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string label = std::string(1, char(std::toupper(period[0]))) + (period + 1);
    EXPECT_THAT(r.out, HasSubstr("| " + label + "-end forecast |")) << period;
    if (std::string(period) != "month") EXPECT_THAT(r.out, Not(HasSubstr("Month-end"))) << period;
  }
}

// --as-of moves the window of `top`: [08:30, 09:30) holds smoke-claude's two
// requests (197,002 tokens) and not secret-digger's at 10:00:05.
TEST(CliNowTest, TopWindowEndsAtAsOf) {
  Result r = Tokmeter({"top", "--format", "json", "--by", "workflow", "--window", "1h", "--as-of",
                       "2026-11-23T09:30:00Z", Data("usage.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto& rows = r.doc().at("rows").as_array();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].as_object().at("key").as_string(), "smoke-claude");
  EXPECT_EQ(rows[0].as_object().at("total_tokens").as_int64(), 197002);
  EXPECT_EQ(r.doc().at("period").as_object().at("until").as_string(), "2026-11-23T09:30:00+00:00");
  EXPECT_EQ(Tokmeter({"top", "--as-of", "2026-11-23", "--now", Data("usage.jsonl")}).rc, 2);
}

// The report's day as of 09:30 holds what happened until 09:30: smoke-claude
// (197,002 tokens), not secret-digger's request at 10:00:05.
TEST(CliNowTest, ReportDayEndsAtAsOf) {
  Result r = Tokmeter(
      {"report", "--format", "json", "--as-of", "2026-11-23T09:30:00Z", Data("usage.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc().at("title").as_string(), "Token Usage Report: 2026-11-23");
  EXPECT_EQ(r.doc().at("totals").as_object().at("total_tokens").as_int64(), 197002);
  EXPECT_EQ(r.doc().at("as_of_source").as_string(), "as-of");
}

TEST(CliNowTest, EmptyInputIsNoDataNever1970) {
  Result r = Tokmeter({"report", "--format", "json", Data("empty.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc().at("title").as_string(), "Token Usage Report: no data");
  EXPECT_TRUE(r.doc().at("period").as_object().at("since").is_null());
  EXPECT_TRUE(r.doc().at("period").as_object().at("until").is_null());
  EXPECT_TRUE(r.doc().at("date").is_null());
  EXPECT_EQ(r.doc().at("as_of_source").as_string(), "clock-no-events");
  struct Cmd {
    std::vector<std::string> args;
    std::vector<std::string> formats;
  };
  const std::vector<std::string> all = {"table", "json", "md", "html", "csv"};
  const std::vector<std::string> doc = {"table", "json", "md", "html"};
  const std::vector<Cmd> cmds = {
      {{"report"}, doc},
      {{"detect"}, all},
      {{"top"}, all},
      {{"spikes"}, all},
      {{"quota", "--limit", "1M"}, doc},
      {{"daily"}, all},
      {{"monthly"}, all},
      {{"session"}, all},
      {{"blocks"}, all},
  };
  for (const auto& c : cmds) {
    for (const auto& f : c.formats) {
      std::vector<std::string> args = c.args;
      args.insert(args.end(), {"--format", f, Data("empty.jsonl")});
      Result x = Tokmeter(args);
      EXPECT_EQ(x.rc, 0) << c.args[0] << " " << f << ": " << x.err;
      EXPECT_THAT(x.out, Not(HasSubstr("1970"))) << c.args[0] << " " << f;
      if (f == "table" || f == "md" || f == "html") {
        if (c.args[0] == "quota") {
          EXPECT_THAT(x.out, HasSubstr("no events at all")) << f;
        } else {
          EXPECT_THAT(x.out, HasSubstr("No usage data found")) << c.args[0] << " " << f;
        }
      }
    }
  }
}

TEST(CliNowTest, MultiDayReportIsTitledWithItsRange) {
  Result r = Tokmeter({"report", "--format", "json", "--since", "2026-11-17", "--until",
                       "2026-11-23", Data("usage.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc().at("title").as_string(), "Token Usage Report: 2026-11-17 – 2026-11-23");
  EXPECT_EQ(r.doc().at("date").as_string(), "2026-11-23");
  Result one = Tokmeter({"report", "--format", "json", Data("usage.jsonl")});
  EXPECT_EQ(one.doc().at("title").as_string(), "Token Usage Report: 2026-11-23");
}

}  // namespace
}  // namespace tokmeter::cli::testing
