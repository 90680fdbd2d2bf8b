// Terminal manners: tables fit the width ($COLUMNS), colour only on a
// terminal or when asked (NO_COLOR honoured), model breakdowns only where a
// row has several models, suggestions for mistyped commands and flags.
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/cli/page.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Columns of a line: code points (the fixtures' text is narrow: ASCII, "…",
// "└", "→").
size_t Columns(const std::string& line) {
  size_t n = 0;
  for (unsigned char c : line)
    if ((c & 0xc0) != 0x80) ++n;
  return n;
}

TEST(CliTerminalTest, TablesFitTheWidth) {
  TempDir dir("wide");
  std::string text;
  const std::string long_session(90, 's');
  for (int i = 0; i < 3; ++i)
    text += absl::StrFormat(
        R"({"type":"span","timestamp":"2026-11-23T10:0%d:00Z","trace_id":"%032x","span_id":"%016x","kind":"llm","name":"m","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1234567,"output_tokens":7654321,"cache_read_tokens":99999999,"cache_write_tokens":8888888,"tags":{"session":"%s-%d"}})"
        "\n",
        i, i + 1, i + 1, long_session, i);
  const std::string path = dir.Write("wide.jsonl", text);
  for (int width : {60, 80, 120}) {
    ScopedEnv env(EnvVars{{"COLUMNS", std::to_string(width)}});
    for (const char* cmd : {"session", "daily", "report", "detect"}) {
      Result r = Tokmeter({cmd, "--format", "table", path});
      ASSERT_EQ(r.rc, 0) << r.err;
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);)
        EXPECT_LE(Columns(line), size_t(width)) << cmd << " at " << width << ":\n" << line;
    }
  }
  ScopedEnv env(EnvVars{{"COLUMNS", "80"}});
  Result r = Tokmeter({"session", "--format", "table", path});
  EXPECT_THAT(r.out, HasSubstr("sss…"));         // the session name is cut, not the numbers
  EXPECT_THAT(r.out, HasSubstr("117,777,775"));  // 1,234,567 + 7,654,321 + 99,999,999 + 8,888,888
}

TEST(CliTerminalTest, ColourForSeveritiesWhenAsked) {
  ScopedEnv env(EnvVars{{"NO_COLOR", std::nullopt}});
  Result always =
      Tokmeter({"detect", "--format", "table", "--color", "always", Data("usage.jsonl")});
  ASSERT_EQ(always.rc, 0) << always.err;
  // The warning (no_cache) in yellow (SGR 33).
  EXPECT_THAT(always.out, HasSubstr("\x1b[33m"));
  Result never = Tokmeter({"detect", "--format", "table", "--color", "never", Data("usage.jsonl")});
  EXPECT_THAT(never.out, Not(HasSubstr("\x1b[")));
  // Not a terminal: no colour by default.
  Result dflt = Tokmeter({"detect", "--format", "table", Data("usage.jsonl")});
  EXPECT_THAT(dflt.out, Not(HasSubstr("\x1b[")));
  // Quota levels are coloured too: "minimal" in green (SGR 32).
  Result quota = Tokmeter(
      {"quota", "--format", "table", "--color", "always", "--limit", "300M", Data("usage.jsonl")});
  EXPECT_THAT(quota.out, HasSubstr("\x1b[32m"));
  EXPECT_EQ(Tokmeter({"detect", "--color", "sometimes", Data("usage.jsonl")}).rc, 2);
}

TEST(CliTerminalTest, NoColorWinsOverAutoOnly) {
  ScopedEnv env(EnvVars{{"NO_COLOR", "1"}});
  Result always =
      Tokmeter({"detect", "--format", "table", "--color", "always", Data("usage.jsonl")});
  EXPECT_THAT(always.out, HasSubstr("\x1b["));  // the flag is explicit
}

TEST(CliTerminalTest, ModelRowsOnlyWhereARowHasSeveralModels) {
  // Each session of usage.jsonl has one model: no breakdown rows.
  Result sessions = Tokmeter({"session", "--format", "table", Data("usage.jsonl")});
  ASSERT_EQ(sessions.rc, 0) << sessions.err;
  EXPECT_THAT(sessions.out, Not(HasSubstr("└")));
  EXPECT_THAT(sessions.out, HasSubstr("claude-sonnet-4-5"));  // in the Models column
  // The day has two models: one row each under it.
  Result daily = Tokmeter({"daily", "--format", "table", Data("usage.jsonl"), Data("bad.jsonl")});
  EXPECT_THAT(daily.out, HasSubstr("└ claude-sonnet-4-5"));
  EXPECT_THAT(daily.out, HasSubstr("└ mystery-model-9"));
}

TEST(CliTerminalTest, SuggestionsForTypos) {
  Result cmd = Tokmeter({"dialy"});
  EXPECT_EQ(cmd.rc, 2);
  EXPECT_THAT(cmd.err, HasSubstr("did you mean `tokmeter daily`?"));
  Result flag = Tokmeter({"daily", "--fromat", "json", Data("usage.jsonl")});
  EXPECT_EQ(flag.rc, 2);
  EXPECT_THAT(flag.err, HasSubstr("unknown option '--fromat' (did you mean --format?)"));
  Result by = Tokmeter({"top", "--by", "sesion", Data("usage.jsonl")});
  EXPECT_EQ(by.rc, 2);
  EXPECT_THAT(by.err, HasSubstr("did you mean session?"));
  Result fmt = Tokmeter({"report", "--format", "htm", Data("usage.jsonl")});
  EXPECT_EQ(fmt.rc, 2);
  EXPECT_THAT(fmt.err, HasSubstr("did you mean html?"));
  Result far = Tokmeter({"zzzzzz"});
  EXPECT_THAT(far.err, Not(HasSubstr("did you mean")));
}

}  // namespace
}  // namespace tokmeter::cli::testing

namespace tokmeter::cli {
namespace {

// East Asian wide characters take two columns; a cut never splits a
// character; wrapping terminates at any width.
TEST(PageTextTest, WidthsTruncationAndWrapping) {
  EXPECT_EQ(DisplayWidth("abc"), 3);
  EXPECT_EQ(DisplayWidth("日本語"), 6);
  EXPECT_EQ(DisplayWidth("é└…"), 3);
  EXPECT_EQ(Truncate("日本語", 5), "日本…");  // 2 + 2 + 1 columns
  EXPECT_EQ(Truncate("abcdef", 4), "abc…");
  EXPECT_EQ(Truncate("abc", 3), "abc");
  EXPECT_EQ(Wrap("aaaaaa", 1), (std::vector<std::string>{"a", "a", "a", "a", "a", "a"}));
  EXPECT_EQ(Wrap("one two three", 7), (std::vector<std::string>{"one two", "three"}));
  EXPECT_EQ(Wrap("日本語", 3), (std::vector<std::string>{"日", "本", "語"}));
}

}  // namespace
}  // namespace tokmeter::cli
