// Codex CLI session logs: each request counted once, by the movement of the
// thread's cumulative totals; forked threads' copies of their parent's
// history not counted; plain sub-agents counted from zero. Files are built
// line by line below; every expected number is computed by hand next to it.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/pricing/pricing.h"
#include "tests/readers/codex_lines.h"
#include "tests/readers/test_util.h"

namespace tokmeter::analysis {
namespace {

using testing::CodexTs;
using testing::CodexUsageJson;
using testing::Collected;
using testing::ReadAll;
using testing::TempDir;
using U = testing::CodexUsage;

std::string Meta(double t, const std::string& id, const std::string& cwd,
                 const std::string& extra = "") {
  return R"({"timestamp":")" + CodexTs(t) + R"(","type":"session_meta","payload":{"id":")" + id +
         R"(","timestamp":")" + CodexTs(t) + R"(","cwd":")" + cwd +
         R"(","originator":"codex_cli_rs","cli_version":"0.104.0")" + extra + "}}\n";
}
std::string Context(double t, const std::string& model) {
  return R"({"timestamp":")" + CodexTs(t) +
         R"(","type":"turn_context","payload":{"cwd":"/repo","model":")" + model +
         R"(","effort":"medium"}})" + "\n";
}
std::string Count(double t, const U& total, const U& last) {
  return R"({"timestamp":")" + CodexTs(t) +
         R"(","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":)" +
         CodexUsageJson(total) + R"(,"last_token_usage":)" + CodexUsageJson(last) +
         R"(,"model_context_window":272000},"rate_limits":{"primary":{"used_percent":12.0,"window_minutes":300}}}})" +
         "\n";
}
std::string NullInfo(double t) {
  return R"({"timestamp":")" + CodexTs(t) +
         R"(","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"primary":{"used_percent":1.0}}}})" +
         "\n";
}
std::string UserMessage(double t) {
  return R"({"timestamp":")" + CodexTs(t) +
         R"(","type":"event_msg","payload":{"type":"user_message","message":"fix the build","images":[]}})" +
         "\n";
}
std::string Reasoning(double t) {
  return R"({"timestamp":")" + CodexTs(t) +
         R"(","type":"response_item","payload":{"type":"reasoning","summary":[],"encrypted_content":"gAAAA"}})" +
         "\n";
}
// After a compaction: last_token_usage all zero but an estimated total,
// cumulative totals unchanged.
std::string CompactionEstimate(double t, const U& total) {
  return R"({"timestamp":")" + CodexTs(t) +
         R"(","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":)" +
         CodexUsageJson(total) +
         R"(,"last_token_usage":{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_output_tokens":0,"total_tokens":48211}}}})" +
         "\n";
}

// A parent thread: three requests at 60, 120, 180 s, each count re-sent once
// on a rate-limit update (as Codex does), with a model switch before the
// third.
//   r1: in 1000 (0 cached),   out 100 (40 reasoning)
//   r2: in 3000 (2048 cached), out 200 (80 reasoning)
//   r3: in 5000 (4096 cached), out 300 (0 reasoning)   gpt-5.1-codex
// totals after each: (1000,0,100,40) (4000,2048,300,120) (9000,6144,600,120)
const U kR1{1000, 0, 100, 40}, kR2{3000, 2048, 200, 80}, kR3{5000, 4096, 300, 0};
const U kT1{1000, 0, 100, 40}, kT2{4000, 2048, 300, 120}, kT3{9000, 6144, 600, 120};

std::string ParentLog() {
  return Meta(0, "parent-1", "/home/dev/api") + NullInfo(0.1) + Context(0.2, "gpt-5-codex") +
         UserMessage(0.3) + Reasoning(59) + Count(60, kT1, kR1) + Count(60.5, kT1, kR1) +
         Count(120, kT2, kR2) + Count(120.4, kT2, kR2) + Context(150, "gpt-5.1-codex") +
         Count(180, kT3, kR3) + Count(181, kT3, kR3);
}

