// Zero-argument use: with no INPUT the command reads the agents' own log
// locations (Claude Code, Codex), honouring their environment variables.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Claude Code: 100 + 200 + 1,000 + 50 = 1,350 and 10 + 20 + 100 + 5 = 135
// tokens: 1,485.
std::string ClaudeSession() {
  return ClaudeLine("2026-11-23T09:17:00.000Z", "msg_1", 100, 200, 1000, 50) +
         ClaudeLine("2026-11-23T10:30:00.000Z", "msg_2", 10, 20, 100, 5);
}

// Codex: one request of 1,200 input (1,024 of them cached) and 150 output:
// 176 + 1,024 + 150 = 1,350 tokens.
std::string CodexSession() {
  return R"({"timestamp":"2026-11-23T11:00:00.000Z","type":"session_meta","payload":{"id":"codex-1","cwd":"/home/dev/p"}})"
         "\n"
         R"({"timestamp":"2026-11-23T11:00:01.000Z","type":"turn_context","payload":{"model":"gpt-5-codex"}})"
         "\n"
         R"({"timestamp":"2026-11-23T11:01:00.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":1200,"cached_input_tokens":1024,"output_tokens":150,"reasoning_output_tokens":90,"total_tokens":1350},"last_token_usage":{"input_tokens":1200,"cached_input_tokens":1024,"output_tokens":150,"reasoning_output_tokens":90,"total_tokens":1350}}}})"
         "\n";
}

int64_t Total(const Result& r) {
  return r.doc().at("totals").as_object().at("total_tokens").as_int64();
}

TEST(CliInputsTest, NoInputReadsClaudeAndCodexUnderHome) {
  TempDir home("home_both");
  ScopedEnv env = EmptyHome(home);
  const std::string claude = home.Write(".claude/projects/-home-dev-p/s1.jsonl", ClaudeSession());
  const std::string codex = home.Write(
      ".codex/sessions/2026/11/23/rollout-2026-11-23T11-00-00-codex-1.jsonl", CodexSession());
  Result r = Tokmeter({"daily", "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Total(r), 1485 + 1350);
  EXPECT_THAT(r.err, HasSubstr("~/.claude/projects (Claude Code)"));
  EXPECT_THAT(r.err, HasSubstr("~/.codex/sessions (Codex)"));
  // The same totals as with the paths given.
  Result explicit_paths = Tokmeter({"daily", "--format", "json", home.path() + "/.claude/projects",
                                    home.path() + "/.codex/sessions"});
  ASSERT_EQ(explicit_paths.rc, 0) << explicit_paths.err;
  EXPECT_EQ(Total(explicit_paths), Total(r));
  EXPECT_EQ(r.doc().at("rows").as_array().size(), 1u);
}

TEST(CliInputsTest, ClaudeAndCodexFlagsPick) {
  TempDir home("home_pick");
  ScopedEnv env = EmptyHome(home);
  home.Write(".claude/projects/-home-dev-p/s1.jsonl", ClaudeSession());
  home.Write(".codex/sessions/2026/11/23/rollout-1.jsonl", CodexSession());
  Result claude = Tokmeter({"daily", "--format", "json", "--claude"});
  ASSERT_EQ(claude.rc, 0) << claude.err;
  EXPECT_EQ(Total(claude), 1485);
  EXPECT_THAT(claude.err, Not(HasSubstr("Codex")));
  Result codex = Tokmeter({"daily", "--format", "json", "--codex"});
  ASSERT_EQ(codex.rc, 0) << codex.err;
  EXPECT_EQ(Total(codex), 1350);
}

// $CLAUDE_CONFIG_DIR replaces the defaults: a comma-separated list of config
// dirs or projects/ dirs. $CODEX_HOME replaces ~/.codex (sessions and
// archived_sessions).
TEST(CliInputsTest, EnvironmentVariablesNameOtherPlaces) {
  TempDir home("home_env");
  TempDir a("claude_a"), b("claude_b"), codex_home("codex_home");
  home.Write(".claude/projects/-home-dev-p/s1.jsonl", ClaudeSession());  // not read
  // 7 + 8 = 15 and 1 + 2 + 10 = 13 tokens.
  a.Write("projects/x/a.jsonl", ClaudeLine("2026-11-23T12:00:00.000Z", "msg_a", 7, 8, 0, 0));
  b.Write("projects/y/b.jsonl", ClaudeLine("2026-11-23T12:05:00.000Z", "msg_b", 1, 2, 10, 0));
  codex_home.Write("archived_sessions/2026/11/23/rollout-9.jsonl", CodexSession());
  ScopedEnv env(EnvVars{{"HOME", home.path()},
                        {"XDG_CONFIG_HOME", std::nullopt},
                        {"CLAUDE_CONFIG_DIR", a.path() + " , " + b.path() + "/projects"},
                        {"CODEX_HOME", codex_home.path()}});
  Result r = Tokmeter({"daily", "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Total(r), 15 + 13 + 1350);
  EXPECT_THAT(r.err, HasSubstr(codex_home.path() + "/archived_sessions (Codex)"));
}

TEST(CliInputsTest, XdgConfigHomeAndHomeBothRead) {
  TempDir home("home_xdg"), xdg("xdg");
  home.Write(".claude/projects/-home-dev-p/s1.jsonl", ClaudeSession());
  xdg.Write("claude/projects/z/c.jsonl",
            ClaudeLine("2026-11-23T12:00:00.000Z", "msg_c", 7, 8, 0, 0));
  ScopedEnv env(EnvVars{{"HOME", home.path()},
                        {"XDG_CONFIG_HOME", xdg.path()},
                        {"CLAUDE_CONFIG_DIR", std::nullopt},
                        {"CODEX_HOME", std::nullopt}});
  Result r = Tokmeter({"daily", "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Total(r), 1485 + 15);
}

TEST(CliInputsTest, NothingFoundSaysWhereItLooked) {
  TempDir home("home_empty");
  ScopedEnv env = EmptyHome(home);
  Result r = Tokmeter({"daily", "--format", "json"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("no inputs given, and no agent logs found in"));
  EXPECT_THAT(r.err, HasSubstr("~/.claude/projects"));
  EXPECT_THAT(r.err, HasSubstr("~/.codex/sessions"));
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace tokmeter::cli::testing
