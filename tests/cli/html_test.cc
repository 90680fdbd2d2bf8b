// The HTML report carries what the Markdown carries, with ECharts charts on
// real time axes; multi-day views are aggregated (the browser test,
// html_browser_test.cc, checks the page as drawn).
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// The JSON of chart `i` (its <script type="application/json">).
boost::json::object ChartSpec(const std::string& html, int i) {
  const std::string open = absl::StrFormat("id=\"chart-%d-data\">", i);
  const size_t at = html.find(open);
  if (at == std::string::npos) return {};
  const size_t from = at + open.size();
  return boost::json::parse(html.substr(from, html.find("</script>", from) - from)).as_object();
}

TEST(CliHtmlTest, CarriesEverythingTheMarkdownHas) {
  // --top 1: the Markdown lists one opportunity; the page must still hold
  // every finding, the token split, the model mix and the details per group.
  Result json = Tokmeter({"report", "--format", "json", "--top", "1", Data("usage.jsonl"),
                          Data("bad.jsonl"), Data("empty.jsonl")});
  Result html = Tokmeter({"report", "--format", "html", "--top", "1", Data("usage.jsonl"),
                          Data("bad.jsonl"), Data("empty.jsonl")});
  ASSERT_EQ(html.rc, 0) << html.err;
  const auto& findings = json.doc().at("findings").as_array();
  ASSERT_GT(findings.size(), 1u);
  for (const auto& f : findings)
    EXPECT_THAT(html.out, HasSubstr(std::string(f.as_object().at("subject").as_string())));
  // Every finding in the "All findings" list, plus the top one and those
  // repeated in the details per group.
  EXPECT_GE(Count(html.out, "<li data-kind="), findings.size() + 1);
  for (const char* s : {"Cache read", "Cache write", "Model mix",
                        "<details><summary>workflow "
                        "smoke-claude",
                        "Trend vs previous period", "malformed line(s) skipped", "mystery-model-9",
                        "claude-sonnet-4-5 100%"})
    EXPECT_THAT(html.out, HasSubstr(s));
  EXPECT_THAT(html.out, HasSubstr("<meta name=\"viewport\""));
  EXPECT_THAT(html.out, Not(HasSubstr("<svg")));        // no hand-drawn charts
  EXPECT_THAT(html.out, HasSubstr("echarts.init("));    // the library draws them
  EXPECT_THAT(html.out, Not(HasSubstr("src=\"http")));  // nothing loaded from the network
}

// A week of one request every 10 minutes (1,008 of 1,000 tokens): the
// timeline is per hour (7 × 24 = 168 points on a time axis), not 1,008
// five-minute bars, and its points add up to the total.
TEST(CliHtmlTest, WeekIsChartedPerHourOnATimeAxis) {
  TempDir dir("html_week");
  std::string text;
  for (int i = 0; i < 7 * 24 * 6; ++i) {
    const int day = 17 + i / 144, minute = (i % 144) * 10;
    text += absl::StrFormat(
        R"({"type":"span","timestamp":"2026-11-%02dT%02d:%02d:00Z","trace_id":"%032x","span_id":"%016x","kind":"llm","name":"m","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":900,"output_tokens":100,"tags":{"workflow":"w"}})"
        "\n",
        day, minute / 60, minute % 60, i + 1, i + 1);
  }
  const std::string path = dir.Write("week.jsonl", text);
  Result html = Tokmeter(
      {"report", "--format", "html", "--since", "2026-11-17", "--until", "2026-11-23", path});
  ASSERT_EQ(html.rc, 0) << html.err;
  boost::json::object spec = ChartSpec(html.out, 0);
  ASSERT_FALSE(spec.empty());
  EXPECT_EQ(spec.at("title").as_string(), "Tokens per hour");
  EXPECT_TRUE(spec.at("time").as_bool());
  const auto& data = spec.at("series").as_array()[0].as_object().at("data").as_array();
  EXPECT_EQ(data.size(), 168u);
  double sum = 0;
  for (const auto& p : data) sum += p.as_array()[1].to_number<double>();
  EXPECT_EQ(sum, 1008.0 * 1000);
  // x values are Unix milliseconds: the first hour is 2026-11-17T00:00Z.
  EXPECT_EQ(data[0].as_array()[0].to_number<double>(), 1795392000000.0 - 6 * 86400000.0);
}

}  // namespace
}  // namespace tokmeter::cli::testing