// Uncached input: r1 1000, r2 3000-2048 = 952, r3 5000-4096 = 904.
TEST(CodexReaderTest, EachRequestOnceWhateverTheRepeats) {
  TempDir dir;
  Collected c = ReadAll({dir.Write("sessions/2026/08/01/rollout-a.jsonl", ParentLog())});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.totals.input, 1000 + 952 + 904);
  EXPECT_EQ(c.totals.cache_read, 0 + 2048 + 4096);
  EXPECT_EQ(c.totals.output, 100 + 200 + 300);
  EXPECT_EQ(c.totals.reasoning, 40 + 80 + 0);
  EXPECT_EQ(c.requests, 3);
  EXPECT_EQ(c.events[0].model, "gpt-5-codex");
  EXPECT_EQ(c.events[1].model, "gpt-5-codex");
  EXPECT_EQ(c.events[2].model, "gpt-5.1-codex");  // the model switch
  EXPECT_EQ(c.events[0].tag("session"), "parent-1");
  EXPECT_EQ(c.events[0].tag("project"), "/home/dev/api");
  EXPECT_EQ(c.events[0].tag("sidechain"), "");
  EXPECT_EQ(c.events[1].e.time_unix_ns, 1785574800'000000000 + 120'000000000);  // 09:02:00Z
  const InputSummary* s = c.input("rollout-a.jsonl");
  EXPECT_EQ(s->duplicates, 3);  // the three re-sent counts
  EXPECT_EQ(s->skipped_lines, 0);
  EXPECT_EQ(s->records, 3);
  // Cost, $/MTok (both models: in 1.25, cached 0.125, out 10):
  //   uncached 2856 * 1.25 = 3570; cached 6144 * 0.125 = 768; out 600 * 10 = 6000
  //   = 10338e-6 USD
  double cost = 0;
  for (const auto& ev : c.events) {
    UsageEvent e = ev.e;
    e.model = ev.model;
    cost += PriceTable::Builtin().Cost(e).value();
  }
  EXPECT_NEAR(cost, 0.010338, 1e-9);
}

// The first count is a lone request, then a compaction: its estimate line
// has a non-zero total_tokens but unchanged totals and counts nothing (and
// is not a duplicate either).
TEST(CodexReaderTest, CompactionEstimateCountsNothing) {
  TempDir dir;
  std::string log = Meta(0, "s", "/r") + Context(0.1, "gpt-5-codex") + Count(10, kT1, kR1) +
                    R"({"timestamp":")" + CodexTs(20) +
                    R"(","type":"compacted","payload":{"message":"summary"}})" + "\n" +
                    CompactionEstimate(21, kT1);
  Collected c = ReadAll({dir.Write("a.jsonl", log)});
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.totals.total(), 1000 + 100);
  EXPECT_EQ(c.input("a.jsonl")->duplicates, 0);
  EXPECT_EQ(c.input("a.jsonl")->skipped_lines, 0);
}

// A forked child: its own session_meta (forked_from_id, thread_spawn), then a
// copy of the parent's meta and history re-stamped at the fork (09:05:00),
// written over 1.5 s, then its own requests continuing from the parent's
// totals (9000,6144,600,120):
//   c1: in 2000 (1500 cached), out 50 (0 reasoning)  totals (11000,7644,650,120)
//   c2: in 2500 (2000 cached), out 70 (10 reasoning) totals (13500,9644,720,130)
// The child's own uncached input 500 + 500, cached 3500, output 120.
std::string ChildLog(bool with_own_context = true, bool copy_contexts = true) {
  const double f = 300;  // 09:05:00
  std::string log = Meta(
      f, "child-1", "/home/dev/api/child",
      R"(,"forked_from_id":"parent-1","source":{"subagent":{"thread_spawn":{"parent_thread_id":"parent-1","depth":1}}})");
  // The copy: every line of the parent that a fork keeps, 0.15 s apart.
  std::vector<std::string> copy = {Meta(0, "parent-1", "/home/dev/api"),
                                   NullInfo(0),
                                   Context(0, "gpt-5-codex"),
                                   UserMessage(0),
                                   Count(0, kT1, kR1),
                                   Count(0, kT1, kR1),
                                   Count(0, kT2, kR2),
                                   Count(0, kT2, kR2),
                                   Context(0, "gpt-5.1-codex"),
                                   Count(0, kT3, kR3),
                                   Count(0, kT3, kR3)};
  for (size_t i = 0; i < copy.size(); ++i) {
    std::string line = copy[i];
    if (!copy_contexts && line.find("turn_context") != std::string::npos) continue;
    // Re-stamp: replace the first timestamp value.
    size_t p = line.find("\"timestamp\":\"") + 13;
    line.replace(p, 24, CodexTs(f + 0.15 * double(i + 1)));
    log += line;
  }
  U t1{11000, 7644, 650, 120}, c1{2000, 1500, 50, 0};
  U t2{13500, 9644, 720, 130}, c2{2500, 2000, 70, 10};
  if (with_own_context) log += Context(f + 1.8, "gpt-5.1-codex-mini");
  log +=
      UserMessage(f + 1.81) + Count(f + 6, t1, c1) + Count(f + 6.3, t1, c1) + Count(f + 12, t2, c2);
  return log;
}

