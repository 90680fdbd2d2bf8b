// The tokmeter command on small fixtures (tests/cli/data) and on agent_sim.
#include "src/cli/cli.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli {
namespace {

namespace json = boost::json;
using testing::Data;
using ::testing::HasSubstr;
using testing::Result;
using testing::TempPath;
using testing::Tokmeter;

std::set<std::string> Kinds(const json::object& doc) {
  std::set<std::string> k;
  for (const auto& f : doc.at("findings").as_array())
    k.insert(std::string(f.as_object().at("kind").as_string()));
  return k;
}

const json::object* FindGroup(const json::object& doc, const char* array, const char* key,
                              const std::string& name) {
  for (const auto& g : doc.at(array).as_array())
    if (g.as_object().at(key).as_string() == name) return &g.as_object();
  return nullptr;
}

TEST(CliReportTest, JsonTotalsInputsAndUnpriced) {
  Result r = Tokmeter(
      {"report", "--format", "json", Data("usage.jsonl"), Data("bad.jsonl"), Data("empty.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json::object& d = r.doc();
  EXPECT_EQ(d.at("title").as_string(), "Token Usage Report: 2026-11-23");
  const json::object& t = d.at("totals").as_object();
  // usage.jsonl: 400+375+150,000 input, 600+627+1,000 output,
  //   80,000+72,000 cache read, 20,000+23,000 cache write;
  // bad.jsonl (token-usage, Anthropic): 3+5 input, 418+100 output,
  //   14,044+14,044 cache read, 26,042 cache write; 2 bad lines.
  EXPECT_EQ(t.at("input_tokens").as_int64(), 150783);
  EXPECT_EQ(t.at("output_tokens").as_int64(), 2745);
  EXPECT_EQ(t.at("cache_read_tokens").as_int64(), 180088);
  EXPECT_EQ(t.at("cache_write_tokens").as_int64(), 69042);
  EXPECT_EQ(t.at("total_tokens").as_int64(), 402658);
  EXPECT_EQ(t.at("requests").as_int64(), 5);
  // cache hit rate = 180,088 / (180,088 + 150,783) = 0.544285
  EXPECT_NEAR(t.at("cache_hit_rate").to_number<double>(), 0.544285, 1e-6);
  // prompt cache share = 180,088 / 399,913 = 0.450318
  EXPECT_NEAR(t.at("prompt_cache_share").to_number<double>(), 0.450318, 1e-6);
  // input/output = 399,913 / 2,745 = 145.688
  EXPECT_NEAR(t.at("input_output_ratio").to_number<double>(), 145.688, 1e-3);
  EXPECT_TRUE(t.at("cost_usd").is_number());  // partly priced
  EXPECT_EQ(t.at("unpriced_tokens").as_int64(), 151000);
  ASSERT_EQ(d.at("unpriced_models").as_array().size(), 1u);
  EXPECT_EQ(d.at("unpriced_models").as_array()[0].as_string(), "mystery-model-9");

  const json::array& inputs = d.at("inputs").as_array();
  ASSERT_EQ(inputs.size(), 3u);
  const json::object& bad = inputs[1].as_object();
  EXPECT_EQ(bad.at("format").as_string(), "token-usage");
  EXPECT_EQ(bad.at("records").as_int64(), 2);
  EXPECT_EQ(bad.at("skipped_lines").as_int64(), 2);
  EXPECT_EQ(inputs[0].as_object().at("records").as_int64(), 3);
  EXPECT_EQ(inputs[0].as_object().at("skipped_lines").as_int64(), 0);
  EXPECT_TRUE(inputs[2].as_object().at("empty").as_bool());
  EXPECT_EQ(d.at("empty_inputs").as_array().size(), 1u);

  // the smoke-claude run: 775 input, 1,227 output, 152K cache read,
  // 43K cache write → 197,002 tokens, cache hit rate 99.5 %, about $0.23.
  EXPECT_EQ(d.at("group_by").as_string(), "workflow");
  const json::object* smoke = FindGroup(d, "groups", "name", "smoke-claude");
  ASSERT_NE(smoke, nullptr);
  EXPECT_EQ(smoke->at("total_tokens").as_int64(), 197002);
  EXPECT_NEAR(smoke->at("cache_hit_rate").to_number<double>(), 0.995, 0.0005);
  EXPECT_NEAR(smoke->at("cost_usd").to_number<double>(), 0.23, 0.01);
  EXPECT_EQ(smoke->at("runs").as_int64(), 1);
  EXPECT_EQ(smoke->at("requests_per_run").to_number<double>(), 2);
  EXPECT_EQ(smoke->at("mean_request_ms").to_number<double>(), 4000);  // (5,000 + 3,000) / 2
  const json::object* digger = FindGroup(d, "groups", "name", "secret-digger");
  ASSERT_NE(digger, nullptr);
  EXPECT_TRUE(digger->at("cost_usd").is_null());  // unpriced, never $0

  bool no_cache = false;
  for (const auto& f : d.at("findings").as_array()) {
    const json::object& o = f.as_object();
    EXPECT_TRUE(o.contains("kind") && o.contains("severity") && o.contains("subject") &&
                o.contains("evidence") && o.contains("recommendation"));
    if (o.at("kind") == "no_cache" && o.at("subject") == "workflow secret-digger") no_cache = true;
  }
  EXPECT_TRUE(no_cache);
}

TEST(CliReportTest, MarkdownIsSeedOnesDailyReport) {
  Result r =
      Tokmeter({"report", "--format", "md", "--previous-url", "https://example.com/issues/41",
                Data("usage.jsonl"), Data("bad.jsonl"), Data("empty.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# Token Usage Report: 2026-11-23"));
  EXPECT_THAT(r.out, HasSubstr("| smoke-claude | 197,002 | $0.23 | 99.5% | 1 | 2.0 | 4.0 s |"));
  EXPECT_THAT(r.out, HasSubstr("<details><summary>workflow smoke-claude"));
  EXPECT_THAT(r.out, HasSubstr("## Top optimization opportunities"));
  EXPECT_THAT(r.out, HasSubstr("zero cache hits -> enable prompt caching"));
  EXPECT_THAT(r.out, HasSubstr("2 malformed line(s) skipped (first: 2, 4)"));
  EXPECT_THAT(r.out, HasSubstr("empty.jsonl: empty"));
  EXPECT_THAT(r.out, HasSubstr("unpriced models (no cost counted, not $0): mystery-model-9"));
  EXPECT_THAT(r.out, HasSubstr("[https://example.com/issues/41]"));
}

TEST(CliReportTest, TrendFromPreviousReport) {
  Result first = Tokmeter({"report", "--format", "json", Data("usage.jsonl")});
  ASSERT_EQ(first.rc, 0);
  const std::string prev = TempPath("prev.json");
  std::ofstream(prev) << first.out;
  Result r = Tokmeter({"report", "--format", "json", "--previous", prev, Data("usage.jsonl")});
  std::remove(prev.c_str());
  ASSERT_EQ(r.rc, 0) << r.err;
  const json::object& tr = r.doc().at("trend").as_object();
  EXPECT_EQ(tr.at("source").as_string(), "previous-report");
  EXPECT_EQ(tr.at("total_tokens").as_int64(), 348002);  // 197,002 + 151,000
  EXPECT_EQ(tr.at("previous_total_tokens").as_int64(), 348002);
  EXPECT_EQ(tr.at("total_tokens_change").to_number<double>(), 0);
  for (const auto& f : r.doc().at("findings").as_array()) {
    EXPECT_NE(f.as_object().at("kind").as_string(), "increasing");  // nothing grew
  }
}

// The previous report's per-workflow totals feed the `increasing` rule:
// smoke-claude 197,002 now vs 50,000 before is +294 %; secret-digger is
// unchanged (151,000) and not flagged.
TEST(CliReportTest, IncreasingAgainstThePreviousReport) {
  const std::string prev = TempPath("prev_small.json");
  std::ofstream(prev) << R"({"schema":"tokmeter-report/1","totals":{"total_tokens":201000},)"
                      << R"("groups":[{"name":"smoke-claude","total_tokens":50000},)"
                      << R"({"name":"secret-digger","total_tokens":151000}]})";
  Result r = Tokmeter({"report", "--format", "json", "--previous", prev, Data("usage.jsonl")});
  std::remove(prev.c_str());
  ASSERT_EQ(r.rc, 0) << r.err;
  int increasing = 0;
  for (const auto& fv : r.doc().at("findings").as_array()) {
    const json::object& f = fv.as_object();
    if (f.at("kind").as_string() != "increasing") continue;
    ++increasing;
    EXPECT_THAT(std::string(f.at("subject").as_string()), HasSubstr("smoke-claude"));
    const json::object& ev = f.at("evidence").as_object();
    EXPECT_EQ(ev.at("previous_tokens").to_number<double>(), 50000);
    EXPECT_NEAR(ev.at("growth").to_number<double>(), (197002.0 - 50000) / 50000, 1e-9);
  }
  EXPECT_EQ(increasing, 1);
}

TEST(CliReportTest, HtmlIsOneSelfContainedPage) {
  Result r = Tokmeter({"report", "--format", "html", Data("usage.jsonl"), Data("bad.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(r.out, HasSubstr("Tokens per 5 minutes"));
  // Scripts are inline (ECharts and the charts' data): nothing is fetched.
  EXPECT_EQ(r.out.find("<script src"), std::string::npos);
  EXPECT_EQ(r.out.find("<link"), std::string::npos);
}

TEST(CliErrorsTest, EmptyInputIsANoDataReport) {
  Result r = Tokmeter({"report", "--format", "json", Data("empty.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json::object& d = r.doc();
  EXPECT_TRUE(d.at("no_data").as_bool());
  ASSERT_EQ(d.at("empty_inputs").as_array().size(), 1u);
  EXPECT_THAT(std::string(d.at("empty_inputs").as_array()[0].as_string()),
              HasSubstr("empty.jsonl"));
  EXPECT_EQ(d.at("totals").as_object().at("total_tokens").as_int64(), 0);
  Result md = Tokmeter({"report", "--format", "md", Data("empty.jsonl")});
  EXPECT_EQ(md.rc, 0);
  EXPECT_THAT(md.out, HasSubstr("No usage data found"));
  EXPECT_THAT(md.out, HasSubstr("empty.jsonl"));
  for (const char* cmd : {"detect", "top", "spikes", "daily", "monthly", "session"}) {
    Result x = Tokmeter({cmd, "--format", "table", Data("empty.jsonl")});
    EXPECT_EQ(x.rc, 0) << cmd << ": " << x.err;
  }
}

TEST(CliErrorsTest, UnreadablePathAndBadFlagsExitTwo) {
  Result missing = Tokmeter({"report", "--format", "json", "/nonexistent/tokmeter/x.jsonl"});
  EXPECT_EQ(missing.rc, 2);
  EXPECT_THAT(missing.err, HasSubstr("/nonexistent/tokmeter/x.jsonl"));
  EXPECT_TRUE(missing.out.empty());
  EXPECT_EQ(Tokmeter({"report", "--no-such-flag", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"report", "--format", "yaml", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"top", "--by", "planet", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"top", "--window", "soon", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"quota", Data("usage.jsonl")}).rc, 2);  // --limit required
  EXPECT_EQ(Tokmeter({"quota", "--limit", "lots", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"daily", "--since", "yesterday", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"daily", "--tz", "Mars/Olympus", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"quota", "--limit", "1M", "--format", "csv", Data("usage.jsonl")}).rc, 2);
  EXPECT_EQ(Tokmeter({"frobnicate"}).rc, 2);
  EXPECT_EQ(Tokmeter({}).rc, 2);
  // Times and windows past what nanoseconds since 1970 can hold.
  Result far = Tokmeter({"daily", "--since", "0001-01-01", Data("usage.jsonl")});
  EXPECT_EQ(far.rc, 2);
  EXPECT_THAT(far.err, HasSubstr("outside years 1900-2200"));
  EXPECT_EQ(
      Tokmeter({"quota", "--limit", "1M", "--as-of", "9999-01-01T00:00:00Z", Data("usage.jsonl")})
          .rc,
      2);
  EXPECT_EQ(Tokmeter({"top", "--window", "9000000000h", Data("usage.jsonl")}).rc, 2);
  // The widest period allowed: its previous period starts before int64
  // nanoseconds can say (saturated, not overflowed: UBSan runs this).
  Result wide = Tokmeter({"report", "--format", "json", "--since", "1900-01-01", "--until",
                          "2200-12-30", Data("usage.jsonl")});
  EXPECT_EQ(wide.rc, 0) << wide.err;
  // usage.jsonl alone: 402,658 (with bad.jsonl, the quota test) less bad.jsonl's two good
  // lines, 3 + 418 + 14,044 + 26,042 and 5 + 100 + 14,044 = 54,656.
  EXPECT_EQ(wide.doc().at("totals").as_object().at("total_tokens").as_int64(), 348002);
  Result wide_top = Tokmeter({"top", "--format", "json", "--window", "876000h", "--since",
                              "1900-01-01", Data("usage.jsonl")});
  EXPECT_EQ(wide_top.rc, 0) << wide_top.err;
  Result help = Tokmeter({"--help"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: tokmeter"));
  Result cmd_help = Tokmeter({"quota", "--help"});
  EXPECT_EQ(cmd_help.rc, 0);
  EXPECT_THAT(cmd_help.out, HasSubstr("--limit"));
}

TEST(CliQuotaTest, ConsumedShareAndLevel) {
  Result r = Tokmeter({"quota", "--format", "json", "--limit", "300M", "--as-of",
                       "2026-11-24T00:00:00Z", Data("usage.jsonl"), Data("bad.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json::object& q = r.doc().at("quota").as_object();
  EXPECT_EQ(q.at("limit").as_int64(), 300000000);
  EXPECT_EQ(q.at("consumed").as_int64(), 402658);
  // 23 days of November elapsed, 7 left: forecast 402,658 × 30 / 23 = 525,206.
  EXPECT_EQ(q.at("forecast").as_int64(), 525206);
  EXPECT_EQ(q.at("level").as_string(), "minimal");
  EXPECT_TRUE(q.at("alerts").as_array().empty());
  EXPECT_EQ(q.at("period_start").as_string(), "2026-11-01T00:00:00+00:00");
}

TEST(CliViewsTest, TopDailyMonthlySessionSpikes) {
  Result top = Tokmeter(
      {"top", "--format", "json", "--by", "workflow", "--window", "all", Data("usage.jsonl")});
  ASSERT_EQ(top.rc, 0) << top.err;
  const json::array& rows = top.doc().at("rows").as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].as_object().at("key").as_string(), "smoke-claude");
  EXPECT_EQ(rows[0].as_object().at("total_tokens").as_int64(), 197002);
  EXPECT_EQ(rows[0].as_object().at("rate_limited").as_int64(), 0);

  // --window 1h ends just after the last event (10:00:05), so it starts at
  // 09:00:05 + 1 ns: the 09:00:05 request is out, the 09:01:05 one (375 +
  // 627 + 72,000 + 23,000 = 96,002 tokens) is in.
  Result top1h = Tokmeter(
      {"top", "--format", "json", "--by", "workflow", "--window", "1h", Data("usage.jsonl")});
  ASSERT_EQ(top1h.rc, 0);
  const json::array& rows1h = top1h.doc().at("rows").as_array();
  ASSERT_EQ(rows1h.size(), 2u);
  EXPECT_EQ(rows1h[0].as_object().at("key").as_string(), "secret-digger");
  EXPECT_EQ(rows1h[1].as_object().at("total_tokens").as_int64(), 96002);

  Result daily = Tokmeter(
      {"daily", "--format", "json", "--tz", "Asia/Tokyo", Data("usage.jsonl"), Data("bad.jsonl")});
  ASSERT_EQ(daily.rc, 0) << daily.err;
  const json::array& days = daily.doc().at("rows").as_array();
  ASSERT_EQ(days.size(), 1u);  // 09:00–11:01 UTC = 18:00–20:01 in Tokyo
  EXPECT_EQ(days[0].as_object().at("date").as_string(), "2026-11-23");
  EXPECT_EQ(days[0].as_object().at("total_tokens").as_int64(), 402658);
  EXPECT_EQ(days[0].as_object().at("models").as_array().size(), 2u);

  Result monthly = Tokmeter({"monthly", "--format", "json", Data("usage.jsonl")});
  ASSERT_EQ(monthly.rc, 0);
  EXPECT_EQ(monthly.doc().at("rows").as_array()[0].as_object().at("month").as_string(), "2026-11");

  Result sessions = Tokmeter({"session", "--format", "table", Data("usage.jsonl")});
  ASSERT_EQ(sessions.rc, 0);
  EXPECT_THAT(sessions.out, HasSubstr("claude-sonnet-4-5"));

  Result since = Tokmeter(
      {"daily", "--format", "json", "--since", "2026-11-23T10:00:00Z", Data("usage.jsonl")});
  ASSERT_EQ(since.rc, 0);
  EXPECT_EQ(since.doc().at("totals").as_object().at("total_tokens").as_int64(), 151000);

  Result spikes = Tokmeter({"spikes", "--format", "json", "--window", "5m", Data("usage.jsonl")});
  ASSERT_EQ(spikes.rc, 0) << spikes.err;
  EXPECT_EQ(spikes.doc().at("distribution").as_object().at("windows").as_int64(), 2);
}

// 100,000 spans of 10 tokens (7 in, 3 out), one every 4 s from
// 2026-11-20T00:00:00Z to 2026-11-24T15:06:36Z: long enough that the views
// which stream (daily, spikes) and those that hold only their period
// (report, top --window) drop records while reading. Expected figures by
// arithmetic: a full UTC day holds 86,400 / 4 = 21,600 spans; Nov 24 holds
// 00:00:00 … 15:06:36 = 54,396 / 4 + 1 = 13,600.
TEST(CliViewsTest, LongHistoryIsExactInEveryView) {
  const std::string path = TempPath("long.jsonl");
  {
    std::ofstream f(path);
    const absl::Time t0 = absl::FromUnixSeconds(1795132800);  // 2026-11-20T00:00:00Z
    for (int i = 0; i < 100'000; ++i) {
      f << R"({"type":"span","timestamp":")"
        << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t0 + absl::Seconds(4 * i), absl::UTCTimeZone())
        << R"(","trace_id":"0123456789abcdef0123456789abcdef","span_id":")"
        << absl::StrFormat("%016x", i + 1)
        << R"(","kind":"llm","name":"m","model":"claude-sonnet-4-5","input_tokens":7,)"
        << R"("output_tokens":3,"tags":{"session":"s1"}})" << '\n';
    }
  }
  Result daily = Tokmeter({"daily", "--format", "json", path});
  ASSERT_EQ(daily.rc, 0) << daily.err;
  const json::array& days = daily.doc().at("rows").as_array();
  ASSERT_EQ(days.size(), 5u);
  EXPECT_EQ(days[0].as_object().at("date").as_string(), "2026-11-20");
  EXPECT_EQ(days[0].as_object().at("total_tokens").as_int64(), 216000);
  EXPECT_EQ(days[4].as_object().at("date").as_string(), "2026-11-24");
  EXPECT_EQ(days[4].as_object().at("total_tokens").as_int64(), 136000);
  EXPECT_EQ(daily.doc().at("totals").as_object().at("total_tokens").as_int64(), 1000000);

  // Report: the day of the last event and, for the trend, the day before.
  Result report = Tokmeter({"report", "--format", "json", path});
  ASSERT_EQ(report.rc, 0) << report.err;
  EXPECT_EQ(report.doc().at("date").as_string(), "2026-11-24");
  EXPECT_EQ(report.doc().at("totals").as_object().at("total_tokens").as_int64(), 136000);
  EXPECT_EQ(report.doc().at("trend").as_object().at("previous_total_tokens").as_int64(), 216000);

  // Top over the last hour: [15:06:36 + 1 ns − 1 h, 15:06:36 + 1 ns) holds
  // the spans at 14:06:40 … 15:06:36, 3,600 / 4 = 900 of them.
  Result top = Tokmeter({"top", "--format", "json", "--window", "1h", path});
  ASSERT_EQ(top.rc, 0) << top.err;
  EXPECT_EQ(top.doc().at("rows").as_array()[0].as_object().at("total_tokens").as_int64(), 9000);

  // Quota for the week of Monday Nov 23 as of Nov 25: 21,600 + 13,600 spans.
  Result quota = Tokmeter({"quota", "--format", "json", "--limit", "1M", "--period", "week",
                           "--as-of", "2026-11-25T00:00:00Z", path});
  ASSERT_EQ(quota.rc, 0) << quota.err;
  EXPECT_EQ(quota.doc().at("quota").as_object().at("consumed").as_int64(), 352000);

  // 5-minute windows: starts 0, 300, …, 399,900 s after t0 = 1,334 windows.
  Result spikes = Tokmeter({"spikes", "--format", "json", path});
  ASSERT_EQ(spikes.rc, 0) << spikes.err;
  EXPECT_EQ(spikes.doc().at("distribution").as_object().at("windows").as_int64(), 1334);
  EXPECT_EQ(spikes.doc().at("totals").as_object().at("total_tokens").as_int64(), 1000000);
  std::remove(path.c_str());
}

TEST(CliConvertTest, ArgumentsAndRoundTrip) {
  EXPECT_EQ(Tokmeter({"convert", Data("usage.jsonl")}).rc, 2);  // needs IN OUT
#ifdef TOKMETER_CLI_HAVE_PROTO
  const std::string pb = TempPath("usage.pb");
  Result c = Tokmeter({"convert", Data("usage.jsonl"), pb});
  ASSERT_EQ(c.rc, 0) << c.err;
  Result r = Tokmeter({"daily", "--format", "json", pb});
  std::remove(pb.c_str());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc().at("totals").as_object().at("total_tokens").as_int64(), 348002);
#else
  Result c = Tokmeter({"convert", Data("usage.jsonl"), TempPath("x.pb")});
  EXPECT_EQ(c.rc, 2);
  EXPECT_THAT(c.err, HasSubstr("protobuf support was not built"));
#endif
}

#ifdef TOKMETER_AGENT_SIM
// The rules agent_sim's full day sets off and its clean day must not.
constexpr const char* kSimDayRules[] = {"retry_storm", "loop", "background", "context_bloat"};

// End to end: agent_sim's full day has a retry storm, a hidden loop and a
// night heartbeat job; its clean day has none of them.
class AgentSimTest : public ::testing::Test {
 protected:
  // Runs agent_sim; `summary` gets what it printed (its own totals).
  static std::string Simulate(const std::string& scenario, std::string* summary = nullptr,
                              const std::string& extra = "") {
    std::string path = TempPath("agent_sim_" + scenario + (extra.empty() ? "" : "_x") + ".jsonl");
    std::string cmd = std::string(TOKMETER_AGENT_SIM) + " --seed 7 --scenario " + scenario +
                      " --out " + path + extra + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    EXPECT_NE(p, nullptr) << cmd;
    std::string text;
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    EXPECT_EQ(p ? pclose(p) : -1, 0) << cmd << "\n" << text;
    if (summary) *summary = text;
    return path;
  }
  // The number before `label` in agent_sim's summary ("353 LLM calls"); -1 if absent.
  static int64_t Figure(const std::string& summary, const std::string& label) {
    size_t at = summary.find(" " + label);
    if (at == std::string::npos) return -1;
    size_t start = summary.rfind(' ', at - 1);
    start = start == std::string::npos ? 0 : start + 1;
    return std::stoll(summary.substr(start, at - start));
  }
};

TEST_F(AgentSimTest, FullDayHasRetryStormLoopAndBackground) {
  std::string summary;
  std::string path = Simulate("full", &summary);
  // Exact totals: what agent_sim says it recorded is what tokmeter counts
  // (turn_summary roll-ups are not counted twice).
  Result daily = Tokmeter({"daily", "--format", "json", path});
  ASSERT_EQ(daily.rc, 0) << daily.err;
  const json::object& t = daily.doc().at("totals").as_object();
  EXPECT_EQ(t.at("total_tokens").as_int64(), Figure(summary, "tokens;")) << summary;
  EXPECT_EQ(t.at("requests").as_int64(), Figure(summary, "LLM calls")) << summary;
  EXPECT_EQ(t.at("tool_calls").as_int64(), Figure(summary, "tool calls")) << summary;
  EXPECT_EQ(t.at("rate_limited").as_int64(), Figure(summary, "HTTP 429s")) << summary;
  Result r = Tokmeter({"detect", "--format", "json", path});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::set<std::string> kinds = Kinds(r.doc());
  for (const char* kind : kSimDayRules) EXPECT_TRUE(kinds.count(kind)) << kind << "\n" << r.out;
  for (const auto& f : r.doc().at("findings").as_array()) {
    const json::object& o = f.as_object();
    if (o.at("kind") == "loop")
      EXPECT_THAT(std::string(o.at("subject").as_string()), HasSubstr("run_tests"));
    if (o.at("kind") == "background")
      EXPECT_THAT(std::string(o.at("subject").as_string()), HasSubstr("heartbeat-audit"));
  }
  Result report = Tokmeter({"report", "--format", "md", path});
  EXPECT_EQ(report.rc, 0);
  EXPECT_THAT(report.out, HasSubstr("retry_storm"));
  std::remove(path.c_str());
}

// The run_tests calls (only s-flaky-fix runs them) and the alert lines of a log.
struct SimLog {
  int run_tests = 0;
  std::vector<json::object> alerts;
};
SimLog ReadSimLog(const std::string& path) {
  SimLog log;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json::value v = json::parse(line);
    const json::object& o = v.as_object();
    if (o.at("type") == "alert") log.alerts.push_back(o);
    if (o.at("type") == "span" && o.at("kind") == "tool" && o.at("name") == "run_tests")
      ++log.run_tests;
  }
  return log;
}

TEST_F(AgentSimTest, MonitorAlertsAndGuardStopsTheLoop) {
  std::string plain_summary;
  std::string plain = Simulate("full", &plain_summary);
  const SimLog without = ReadSimLog(plain);
  EXPECT_TRUE(without.alerts.empty());
  // s-flaky-fix runs the same run_tests three times a turn, for >= 5 turns.
  EXPECT_GE(without.run_tests, 15);
  EXPECT_EQ(without.run_tests % 3, 0);

  std::string summary;
  std::string path = Simulate("full", &summary,
                              " --monitor --heartbeat_budget job:heartbeat-audit=2M/day"
                              " --session_budget session=5M,hard");
  const SimLog with = ReadSimLog(path);
  // The loop rule trips on the 5th identical call (turn 2's second run_tests);
  // the guard denies the next call and the session stops there.
  EXPECT_EQ(with.run_tests, 5) << summary;
  EXPECT_LT(with.run_tests, without.run_tests);
  EXPECT_THAT(summary, HasSubstr("agent_sim: guard denied s-flaky-fix at "));
  EXPECT_THAT(summary, HasSubstr("loop: the same call repeated"));
  // The hard session budget stops the never-compacting session.
  EXPECT_THAT(summary, HasSubstr("agent_sim: guard denied s-long-refactor at "));
  EXPECT_THAT(summary, HasSubstr("hard budget session=5M,hard"));
  // The night heartbeat (~4M tokens) crosses each threshold of its 2M/day
  // budget once; a retry storm and the loop alert too.
  std::vector<double> heartbeat;
  int storms = 0, loops = 0;
  for (const json::object& a : with.alerts) {
    if (a.at("rule") == "budget" && a.at("budget") == "job:heartbeat-audit=2M/day")
      heartbeat.push_back(a.at("threshold").to_number<double>());
    if (a.at("rule") == "retry_storm") {
      ++storms;
      EXPECT_THAT(std::string(a.at("subject").as_string()), HasSubstr("s-research-herd"));
    }
    if (a.at("rule") == "loop") {
      ++loops;
      EXPECT_THAT(std::string(a.at("subject").as_string()), HasSubstr("s-flaky-fix"));
    }
  }
  EXPECT_THAT(heartbeat, ::testing::ElementsAre(0.5, 0.8, 1.0)) << summary;
  EXPECT_EQ(storms, 1) << summary;
  EXPECT_EQ(loops, 1) << summary;
  // on_alert printed each alert of the log.
  size_t printed = 0;
  for (size_t at = summary.find("agent_sim: alert "); at != std::string::npos;
       at = summary.find("agent_sim: alert ", at + 1))
    ++printed;
  EXPECT_EQ(printed, with.alerts.size()) << summary;
  EXPECT_THAT(summary, HasSubstr(absl::StrFormat("monitor: %d alerts", with.alerts.size())));
  std::remove(plain.c_str());
  std::remove(path.c_str());
}

TEST_F(AgentSimTest, CleanDayHasNone) {
  std::string path = Simulate("clean");
  Result r = Tokmeter({"detect", "--format", "json", path});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::set<std::string> kinds = Kinds(r.doc());
  for (const char* kind : kSimDayRules) EXPECT_FALSE(kinds.count(kind)) << kind << "\n" << r.out;
  std::remove(path.c_str());
}
#endif

}  // namespace
}  // namespace tokmeter::cli
