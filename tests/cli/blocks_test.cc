// `tokmeter blocks`: 5-hour blocks, their totals, burn rate, projection and
// the token limit, with boundaries computed by hand.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;

// 09:17 (1,350 tokens) and 10:30 (135) open the block 09:00–14:00; 14:00:00
// is that block's end, so it starts the next block 14:00–19:00 (13 tokens);
// 20:00 comes after a gap and starts 20:00–01:00 (15 tokens).
std::string Transcript(const TempDir& dir) {
  return dir.Write("projects/p/s1.jsonl",
                   ClaudeLine("2026-11-23T09:17:00.000Z", "msg_1", 100, 200, 1000, 50) +
                       ClaudeLine("2026-11-23T10:30:00.000Z", "msg_2", 10, 20, 100, 5) +
                       ClaudeLine("2026-11-23T14:00:00.000Z", "msg_3", 1, 2, 10, 0) +
                       ClaudeLine("2026-11-23T20:00:00.000Z", "msg_4", 7, 8, 0, 0));
}

const boost::json::object& Block(const Result& r, size_t i) {
  return r.doc().at("blocks").as_array().at(i).as_object();
}

TEST(CliBlocksTest, BoundariesTotalsAndTheActiveBlock) {
  TempDir dir("blocks");
  const std::string path = Transcript(dir);
  Result r = Tokmeter({"blocks", "--format", "json", path});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.doc().at("blocks").as_array().size(), 3u);
  EXPECT_EQ(Block(r, 0).at("start").as_string(), "2026-11-23T09:00:00Z");
  EXPECT_EQ(Block(r, 0).at("end").as_string(), "2026-11-23T14:00:00Z");
  EXPECT_EQ(Block(r, 0).at("entries").as_int64(), 2);
  EXPECT_EQ(Block(r, 0).at("total_tokens").as_int64(), 1485);
  // Sonnet 4.5 ($3 in, $15 out, $0.30 cache read, $3.75 cache write per M):
  // 110 × 3 + 220 × 15 + 1,100 × 0.3 + 55 × 3.75 = 4,166.25 per M = $0.00416625
  // (cost_usd has 6 decimals).
  EXPECT_NEAR(Block(r, 0).at("cost_usd").to_number<double>(), 0.00416625, 1e-6);
  // 1,485 tokens between 09:17 and 10:30 (73 min): 20.34 tokens/min;
  // $0.00416625 / 73 × 60 = $0.0034243 per hour.
  const auto& rate = Block(r, 0).at("burn_rate").as_object();
  EXPECT_NEAR(rate.at("tokens_per_minute").to_number<double>(), 1485.0 / 73, 0.05);
  EXPECT_NEAR(rate.at("cost_per_hour").to_number<double>(), 0.00416625 / 73 * 60, 1e-4);
  EXPECT_FALSE(Block(r, 0).at("active").as_bool());
  EXPECT_TRUE(Block(r, 0).at("projection").is_null());
  EXPECT_EQ(Block(r, 1).at("start").as_string(), "2026-11-23T14:00:00Z");
  EXPECT_EQ(Block(r, 1).at("total_tokens").as_int64(), 13);
  EXPECT_TRUE(Block(r, 1).at("burn_rate").is_null());  // one message: no duration
  EXPECT_EQ(Block(r, 2).at("start").as_string(), "2026-11-23T20:00:00Z");
  EXPECT_EQ(Block(r, 2).at("end").as_string(), "2026-11-24T01:00:00Z");
  // "Now" is the latest event (20:00): the last block is the active one.
  EXPECT_TRUE(Block(r, 2).at("active").as_bool());
  EXPECT_EQ(r.doc().at("active_block").as_int64(), 2);
  EXPECT_EQ(r.doc().at("totals").as_object().at("total_tokens").as_int64(), 1485 + 13 + 15);

  Result table = Tokmeter({"blocks", "--format", "table", path});
  ASSERT_EQ(table.rc, 0) << table.err;
  const size_t row = table.out.find("\n2026-11-23 20:00 ");
  ASSERT_NE(row, std::string::npos) << table.out;
  EXPECT_THAT(table.out.substr(row, table.out.find('\n', row + 1) - row),
              HasSubstr("▶ ACTIVE, 4h59m left"));
}

TEST(CliBlocksTest, ProjectionToTheBlockEndAndTokenLimit) {
  TempDir dir("blocks_proj");
  const std::string path = Transcript(dir);
  // As of 11:00 only the first two messages have happened; the block
  // 09:00–14:00 is active with 180 min left: 1,485 + 1,485 / 73 × 180 =
  // 1,485 + 3,661.6 = 5,147 tokens projected; 5,147 / 2,000 = 257 %.
  Result r = Tokmeter({"blocks", "--format", "json", "--as-of", "2026-11-23T11:00:00Z",
                       "--token-limit", "2000", path});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.doc().at("blocks").as_array().size(), 1u);
  const auto& p = Block(r, 0).at("projection").as_object();
  EXPECT_EQ(p.at("total_tokens").as_int64(), 5147);
  EXPECT_EQ(p.at("remaining_minutes").as_int64(), 180);
  const auto& st = r.doc().at("token_limit_status").as_object();
  EXPECT_EQ(st.at("status").as_string(), "exceeds");
  EXPECT_NEAR(st.at("projected_share").to_number<double>(), 5147.0 / 2000, 1e-4);

  // max: the largest block that is over (1,485); the active block (15
  // tokens, one message, so projected 15) is ok at 1 %.
  Result mx = Tokmeter({"blocks", "--format", "json", "--token-limit", "max", path});
  ASSERT_EQ(mx.rc, 0) << mx.err;
  EXPECT_EQ(mx.doc().at("token_limit").as_int64(), 1485);
  EXPECT_EQ(mx.doc().at("token_limit_status").as_object().at("status").as_string(), "ok");
  EXPECT_EQ(Tokmeter({"blocks", "--token-limit", "lots", path}).rc, 2);
}

}  // namespace
}  // namespace tokmeter::cli::testing