void ExpectChildCounted(const Collected& c, const std::string& model) {
  // Parent: uncached 2856, cached 6144, out 600; child: 1000, 3500, 120.
  EXPECT_EQ(c.totals.input, 2856 + 1000);
  EXPECT_EQ(c.totals.cache_read, 6144 + 3500);
  EXPECT_EQ(c.totals.output, 600 + 120);
  EXPECT_EQ(c.requests, 3 + 2);
  int child = 0;
  for (const auto& ev : c.events) {
    if (ev.tag("session") != "child-1") continue;
    ++child;
    EXPECT_EQ(ev.model, model);
    EXPECT_EQ(ev.tag("project"), "/home/dev/api/child");  // not the copied meta's
    EXPECT_EQ(ev.tag("sidechain"), "true");
    EXPECT_EQ(ev.tag("parent_session"), "parent-1");
    EXPECT_EQ(ev.tag("model_fallback"), "");
  }
  EXPECT_EQ(child, 2);
  // Copied counts with usage: 6 (3 requests, 3 re-sends); own re-send: 1.
  EXPECT_EQ(c.input("rollout-b.jsonl")->duplicates, 6 + 1);
}

TEST(CodexReaderTest, ForkedChildLongCopyWithTheParentsLog) {
  TempDir dir;
  std::string a = dir.Write("sessions/2026/08/01/rollout-a.jsonl", ParentLog());
  std::string b = dir.Write("sessions/2026/08/01/rollout-b.jsonl", ChildLog());
  Collected c = ReadAll({a, b});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ExpectChildCounted(c, "gpt-5.1-codex-mini");
  // The parent's log read after the child's gives the same counts.
  Collected r = ReadAll({b, a});
  ExpectChildCounted(r, "gpt-5.1-codex-mini");
}

// Without the parent's log the copy is recognised as the burst written at
// the fork instant (lines 0.15 s apart; the child's own first count comes
// 4.2 s after its turn_context).
TEST(CodexReaderTest, ForkedChildWithoutTheParentsLog) {
  TempDir dir;
  Collected c = ReadAll({dir.Write("rollout-b.jsonl", ChildLog())});
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.totals.input, 1000);
  EXPECT_EQ(c.totals.cache_read, 3500);
  EXPECT_EQ(c.totals.output, 120);
  EXPECT_EQ(c.events[0].tag("session"), "child-1");
  EXPECT_EQ(c.input("rollout-b.jsonl")->duplicates, 7);
}

// A fork that writes no turn_context of its own before its first count: its
// requests take the parent's model at the fork, gpt-5.1-codex (from the
// copy's turn_context, or, when the copy has none — a fork of the last turns
// only — from the parent's log), not the gpt-5 fallback.
TEST(CodexReaderTest, ForkedChildTakesTheParentsModel) {
  TempDir dir;
  std::string a = dir.Write("x/rollout-a.jsonl", ParentLog());
  std::string b = dir.Write("x/rollout-b.jsonl", ChildLog(/*with_own_context=*/false));
  ExpectChildCounted(ReadAll({a, b}), "gpt-5.1-codex");
  TempDir dir2;
  a = dir2.Write("x/rollout-a.jsonl", ParentLog());
  b = dir2.Write("x/rollout-b.jsonl", ChildLog(false, /*copy_contexts=*/false));
  ExpectChildCounted(ReadAll({a, b}), "gpt-5.1-codex");
}

// A plain spawned sub-agent (thread_spawn, no forked_from_id) has no copy:
// its counters start from zero and every request counts.
TEST(CodexReaderTest, PlainSubagentStartsFromZero) {
  TempDir dir;
  std::string log =
      Meta(0, "sub-1", "/r",
           R"(,"source":{"subagent":{"thread_spawn":{"parent_thread_id":"parent-1","depth":1}}})") +
      Context(0.05, "gpt-5-codex") + Count(0.6, kT1, kR1) + Count(0.7, kT2, kR2);
  Collected c = ReadAll({dir.Write("sub.jsonl", log)});
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.totals.input, 1000 + 952);
  EXPECT_EQ(c.totals.cache_read, 2048);
  EXPECT_EQ(c.totals.output, 300);
  EXPECT_EQ(c.events[0].tag("sidechain"), "true");
  EXPECT_EQ(c.events[0].tag("parent_session"), "parent-1");
  EXPECT_EQ(c.input("sub.jsonl")->duplicates, 0);
}

