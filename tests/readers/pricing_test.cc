// Pricing: the shipped table, model-name variants (dated, Bedrock, Vertex, ...),
// long context (pitfall 11), unknown models, user tables.
#include "src/pricing/pricing.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/readers/test_util.h"

namespace tokmeter::analysis {
namespace {

std::string IdOf(std::string_view model) {
  const ModelPrice* p = PriceTable::Builtin().Find(model);
  return p ? p->id : "<none>";
}

TEST(PricingTest, BuiltinTableLoadsAndCoversTheFamilies) {
  const PriceTable& t = PriceTable::Builtin();
  EXPECT_GE(t.models().size(), 40u);
  for (const char* id : {"claude-opus-4-6",
                         "claude-opus-4-5",
                         "claude-opus-4-1",
                         "claude-opus-4",
                         "claude-sonnet-4-6",
                         "claude-sonnet-4-5",
                         "claude-sonnet-4",
                         "claude-3-7-sonnet",
                         "claude-3-5-sonnet",
                         "claude-haiku-4-5",
                         "claude-3-5-haiku",
                         "claude-3-haiku",
                         "claude-3-opus",
                         "gpt-4o",
                         "gpt-4o-mini",
                         "gpt-4.1",
                         "gpt-4.1-mini",
                         "gpt-4.1-nano",
                         "o1",
                         "o3",
                         "o4-mini",
                         "gpt-5",
                         "gpt-5-mini",
                         "gpt-5-nano",
                         "gpt-5-codex",
                         "gemini-2.5-pro",
                         "gemini-2.5-flash",
                         "gemini-2.5-flash-lite",
                         "gemini-2.0-flash",
                         "gemini-1.5-pro",
                         "gemini-1.5-flash"}) {
    EXPECT_EQ(IdOf(id), id);
  }
  // Anthropic relations: read 0.1x, 5m write 1.25x, 1h write 2x input.
  const ModelPrice* s = t.Find("claude-sonnet-4-5");
  ASSERT_NE(s, nullptr);
  EXPECT_DOUBLE_EQ(s->base.input, 3);
  EXPECT_DOUBLE_EQ(s->base.output, 15);
  EXPECT_DOUBLE_EQ(s->base.cache_read, 0.3);
  EXPECT_DOUBLE_EQ(s->base.cache_write_5m, 3.75);
  EXPECT_DOUBLE_EQ(s->base.cache_write_1h, 6);
  EXPECT_EQ(s->provider, "anthropic");
}

TEST(PricingTest, NameVariants) {
  // Dated ids, dotted versions.
  EXPECT_EQ(IdOf("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
  EXPECT_EQ(IdOf("claude-sonnet-4.6"), "claude-sonnet-4-6");
  EXPECT_EQ(IdOf("claude-haiku-4.5"), "claude-haiku-4-5");
  EXPECT_EQ(IdOf("claude-3-5-sonnet-20241022"), "claude-3-5-sonnet");
  EXPECT_EQ(IdOf("Claude-Opus-4-6"), "claude-opus-4-6");
  // Bedrock.
  EXPECT_EQ(IdOf("us.anthropic.claude-opus-4-6-v1"), "claude-opus-4-6");
  EXPECT_EQ(IdOf("anthropic.claude-3-5-sonnet-20241022-v2:0"), "claude-3-5-sonnet");
  EXPECT_EQ(IdOf("eu.anthropic.claude-sonnet-4-5-20250929-v1:0"), "claude-sonnet-4-5");
  EXPECT_EQ(IdOf("global.anthropic.claude-haiku-4-5-20251001-v1:0"), "claude-haiku-4-5");
  // Vertex.
  EXPECT_EQ(IdOf("claude-opus-4-1@20250805"), "claude-opus-4-1");
  EXPECT_EQ(IdOf("claude-sonnet-4@20250514"), "claude-sonnet-4");
  // OpenRouter / provider-prefixed.
  EXPECT_EQ(IdOf("anthropic/claude-sonnet-4.5"), "claude-sonnet-4-5");
  EXPECT_EQ(IdOf("openai/gpt-4o-mini"), "gpt-4o-mini");
  EXPECT_EQ(IdOf("openai-codex/gpt-5.2"), "gpt-5.2");
  EXPECT_EQ(IdOf("models/gemini-2.5-pro"), "gemini-2.5-pro");
  // -fast.
  EXPECT_EQ(IdOf("claude-opus-4-6-fast"), "claude-opus-4-6");
  // OpenAI dated snapshots.
  EXPECT_EQ(IdOf("gpt-4.1-2025-04-14"), "gpt-4.1");
  EXPECT_EQ(IdOf("gpt-4o-2024-08-06"), "gpt-4o");
  EXPECT_EQ(IdOf("gpt-4o-2024-05-13"), "gpt-4o-2024-05-13");  // its own, older price
  EXPECT_EQ(IdOf("gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  EXPECT_EQ(IdOf("gpt-5-2025-08-07"), "gpt-5");
  EXPECT_EQ(IdOf("o3-2025-04-16"), "o3");
  EXPECT_EQ(IdOf("o4-mini-2025-04-16"), "o4-mini");
  EXPECT_EQ(IdOf("o3-pro"), "o3-pro");
  // Google previews.
  EXPECT_EQ(IdOf("gemini-2.5-flash-preview-05-20"), "gemini-2.5-flash");
  EXPECT_EQ(IdOf("gemini-2.5-flash-lite"), "gemini-2.5-flash-lite");
}

TEST(PricingTest, AnotherVersionNumberIsADifferentModel) {
  const PriceTable& t = PriceTable::Builtin();
  // claude-opus-4-1-… must never price as claude-opus-4.
  EXPECT_EQ(IdOf("claude-opus-4-1-20250805"), "claude-opus-4-1");
  // A future version is unknown, not the nearest older one.
  EXPECT_EQ(t.Find("claude-opus-4-7"), nullptr);
  EXPECT_EQ(t.Find("claude-sonnet-4-9-20270101"), nullptr);
  EXPECT_EQ(t.Find("gpt-5-3"), nullptr);
  EXPECT_EQ(t.Find("gpt-4"), nullptr);
  EXPECT_EQ(t.Find("claude-opus"), nullptr);
  EXPECT_EQ(t.Find("<synthetic>"), nullptr);
  EXPECT_EQ(t.Find(""), nullptr);
  EXPECT_EQ(t.Find("glm-4.6"), nullptr);
}

TEST(PricingTest, CostOfBuckets) {
  const PriceTable& t = PriceTable::Builtin();
  TokenBuckets b;
  b.input = 1000;           // 1000 * 3     = 3000
  b.output = 2000;          // 2000 * 15    = 30000
  b.cache_read = 100000;    // 100000 * 0.3 = 30000
  b.cache_write_5m = 4000;  // 4000 * 3.75  = 15000
  b.cache_write_1h = 1000;  // 1000 * 6     = 6000
  // sum 84000e-6 = $0.084
  EXPECT_NEAR(*t.Cost("claude-sonnet-4-5-20250929", b), 0.084, 1e-12);
  // gpt-4o: (1000*2.5 + 2000*10 + 100000*1.25 + 5000*2.5)e-6 = 0.16
  EXPECT_NEAR(*t.Cost("gpt-4o", b), 0.16, 1e-12);
}

TEST(PricingTest, UnknownModelIsUnpricedNotZero) {
  const PriceTable& t = PriceTable::Builtin();
  TokenBuckets b;
  b.input = 10;
  EXPECT_FALSE(t.Cost("some-new-model", b).has_value());
  UsageEvent e;
  e.model = "some-new-model";
  EXPECT_EQ(t.Cost(e), std::optional<double>(0.0));  // no tokens: costs 0
  e.tokens.output = 1;
  EXPECT_FALSE(t.Cost(e).has_value());
}

TEST(PricingTest, LongContextIsWholeRequest) {
  const PriceTable& t = PriceTable::Builtin();
  // Sonnet 4.5, prompt 150000 + 60000 + 0 = 210000 > 200000: every token at
  // the long-context rates (in 6, out 22.5, read 0.6):
  //   150000*6 + 1000*22.5 + 60000*0.6 = 900000 + 22500 + 36000 = 958500e-6
  TokenBuckets b;
  b.input = 150000;
  b.cache_read = 60000;
  b.output = 1000;
  EXPECT_NEAR(*t.Cost("claude-sonnet-4-5", b), 0.9585, 1e-12);
  // Exactly at the threshold: base rates. 140000*3 + 1000*15 + 60000*0.3 = 453000e-6
  b.input = 140000;
  EXPECT_NEAR(*t.Cost("claude-sonnet-4-5", b), 0.453, 1e-12);
  // Models without a tier never switch: opus 4.1 at 210000 prompt.
  b.input = 150000;  // 150000*15 + 1000*75 + 60000*1.5 = 2415000e-6
  EXPECT_NEAR(*t.Cost("claude-opus-4-1", b), 2.415, 1e-12);
  // A rolled-up event (several requests) is not one request: base rates.
  UsageEvent e;
  e.model = "claude-sonnet-4-5";
  e.tokens = b;  // 150000*3 + 1000*15 + 60000*0.3 = 483000e-6
  e.requests = 3;
  EXPECT_NEAR(*t.Cost(e), 0.483, 1e-12);
  e.requests = 1;
  EXPECT_NEAR(*t.Cost(e), 0.9585, 1e-12);
}

// Fast mode (Claude Code usage.speed "fast", the reader's tag speed=fast, or
// a "-fast" model name) multiplies the whole request's cost: by the table's
// fast_multiplier, else by 2.
TEST(PricingTest, FastModeMultipliesTheCost) {
  UsageEvent e;
  e.model = "claude-sonnet-4-5";
  e.requests = 1;
  e.tokens.input = 1000;
  e.tokens.output = 100;
  const PriceTable& t = PriceTable::Builtin();
  // 1000 x $3/M + 100 x $15/M
  EXPECT_NEAR(*t.Cost(e), 0.0045, 1e-12);
  e.SetTag("speed", "fast");
  EXPECT_NEAR(*t.Cost(e), 0.009, 1e-12);
  UsageEvent f = e;
  f.num_tags = 0;
  f.model = "claude-sonnet-4-5-fast";
  EXPECT_NEAR(*t.Cost(f), 0.009, 1e-12);

  auto user = PriceTable::Parse(
      R"({"models":[{"id":"claude-sonnet-4-5","input":3,"output":15,"fast_multiplier":6}]})",
      "u.json");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_NEAR(*user->Cost(e), 0.027, 1e-12);
  auto bad = PriceTable::Parse(
      R"({"models":[{"id":"m","input":3,"output":15,"fast_multiplier":0.5}]})", "u.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("fast_multiplier"));
}

TEST(PricingTest, UserTable) {
  auto t = PriceTable::Parse(
      R"({"models":[{"id":"my-model","aliases":["mine"],"input":1,"output":2},
                    {"id":"tiered","input":1,"output":1,"long_context":{"threshold":10,"input":5}}]})",
      "test.json");
  ASSERT_TRUE(t.ok()) << t.status();
  const ModelPrice* p = t->Find("mine-20250101");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->id, "my-model");
  EXPECT_DOUBLE_EQ(p->base.cache_read, 1);  // defaults to input
  const ModelPrice* q = t->Find("tiered");
  EXPECT_DOUBLE_EQ(q->long_context.input, 5);
  EXPECT_DOUBLE_EQ(q->long_context.output, 1);  // defaults to base
  EXPECT_EQ(q->long_context_threshold, 10);
}

TEST(PricingTest, BadUserTablesNameTheEntry) {
  auto bad = PriceTable::Parse(
      R"({"models":[{"id":"a","input":1,"output":1},{"id":"b","input":"x","output":1}]})",
      "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("p.json: models[1] (b)"));
  EXPECT_FALSE(PriceTable::Parse("not json", "p.json").ok());
  EXPECT_FALSE(PriceTable::Parse(R"({"models":[{"input":1,"output":1}]})", "p.json").ok());
  EXPECT_FALSE(
      PriceTable::Parse(R"({"models":[{"id":"a","input":-1,"output":1}]})", "p.json").ok());
  EXPECT_FALSE(PriceTable::LoadFile("/nonexistent/pricing.json").ok());
  // A threshold beyond any int64 (found by pricing_fuzzer) is an error, not UB.
  auto huge = PriceTable::Parse(
      R"({"models":[{"id":"a","input":1,"output":1,"long_context":{"threshold":2e33,"input":2}}]})",
      "p.json");
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(std::string(huge.status().message()), ::testing::HasSubstr("out of range"));
}

TEST(PricingTest, ShippedFileParsesTheSameAsTheBuiltin) {
  std::ifstream in(TOKMETER_SOURCE_DIR "/data/pricing.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto t = PriceTable::Parse(ss.str(), "data/pricing.json");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->models().size(), PriceTable::Builtin().models().size());
}

}  // namespace
}  // namespace tokmeter::analysis
