// `tokmeter compare`: before/after of two inputs or two periods, per
// workflow (agent, model), and the findings that appeared or disappeared.
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;

std::string Span(const std::string& day, int i, const std::string& workflow, const std::string& run,
                 int input, int output, int cache_read) {
  return absl::StrFormat(
      R"({"type":"span","timestamp":"%sT10:%02d:00Z","trace_id":"%032x","span_id":"%016x","kind":"llm","name":"messages","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":%d,"output_tokens":%d,"cache_read_tokens":%d,"tags":{"workflow":"%s","run":"%s"}})"
      "\n",
      day, i, i + 1, i + 1, input, output, cache_read, workflow, run);
}

// Before: build = 2 runs × 2 requests of 10,000 in + 100 out (no cache) =
// 40,400 tokens, $0.126 (4 × (10,000 × 3 + 100 × 15) / 1M); lint = 5,050.
std::string Before(const std::string& day) {
  return Span(day, 0, "build", "r1", 10000, 100, 0) + Span(day, 1, "build", "r1", 10000, 100, 0) +
         Span(day, 2, "build", "r2", 10000, 100, 0) + Span(day, 3, "build", "r2", 10000, 100, 0) +
         Span(day, 4, "lint", "r3", 5000, 50, 0);
}
// After: build = 2 runs × 1 request of 1,000 in + 1,000 out + 9,000 cache
// read = 22,000 tokens, $0.0414 (2 × (3,000 + 15,000 + 2,700) / 1M), cache
// hit rate 18,000 / 20,000 = 0.9; docs = 3,300 (new); lint gone.
std::string After(const std::string& day) {
  return Span(day, 10, "build", "r4", 1000, 1000, 9000) +
         Span(day, 11, "build", "r5", 1000, 1000, 9000) + Span(day, 12, "docs", "r6", 3000, 300, 0);
}

const boost::json::object* Row(const Result& r, const char* dim, const char* key) {
  for (const auto& v : r.doc().at("by").as_object().at(dim).as_array())
    if (v.as_object().at("key").as_string() == key) return &v.as_object();
  return nullptr;
}

void ExpectBuildChanges(const Result& r) {
  const auto& change = r.doc().at("change").as_object();
  // (25,300 − 45,450) / 45,450 = −0.443344
  EXPECT_NEAR(change.at("total_tokens_change").to_number<double>(), -0.443344, 1e-6);
  const auto* build = Row(r, "workflow", "build");
  ASSERT_NE(build, nullptr);
  EXPECT_EQ(build->at("status").as_string(), "both");
  EXPECT_EQ(build->at("a").as_object().at("total_tokens").as_int64(), 40400);
  EXPECT_EQ(build->at("b").as_object().at("total_tokens").as_int64(), 22000);
  // (22,000 − 40,400) / 40,400 = −0.455446
  EXPECT_NEAR(build->at("total_tokens_change").to_number<double>(), -0.455446, 1e-6);
  // ($0.0414 − $0.126) / $0.126 = −0.671429
  EXPECT_NEAR(build->at("cost_usd_change").to_number<double>(), -0.671429, 1e-6);
  EXPECT_NEAR(build->at("cache_hit_rate_change").to_number<double>(), 0.9, 1e-9);
  // 2 requests per run before, 1 after: −50 %.
  EXPECT_NEAR(build->at("requests_per_run_change").to_number<double>(), -0.5, 1e-9);
  EXPECT_EQ(Row(r, "workflow", "lint")->at("status").as_string(), "gone");
  EXPECT_EQ(Row(r, "workflow", "docs")->at("status").as_string(), "new");
  // Before, build's 40,000 prompt tokens had no cache hit (no_cache); after,
  // 90 % hit: the finding disappeared, none appeared.
  const auto& f = r.doc().at("findings").as_object();
  ASSERT_EQ(f.at("disappeared").as_array().size(), 1u);
  EXPECT_EQ(f.at("disappeared").as_array()[0].as_object().at("kind").as_string(), "no_cache");
  EXPECT_EQ(f.at("disappeared").as_array()[0].as_object().at("subject").as_string(),
            "workflow build");
  EXPECT_TRUE(f.at("appeared").as_array().empty());
}

TEST(CliCompareTest, TwoInputs) {
  TempDir dir("compare_inputs");
  const std::string a = dir.Write("before.jsonl", Before("2026-11-02"));
  const std::string b = dir.Write("after.jsonl", After("2026-11-09"));
  Result r = Tokmeter({"compare", "--format", "json", a, b});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc().at("mode").as_string(), "inputs");
  ExpectBuildChanges(r);
  Result md = Tokmeter({"compare", "--format", "md", a, b});
  ASSERT_EQ(md.rc, 0) << md.err;
  EXPECT_THAT(md.out, HasSubstr("| build | 40,400 | 22,000 | -45.5% |"));
  EXPECT_THAT(md.out, HasSubstr("Findings that disappeared (1)"));
}

TEST(CliCompareTest, TwoPeriods) {
  TempDir dir("compare_periods");
  const std::string f = dir.Write("all.jsonl", Before("2026-11-02") + After("2026-11-09"));
  Result r = Tokmeter({"compare", "--format", "json", "--since", "2026-11-01", "--until",
                       "2026-11-07", "--since", "2026-11-08", "--until", "2026-11-14", f});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.doc().at("mode").as_string(), "periods");
  EXPECT_EQ(r.doc().at("a").as_object().at("label").as_string(), "2026-11-01 – 2026-11-07");
  ExpectBuildChanges(r);
  Result csv = Tokmeter({"compare", "--format", "csv", "--since", "2026-11-01", "--until",
                         "2026-11-07", "--since", "2026-11-08", "--until", "2026-11-14", f});
  ASSERT_EQ(csv.rc, 0) << csv.err;
  EXPECT_THAT(csv.out, HasSubstr("workflow,build,both,40400,22000,-0.455446,"));
}

TEST(CliCompareTest, NeedsTwoSides) {
  Result r = Tokmeter({"compare", Data("usage.jsonl")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("two periods"));
}

}  // namespace
}  // namespace tokmeter::cli::testing