// A log that never names its model is priced as gpt-5 and flagged.
TEST(CodexReaderTest, NoModelFallsBackToGpt5Flagged) {
  TempDir dir;
  Collected c = ReadAll({dir.Write("a.jsonl", Meta(0, "s", "/r") + Count(5, kT1, kR1))});
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].model, "gpt-5");
  EXPECT_EQ(c.events[0].tag("model_fallback"), "true");
}

// Cache writes (newer models report cache_write_input_tokens, inside input):
// in 4020 = 8 uncached + 0 cached + 4012 written.
TEST(CodexReaderTest, CacheWritesArePartOfInput) {
  TempDir dir;
  U u{4020, 0, 30, 0, 4012};
  Collected c = ReadAll(
      {dir.Write("a.jsonl", Meta(0, "s", "/r") + Context(0.1, "gpt-5-codex") + Count(5, u, u))});
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.totals.input, 8);
  EXPECT_EQ(c.totals.cache_write_5m, 4012);
  EXPECT_EQ(c.totals.cache_read, 0);
  EXPECT_EQ(c.totals.total(), 4020 + 30);
}

// A file cut mid-line (Codex still writing it): the cut line is one bad
// line; everything before it counts.
TEST(CodexReaderTest, FileCutMidLine) {
  TempDir dir;
  std::string log = ParentLog();
  std::string cut = Count(200, U{9500, 6144, 650, 120}, U{500, 0, 50, 0});
  log += cut.substr(0, cut.size() / 2);  // no newline, half an object
  Collected c = ReadAll({dir.Write("a.jsonl", log)});
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.totals.output, 600);
  EXPECT_EQ(c.input("a.jsonl")->skipped_lines, 1);
  EXPECT_EQ(c.input("a.jsonl")->first_bad_lines, std::vector<int64_t>{13});
}

// Counters that go down (two threads' lines in one file, or a restart): the
// request's own last_token_usage counts.
TEST(CodexReaderTest, CountersThatGoDownUseTheRequestsOwnUsage) {
  TempDir dir;
  std::string log = Meta(0, "s", "/r") + Context(0.1, "gpt-5-codex") + Count(5, kT2, kR2) +
                    Count(9, U{700, 0, 20, 0}, U{700, 0, 20, 0});
  Collected c = ReadAll({dir.Write("a.jsonl", log)});
  ASSERT_EQ(c.events.size(), 2u);
  // First: its last (3000 incl. 2048 cached, out 200); second: its last.
  EXPECT_EQ(c.totals.input, 952 + 700);
  EXPECT_EQ(c.totals.cache_read, 2048);
  EXPECT_EQ(c.totals.output, 220);
}

// ---------------------------------------------------------------------------
// Codex CLI: last_token_usage deltas, input inclusive of cached.
TEST(CodexTest, DeltasAndModel) {
  TempDir dir;
  std::string text =
      R"({"timestamp":"2026-08-01T08:59:00.000Z","type":"session_meta","payload":{"id":"cx-1","cwd":"/home/dev/api"}})"
      "\n"
      R"({"timestamp":"2026-08-01T09:00:00.000Z","type":"turn_context","payload":{"model":"gpt-5-codex"}})"
      "\n"
      R"({"timestamp":"2026-08-01T09:00:30.000Z","type":"response_item","payload":{"type":"message","content":[]}})"
      "\n"
      // delta: in 1200 incl. 1024 cached -> 176 + 1024, out 150 (90 reasoning)
      R"({"timestamp":"2026-08-01T09:01:00.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":3000,"cached_input_tokens":2048,"output_tokens":400,"reasoning_output_tokens":250,"total_tokens":3400},"last_token_usage":{"input_tokens":1200,"cached_input_tokens":1024,"output_tokens":150,"reasoning_output_tokens":90,"total_tokens":1350},"model_context_window":272000},"rate_limits":null}})"
      "\n"
      // info null: rate-limit-only event, skipped
      R"({"timestamp":"2026-08-01T09:01:01.000Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"primary":{"used_percent":10}}}})"
      "\n"
      // repeat with zero delta: skipped
      R"({"timestamp":"2026-08-01T09:01:02.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":3000,"cached_input_tokens":2048,"output_tokens":400,"reasoning_output_tokens":250,"total_tokens":3400},"last_token_usage":{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_output_tokens":0,"total_tokens":0}}}})"
      "\n"
      R"({"timestamp":"2026-08-01T09:02:00.000Z","type":"turn_context","payload":{"model":"gpt-5"}})"
      "\n"
      // only totals: 5000-3000 = 2000 input, 4096-2048 = 2048 cached -> 0 uncached... see below
      R"({"timestamp":"2026-08-01T09:03:00.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":5000,"cached_input_tokens":3548,"output_tokens":500,"reasoning_output_tokens":250,"total_tokens":5500}}}})"
      "\n";
  // Second event from totals: previous total uncached = 3000-2048 = 952,
  // now 5000-3548 = 1452 -> +500 uncached; cached 3548-2048 = +1500;
  // output 500-400 = +100.
  Collected c = ReadAll({dir.Write("rollout.jsonl", text)});
  ASSERT_EQ(c.events.size(), 2u);
  const auto& a = c.events[0];
  EXPECT_EQ(a.model, "gpt-5-codex");
  EXPECT_EQ(a.provider, "openai");
  EXPECT_EQ(a.e.tokens.input, 176);
  EXPECT_EQ(a.e.tokens.cache_read, 1024);
  EXPECT_EQ(a.e.tokens.output, 150);
  EXPECT_EQ(a.e.tokens.reasoning, 90);
  EXPECT_EQ(a.tag("session"), "cx-1");
  EXPECT_EQ(a.tag("project"), "/home/dev/api");
  const auto& b = c.events[1];
  EXPECT_EQ(b.model, "gpt-5");
  EXPECT_EQ(b.e.tokens.input, 500);
  EXPECT_EQ(b.e.tokens.cache_read, 1500);
  EXPECT_EQ(b.e.tokens.output, 100);
  const InputSummary* s = c.input("rollout.jsonl");
  EXPECT_EQ(s->format, "codex");
  EXPECT_EQ(s->skipped_lines, 0);
}

