// The pieces of a JSONL line (src/sinks/json_writer.h), each checked against
// an independent route: std::to_chars and snprintf for numbers, Boost.JSON's
// parser for strings, hand-written expectations for the rest.
#include "src/sinks/json_writer.h"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"

namespace tokmeter::internal {
namespace {

namespace json = boost::json;

std::string Int(int64_t v) {
  char buf[kIntBytes + 8];
  return std::string(buf, WriteInt(buf, v));
}

TEST(JsonWriterTest, IntegersMatchToChars) {
  std::vector<int64_t> values = {0, std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<int64_t>::min()};
  // Every power of ten and its neighbours: each digit-count boundary.
  for (int64_t p = 1; p <= std::numeric_limits<int64_t>::max() / 10; p *= 10) {
    for (int64_t v : {p - 1, p, p + 1, 10 * p - 1}) {
      values.push_back(v);
      values.push_back(-v);
    }
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const auto bits = rng();
    values.push_back(static_cast<int64_t>(bits >> (bits % 64)));  // every magnitude
    values.push_back(-static_cast<int64_t>(bits % 100000000));
  }
  for (int64_t v : values) {
    char want[32];
    auto res = std::to_chars(want, want + sizeof(want), v);
    ASSERT_EQ(Int(v), std::string(want, res.ptr)) << v;
  }
}

TEST(JsonWriterTest, EightDigitsAndHexMatchPrintf) {
  auto check_digits = [](uint32_t v) {
    char got[8], want[16];
    Write8Digits(got, v);
    std::snprintf(want, sizeof(want), "%08" PRIu32, v);
    ASSERT_EQ(std::string(got, 8), std::string(want)) << v;
  };
  for (uint32_t v = 0; v < 200000; ++v) check_digits(v);  // both 4-digit halves' edges
  for (uint32_t v = 99999999; v > 99800000; --v) check_digits(v);
  std::mt19937 rng(11);
  for (int i = 0; i < 1000000; ++i) check_digits(rng() % 100000000);

  auto check_hex = [](uint64_t v) {
    char got[18], want[24];
    WriteHexId(got, v);
    std::snprintf(want, sizeof(want), "\"%016" PRIx64 "\"", v);
    ASSERT_EQ(std::string(got, 18), std::string(want)) << v;
  };
  for (uint64_t v :
       {uint64_t{0}, ~uint64_t{0}, uint64_t{0x0123456789abcdef}, uint64_t{0xfedcba9876543210},
        uint64_t{0x9999999999999999}, uint64_t{0xaaaaaaaaaaaaaaaa}}) {
    check_hex(v);
  }
  std::mt19937_64 rng64(13);
  for (int i = 0; i < 200000; ++i) check_hex(rng64());
  char got[34];
  WriteHexId(got, 0x00000000000000ffULL, 0xa000000000000001ULL);
  EXPECT_EQ(std::string(got, 34), "\"00000000000000ffa000000000000001\"");
}

TEST(JsonWriterTest, TimestampsAndDurations) {
  std::string out;
  TimestampFormatter ts;
  // 1700000000 s is 2023-11-14T22:13:20Z.
  ts.Append(out, 1700000000123456789);
  EXPECT_EQ(out, "\"2023-11-14T22:13:20.123456789Z\"");
  out.clear();
  ts.Append(out, 1700000001000000000);  // next second: the cache is refreshed
  EXPECT_EQ(out, "\"2023-11-14T22:13:21.000000000Z\"");
  out.clear();
  ts.Append(out, 1700000001999999999);  // same second, every digit a 9
  EXPECT_EQ(out, "\"2023-11-14T22:13:21.999999999Z\"");
  out.clear();
  ts.Append(out, -1);  // one nanosecond before the epoch
  EXPECT_EQ(out, "\"1969-12-31T23:59:59.999999999Z\"");
  out.clear();
  ts.Append(out, 0);
  EXPECT_EQ(out, "\"1970-01-01T00:00:00.000000000Z\"");

  struct Case {
    int64_t ns;
    const char* want;
  } durations[] = {
      {1250000000, "1250.0"},
      {1234567, "1.234567"},
      {-2500000, "-2.5"},
      {0, "0.0"},
      {1, "0.000001"},
      {10, "0.00001"},
      {100000, "0.1"},
      {999999, "0.999999"},
      {1000000, "1.0"},
      {27, "0.000027"},
      {12947000000, "12947.0"},
      {-1, "-0.000001"},
      {std::numeric_limits<int64_t>::min(), "-9223372036854.775807"},
  };
  for (const auto& c : durations) {
    out.clear();
    AppendDurationMs(out, c.ns);
    EXPECT_EQ(out, c.want) << c.ns;
  }
}

TEST(JsonWriterTest, EscapesAndRepairsAnyBytes) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {"plain", "plain"},
      {"q\"b\\s/", "q\"b\\s/"},
      {std::string("nul\0x", 5), std::string("nul\0x", 5)},
      {"\x01\x1f\n\t", "\x01\x1f\n\t"},
      {"héllo ✓ 😀", "héllo ✓ 😀"},
      {"bad\xff", "bad\xEF\xBF\xBD"},                                  // invalid byte
      {"cut\xe2\x9c", "cut\xEF\xBF\xBD\xEF\xBF\xBD"},                  // truncated 3-byte sequence
      {"over\xc0\xaf", "over\xEF\xBF\xBD\xEF\xBF\xBD"},                // overlong '/'
      {"sur\xed\xa0\x80", "sur\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // UTF-16 surrogate
  };
  for (const auto& c : cases) {
    std::string out;
    AppendJsonString(out, c.in);
    json::error_code ec;
    json::value v = json::parse(out, ec);
    ASSERT_FALSE(ec) << out;
    EXPECT_EQ(std::string(v.as_string()), c.want) << out;
  }
  // All 256 byte values in one string still give valid JSON.
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  std::string out;
  AppendJsonString(out, all);
  json::error_code ec;
  json::parse(out, ec);
  EXPECT_FALSE(ec);
}

// Plain text is copied 8 bytes at a time: a byte that needs attention must be
// caught at every position of every length, in the 8-byte words and in the
// tail, and the text around it kept.
TEST(JsonWriterTest, SpecialBytesAtEveryPosition) {
  struct Special {
    std::string bytes;  // inserted into plain text
    std::string want;   // what the parsed string holds there
  } specials[] = {
      {"\"", "\""},
      {"\\", "\\"},
      {"\n", "\n"},
      {"\x01", "\x01"},
      {"\x1f", "\x1f"},
      {"é", "é"},
      {"✓", "✓"},
      {"\xff", "\xEF\xBF\xBD"},
      {"\x80", "\xEF\xBF\xBD"},
      {"\x7f", "\x7f"},  // DEL is plain
      {" ", " "},
      {"/", "/"},
      {"!", "!"},
      {"#", "#"},
      {"[", "["},
      {"]", "]"},
      {"~", "~"},
  };
  for (size_t len = 0; len <= 40; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (const Special& sp : specials) {
        std::string plain(len, 'a');
        for (size_t k = 0; k < len; ++k) plain[k] = char('a' + k % 26);
        std::string in = plain.substr(0, at) + sp.bytes + plain.substr(at);
        std::string want = plain.substr(0, at) + sp.want + plain.substr(at);
        std::string out;
        AppendJsonString(out, in);
        json::error_code ec;
        json::value v = json::parse(out, ec);
        ASSERT_FALSE(ec) << out;
        ASSERT_EQ(std::string(v.as_string()), want) << "len " << len << " at " << at;
      }
    }
    std::string plain(len, 'z');
    std::string out;
    AppendJsonString(out, plain);
    EXPECT_EQ(out, "\"" + plain + "\"");
  }
}

// Random bytes of every length up to 64: the output is always one valid JSON
// string (Boost.JSON rejects invalid UTF-8 and bad escapes), and its length
// stays within JsonStringBound.
TEST(JsonWriterTest, RandomBytesAlwaysGiveValidJson) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 64);
  for (int i = 0; i < 100000; ++i) {
    std::string in(size_t(len(rng)), '\0');
    for (char& c : in) c = char(byte(rng));
    std::string out;
    AppendJsonString(out, in);
    ASSERT_LE(out.size(), JsonStringBound(in.size()));
    json::error_code ec;
    json::parse(out, ec);
    ASSERT_FALSE(ec) << i;
  }
}

}  // namespace
}  // namespace tokmeter::internal