// A forked sub-agent's file (session_meta forked_from_id, thread_spawn)
// starts with a copy of the parent's token_count events: those are the
// parent's usage and must not be counted twice.
TEST(CodexTest, SubagentReplayOfTheParentIsNotCountedTwice) {
  TempDir dir;
  const std::string usage_3000 =
      R"("info":{"total_token_usage":{"input_tokens":3000,"cached_input_tokens":2048,"output_tokens":400,"reasoning_output_tokens":250,"total_tokens":3400},"last_token_usage":{"input_tokens":3000,"cached_input_tokens":2048,"output_tokens":400,"reasoning_output_tokens":250,"total_tokens":3400}})";
  std::string parent =
      R"({"timestamp":"2026-08-01T09:00:00.000Z","type":"session_meta","payload":{"id":"parent-1","cwd":"/repo"}})"
      "\n"
      R"({"timestamp":"2026-08-01T09:00:00.100Z","type":"turn_context","payload":{"model":"gpt-5-codex"}})"
      "\n"
      R"({"timestamp":"2026-08-01T09:01:00.000Z","type":"event_msg","payload":{"type":"token_count",)" +
      usage_3000 + "}}\n";
  std::string child =
      R"({"timestamp":"2026-08-01T09:02:00.000Z","type":"session_meta","payload":{"id":"child-1","forked_from_id":"parent-1","source":{"subagent":{"thread_spawn":{"parent_thread_id":"parent-1","depth":1}}}}})"
      "\n"
      R"({"timestamp":"2026-08-01T09:02:00.000Z","type":"turn_context","payload":{"model":"gpt-5-codex"}})"
      "\n"
      // 0.3 s after the sub-agent's start: the parent's event, replayed.
      R"({"timestamp":"2026-08-01T09:02:00.300Z","type":"event_msg","payload":{"type":"token_count",)" +
      usage_3000 +
      "}}\n"
      // The sub-agent's own turn: 1000 uncached in, 100 out.
      R"({"timestamp":"2026-08-01T09:02:05.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":4000,"cached_input_tokens":2048,"output_tokens":500,"reasoning_output_tokens":250,"total_tokens":4500},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":0,"output_tokens":100,"reasoning_output_tokens":0,"total_tokens":1100}}}})"
      "\n";
  Collected c = ReadAll({dir.Write("a/parent.jsonl", parent), dir.Write("b/child.jsonl", child)});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 2u);
  // Parent 3000 incl. 2048 cached -> 952 + 2048, out 400; child 1000, out 100.
  EXPECT_EQ(c.totals.input, 952 + 1000);
  EXPECT_EQ(c.totals.cache_read, 2048);
  EXPECT_EQ(c.totals.output, 500);
  EXPECT_EQ(c.events[0].tag("session"), "parent-1");
  EXPECT_EQ(c.events[0].tag("sidechain"), "");
  EXPECT_EQ(c.events[1].tag("session"), "child-1");
  EXPECT_EQ(c.events[1].tag("sidechain"), "true");
  EXPECT_EQ(c.input("child.jsonl")->duplicates, 1);
  EXPECT_EQ(c.input("parent.jsonl")->duplicates, 0);
}

}  // namespace
}  // namespace tokmeter::analysis
