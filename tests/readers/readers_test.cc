// Readers: one test group per format, inputs (gz, zst, stdin, directories,
// path tags), time range and bad input. Every expected number is computed by
// hand in the comments next to it.
#include <fcntl.h>
#include <zstd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/analysis/reader.h"
#include "src/analysis/reader_internal.h"
#include "src/pricing/pricing.h"
#include "tests/readers/test_util.h"

namespace tokmeter::analysis {
namespace {

using testing::Collected;
using ::testing::ElementsAre;
using testing::Gzip;
using testing::ReadAll;
using testing::ReadAllFromStdin;
using testing::TempDir;

// ---------------------------------------------------------------------------
// token-usage.jsonl: a smoke-claude workflow run, six requests.
//   haiku (routing):  in 120 + 105 = 225, out 35 + 30 = 65, no cache
//   sonnet (agent):   in 3 + 5 + 240 + 302 = 550
//                     out 418 + 312 + 250 + 182 = 1162
//                     cache read 14044 + 40086 + 48500 + 49770 = 152400
//                     cache write 26042 + 8458 + 4900 + 3756 = 43156
//   totals: input 775, output 1227, cache read 152400 (~152K),
//           cache write 43156 (~43K), total 197558 (as the users' report has it).
const char kSmokeClaude[] =
    R"({"_schema":"token-usage/v0.26.0","timestamp":"2026-08-20T10:00:01.000Z","event":"token_usage","request_id":"r1","provider":"anthropic","model":"claude-haiku-4.5","path":"/v1/messages","status":200,"streaming":false,"input_tokens":120,"output_tokens":35,"cache_read_tokens":0,"cache_write_tokens":0,"duration_ms":800,"response_bytes":900})"
    "\n"
    R"({"timestamp":"2026-08-20T10:00:03.000Z","request_id":"r2","provider":"anthropic","model":"claude-haiku-4.5","path":"/v1/messages","status":200,"streaming":false,"input_tokens":105,"output_tokens":30,"cache_read_tokens":0,"cache_write_tokens":0,"duration_ms":700,"response_bytes":850})"
    "\n"
    R"({"timestamp":"2026-08-20T10:00:10.000Z","request_id":"r3","provider":"anthropic","model":"claude-sonnet-4-6","path":"/v1/messages?beta=true","status":200,"streaming":true,"input_tokens":3,"output_tokens":418,"cache_read_tokens":14044,"cache_write_tokens":26042,"duration_ms":5858,"response_bytes":2800})"
    "\n"
    R"({"timestamp":"2026-08-20T10:00:20.000Z","request_id":"r4","provider":"anthropic","model":"claude-sonnet-4-6","path":"/v1/messages?beta=true","status":200,"streaming":true,"input_tokens":5,"output_tokens":312,"cache_read_tokens":40086,"cache_write_tokens":8458,"duration_ms":4000,"response_bytes":2000})"
    "\n"
    R"({"timestamp":"2026-08-20T10:00:30.000Z","request_id":"r5","provider":"anthropic","model":"claude-sonnet-4-6","path":"/v1/messages?beta=true","status":200,"streaming":true,"input_tokens":240,"output_tokens":250,"cache_read_tokens":48500,"cache_write_tokens":4900,"duration_ms":3000,"response_bytes":1500})"
    "\n"
    R"({"timestamp":"2026-08-20T10:00:40.000Z","request_id":"r6","provider":"anthropic","model":"claude-sonnet-4-6","path":"/v1/messages?beta=true","status":200,"streaming":true,"input_tokens":302,"output_tokens":182,"cache_read_tokens":49770,"cache_write_tokens":3756,"duration_ms":2500,"response_bytes":1200})"
    "\n";

TEST(TokenUsageTest, SeedSmokeClaudeRun) {
  TempDir dir;
  Collected c = ReadAll({dir.Write("token-usage.jsonl", kSmokeClaude)});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 6u);
  EXPECT_EQ(c.totals.input, 775);
  EXPECT_EQ(c.totals.output, 1227);
  EXPECT_EQ(c.totals.cache_read, 152400);
  EXPECT_EQ(c.totals.cache_write(), 43156);
  EXPECT_EQ(c.totals.total(), 197558);
  EXPECT_EQ(c.requests, 6);
  // 152400 / (152400 + 775) = 0.99494 -> 99.5 %
  EXPECT_NEAR(CacheHitRate(c.totals), 0.99494, 0.00001);
  // No TTL split in token-usage records: writes count as 5m, flagged.
  EXPECT_EQ(c.totals.cache_write_5m, 43156);
  EXPECT_TRUE(c.events[2].e.ttl_unknown);
  EXPECT_FALSE(c.events[0].e.ttl_unknown);
  // Cost, $/MTok: haiku 4.5 in 1 out 5; sonnet 4.6 in 3 out 15 read 0.30 write(5m) 3.75.
  //   haiku  225*1 + 65*5                              =    550  e-6
  //   sonnet 550*3 + 1162*15 + 152400*0.3 + 43156*3.75 = 226635  e-6
  //   total $0.227185 (the seed: "about $0.23")
  double cost = 0;
  for (const auto& ev : c.events) {
    UsageEvent e = ev.e;
    e.model = ev.model;
    std::optional<double> x = PriceTable::Builtin().Cost(e);
    ASSERT_TRUE(x.has_value()) << ev.model;
    cost += *x;
  }
  EXPECT_NEAR(cost, 0.227185, 1e-9);
  const auto& e = c.events[2];
  EXPECT_EQ(e.model, "claude-sonnet-4-6");
  EXPECT_EQ(e.provider, "anthropic");
  EXPECT_EQ(e.kind, "llm");
  EXPECT_EQ(e.tag("request_id"), "r3");
  EXPECT_EQ(e.tag("path"), "/v1/messages?beta=true");
  EXPECT_EQ(e.tag("streaming"), "true");
  EXPECT_EQ(e.e.duration_ns, 5858'000'000);
  EXPECT_EQ(e.e.response_bytes, 2800);
  EXPECT_EQ(e.e.line, 3);
  // 2026-08-20T10:00:10Z = 1787220010 s
  EXPECT_EQ(e.e.time_unix_ns, 1787220010'000'000'000);
  const InputSummary* s = c.input("token-usage.jsonl");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->format, "token-usage");
  EXPECT_EQ(s->lines, 6);
  EXPECT_EQ(s->records, 6);
  EXPECT_EQ(s->skipped_lines, 0);
  EXPECT_FALSE(s->empty);
}

// Tag values must outlive the line's parse: `streaming` (a JSON bool) was
// once a view into the parser's per-thread buffer, which the next line
// overwrites (and thread exit frees: ASan found it).
TEST(TokenUsageTest, BoolTagsSurviveLaterLines) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += absl::StrCat(
        R"({"_schema":"token-usage/1","timestamp":"2026-11-23T09:00:0)", i % 10,
        R"(Z","provider":"anthropic","model":"claude-sonnet-4-5","path":"/v1/messages\u002f)", i,
        R"(","input_tokens":1,"output_tokens":1,"streaming":)", i % 2 ? "false" : "true",
        R"(,"request_id":"r\u0031)", i, "\"}\n");
  }
  ReadOptions one_thread;
  one_thread.threads = 1;
  Collected c = ReadAll({dir.Write("t.jsonl", text)}, one_thread);
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(c.events[i].tag("streaming"), i % 2 ? "false" : "true") << i;
    EXPECT_EQ(c.events[i].tag("request_id"), absl::StrCat("r1", i)) << i;
  }
}

TEST(TokenUsageTest, InputSemanticsDependOnProvider) {
  // openai: input 3100 includes cached 2944 -> uncached 156 (prompt_tokens is inclusive).
  // gemini: 9000 incl. 8192 cached -> 808. copilot: 50 incl. 60 cached -> clamp 0.
  // opencode on /v1/messages: Anthropic semantics, input stays 7.
  TempDir dir;
  std::string text =
      R"({"timestamp":"2026-08-20T10:00:00Z","provider":"openai","model":"gpt-4.1-2025-04-14","path":"/v1/chat/completions","status":200,"input_tokens":3100,"output_tokens":420,"cache_read_tokens":2944,"cache_write_tokens":0})"
      "\n"
      R"({"timestamp":"2026-08-20T10:00:01Z","provider":"gemini","model":"gemini-2.5-pro","path":"/v1beta/models","status":200,"input_tokens":9000,"output_tokens":120,"cache_read_tokens":8192,"cache_write_tokens":0})"
      "\n"
      R"({"timestamp":"2026-08-20T10:00:02Z","provider":"copilot","model":"gpt-5","path":"/chat/completions","status":200,"input_tokens":50,"output_tokens":1,"cache_read_tokens":60,"cache_write_tokens":0})"
      "\n"
      R"({"timestamp":"2026-08-20T10:00:03Z","provider":"opencode","model":"x","path":"/v1/messages","status":200,"input_tokens":7,"output_tokens":1,"cache_read_tokens":100,"cache_write_tokens":0})"
      "\n";
  Collected c = ReadAll({dir.Write("t.jsonl", text)});
  ASSERT_EQ(c.events.size(), 4u);
  EXPECT_EQ(c.events[0].e.tokens.input, 156);
  EXPECT_EQ(c.events[0].e.tokens.cache_read, 2944);
  EXPECT_EQ(c.events[0].e.tokens.output, 420);
  EXPECT_EQ(c.events[1].e.tokens.input, 808);
  EXPECT_EQ(c.events[2].e.tokens.input, 0);
  EXPECT_EQ(c.events[3].e.tokens.input, 7);
}

// ---------------------------------------------------------------------------
// tokmeter JSONL: a 4.6M-token workflow run (92 % cached) as three spans of one trace.
//   input  300000 + 20000 + 6432        = 326432
//   output 40000 + 8000 + 366           = 48366
//   cache read 4000000 + 200000 + 34687 = 4234687
//   cache write 20000 + 8000 + 413      = 28413 (of which 1h: 8000)
//   total = 326432 + 48366 + 4234687 + 28413 = 4637898. The seed prints
//   4,635,898; its four parts add up to 4,637,898 (that sum is off by 2,000).
//   prompt cache share = 4234687 / (326432 + 4234687 + 28413) = 0.922684 -> 92.3 %
const char kIssue35[] =
    R"({"type":"trace","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","timestamp":"2026-11-23T09:00:00.000000000Z","kind":"session","name":"issue-35","tags":{"workflow":"adw","session":"s-35","heartbeat":false}})"
    "\n"
    R"({"type":"span","timestamp":"2026-11-23T09:00:01.250000000Z","start":"2026-11-23T09:00:00.000000000Z","duration_ms":1250.0,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"a3ce929d0e0e4736","parent_id":"00f067aa0ba902b7","kind":"llm","name":"messages","thread":4242,"provider":"anthropic","model":"claude-sonnet-4-5","status":200,"streaming":true,"input_tokens":300000,"output_tokens":40000,"cache_read_tokens":4000000,"cache_write_tokens":20000,"requests":1,"fingerprint":"9f3a0c2b1d4e5f60","tags":{"attempt":2,"session":"override"},"counters":{"web_search_requests":1}})"
    "\n"
    R"({"type":"span","timestamp":"2026-11-23T09:00:02.000000000Z","start":"2026-11-23T09:00:01.500000000Z","duration_ms":500.0,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"b3ce929d0e0e4736","parent_id":"00f067aa0ba902b7","kind":"llm","name":"messages","thread":4242,"provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":20000,"output_tokens":8000,"cache_read_tokens":200000,"cache_write_tokens":8000,"cache_write_1h_tokens":8000,"requests":1,"retries":1,"rate_limited":1,"retry_wait_ms":2000})"
    "\n"
    R"({"type":"span","timestamp":"2026-11-23T09:00:03.000000000Z","start":"2026-11-23T09:00:02.000000000Z","duration_ms":1000.0,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"c3ce929d0e0e4736","parent_id":"00f067aa0ba902b7","kind":"llm","name":"messages","thread":4243,"tool":"Read","input_tokens":6432,"output_tokens":366,"cache_read_tokens":34687,"cache_write_tokens":413,"requests":1,"tool_calls":2})"
    "\n"
    R"({"type":"turn_summary","scope":"trace","timestamp":"2026-11-23T09:00:03.000000000Z","start":"2026-11-23T09:00:00.000000000Z","duration_ms":3000.0,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","kind":"session","name":"issue-35","spans":4,"input_tokens":326432,"output_tokens":48366,"cache_read_tokens":4234687,"cache_write_tokens":28413,"requests":3})"
    "\n"
    R"({"type":"drops","timestamp":"2026-11-23T09:00:02.000000000Z","thread":4243,"dropped":17,"total_dropped":17})"
    "\n"
    R"({"type":"some_future_type","x":1})"
    "\n";

TEST(TokmeterJsonlTest, SeedIssue35) {
  TempDir dir;
  Collected c = ReadAll({dir.Write("spans.jsonl", kIssue35)});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 4u);  // 3 spans + 1 rollup
  EXPECT_EQ(c.totals.input, 326432);
  EXPECT_EQ(c.totals.output, 48366);
  EXPECT_EQ(c.totals.cache_read, 4234687);
  EXPECT_EQ(c.totals.cache_write(), 28413);
  EXPECT_EQ(c.totals.cache_write_1h, 8000);
  EXPECT_EQ(c.totals.total(), 4637898);
  EXPECT_NEAR(PromptCacheShare(c.totals), 0.922684, 0.000001);
  EXPECT_EQ(c.requests, 3);
  EXPECT_EQ(c.rate_limited, 1);
  EXPECT_EQ(c.tool_calls, 2);

  const auto& s1 = c.events[0];
  EXPECT_EQ(s1.kind, "llm");
  EXPECT_EQ(s1.model, "claude-sonnet-4-5");
  EXPECT_EQ(s1.span_id, "a3ce929d0e0e4736");
  EXPECT_EQ(s1.parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(s1.e.fingerprint, 0x9f3a0c2b1d4e5f60u);
  EXPECT_EQ(s1.e.duration_ns, 1'250'000'000);
  EXPECT_EQ(s1.tag("workflow"), "adw");  // from the trace line
  EXPECT_EQ(s1.tag("heartbeat"), "false");
  EXPECT_EQ(s1.tag("session"), "override");  // span tag wins over trace tag
  EXPECT_EQ(s1.tag("attempt"), "2");
  EXPECT_EQ(s1.tag("streaming"), "true");
  EXPECT_EQ(c.events[1].tag("session"), "s-35");
  EXPECT_EQ(c.events[2].tag("tool"), "Read");

  const auto& rollup = c.events[3];
  EXPECT_EQ(rollup.kind, kTurnSummaryRollupKind);
  EXPECT_TRUE(IsRollup(rollup.e) || rollup.kind == "turn_summary_rollup");
  EXPECT_EQ(rollup.e.tokens.input, 326432);
  EXPECT_EQ(rollup.tag("turn_kind"), "session");
  EXPECT_EQ(rollup.tag("scope"), "trace");

  const InputSummary* s = c.input("spans.jsonl");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->format, "tokmeter");
  EXPECT_EQ(s->dropped_records, 17);
  EXPECT_EQ(s->skipped_lines, 0);  // unknown types are ignored, not bad
  EXPECT_EQ(s->lines, 7);
  EXPECT_EQ(s->records, 4);
}

// Reasoning is a part of output (docs/FORMAT.md): a producer that records
// more reasoning than output gets reasoning capped at output, never a negative
// non-reasoning remainder (found by tokmeter_jsonl_reader_fuzzer).
TEST(TokmeterJsonlTest, ReasoningCappedAtOutput) {
  TempDir dir;
  Collected c = ReadAll(
      {dir.Write("r.jsonl",
                 "{\"type\":\"span\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":"
                 "\"00f067aa0ba902b8\",\"timestamp\":\"2026-11-23T09:00:01Z\",\"kind\":\"llm\","
                 "\"output_tokens\":5,\"reasoning_tokens\":9}\n"
                 "{\"type\":\"span\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":"
                 "\"00f067aa0ba902b9\",\"timestamp\":\"2026-11-23T09:00:02Z\",\"kind\":\"llm\","
                 "\"output_tokens\":7,\"reasoning_tokens\":3}\n")});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].e.tokens.reasoning, 5);
  EXPECT_EQ(c.events[0].e.tokens.output, 5);
  EXPECT_EQ(c.events[1].e.tokens.reasoning, 3);
  EXPECT_EQ(c.totals.output, 12);
}

// JSON edge cases of span lines: escapes in keys and values, numbers kept
// as written, nested values under tags ignored, and malformed lines
// (trailing content, trailing comma, unclosed) skipped and counted.
TEST(TokmeterJsonlTest, EscapesNumbersAndMalformedLines) {
  TempDir dir;
  const std::string lines =
      R"({"type":"span","trace_id":"t1","span_id":"s1","kind":"ll\u006d","na\u006de":"x","input_tokens":7,)"
      R"("tags":{"k\"q":"v\\w","n":2.50,"b":false,"z":null,"o":{"x":1},"a":[1,2],)"
      R"("long1":"abcdefghij\\klm","long2":"a\tbcdefghijklmnopq"}})"
      "\n"
      R"({"type":"span","trace_id":"t1","span_id":"s2","kind":"llm","input_tokens":5} {"type":"span"})"
      "\n"
      R"({"type":"span","trace_id":"t1","span_id":"s3","kind":"llm","input_tokens":3,})"
      "\n"
      R"({"type":"span","trace_id":"t1","span_id":"s4","kind":"llm","input_tokens":3)"
      "\n"
      R"({"type":"span","trace_id":"t1","span_id":"s5","kind":"llm","input_tokens":11})"
      "\n";
  Collected c = ReadAll({dir.Write("e.jsonl", lines)});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 2u);
  const auto& e = c.events[0];
  EXPECT_EQ(e.kind, "llm");
  EXPECT_EQ(e.name, "x");
  EXPECT_EQ(e.e.tokens.input, 7);
  EXPECT_EQ(e.tag("k\"q"), "v\\w");
  EXPECT_EQ(e.tag("n"), "2.50");
  EXPECT_EQ(e.tag("b"), "false");
  EXPECT_EQ(e.tag("long1"), "abcdefghij\\klm");  // escapes past the first 8 bytes
  EXPECT_EQ(e.tag("long2"), "a\tbcdefghijklmnopq");
  EXPECT_EQ(e.tags.count("z"), 0u);
  EXPECT_EQ(e.tags.count("o"), 0u);
  EXPECT_EQ(e.tags.count("a"), 0u);
  EXPECT_EQ(c.events[1].span_id, "s5");
  EXPECT_EQ(c.totals.input, 18);
  const InputSummary* s = c.input("e.jsonl");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->skipped_lines, 3);
  EXPECT_EQ(s->first_bad_lines, (std::vector<int64_t>{2, 3, 4}));
}

// ---------------------------------------------------------------------------
// An agent runtime's turn_summary line (compacted to one line).
TEST(TurnSummaryTest, SeedLine) {
  TempDir dir;
  std::string text =
      R"({"ts":"2026-02-16T21:35:12.123Z","kind":"turn_summary","sessionKey":"s1","channel":"discord","model":"openai-codex/gpt-5.2","tokens_in":1820,"tokens_out":420,"tool_calls":6,"rate_limits":1,"retry_count":2,"duration_ms":8421,"tags":{"heartbeat":true,"cron_job_id":"nightly","agentId":"a7"}})"
      "\n"
      R"({"ts":"2026-02-16T21:40:00.000Z","kind":"turn_summary","sessionKey":"s2","channel":"slack","model":"gpt-5","tokens_in":100,"tokens_out":10,"tool_calls":0,"rate_limits":0,"retry_count":0,"duration_ms":100,"tags":{"heartbeat":false,"cron_job_id":null,"agentId":"a8"}})"
      "\n";
  Collected c = ReadAll({dir.Write("turns.jsonl", text)});
  ASSERT_EQ(c.events.size(), 2u);
  const auto& e = c.events[0];
  EXPECT_EQ(e.kind, "turn_summary");
  EXPECT_EQ(e.e.tokens.input, 1820);
  EXPECT_EQ(e.e.tokens.output, 420);
  EXPECT_EQ(e.e.tool_calls, 6);
  EXPECT_EQ(e.e.rate_limited, 1);
  EXPECT_EQ(e.e.retries, 2);
  EXPECT_EQ(e.e.duration_ns, 8421'000'000);
  EXPECT_EQ(e.tag("session"), "s1");
  EXPECT_EQ(e.tag("channel"), "discord");
  EXPECT_EQ(e.tag("heartbeat"), "true");
  EXPECT_EQ(e.tag("job"), "nightly");
  EXPECT_EQ(e.tag("agent"), "a7");
  EXPECT_EQ(e.model, "openai-codex/gpt-5.2");
  EXPECT_EQ(e.provider, "openai-codex");
  EXPECT_EQ(c.events[1].tag("job"), "");  // null job id: no tag
  // 1820 + 420 + 100 + 10
  EXPECT_EQ(c.totals.total(), 2350);
  EXPECT_EQ(c.input("turns.jsonl")->format, "turn-summary");
}

// ---------------------------------------------------------------------------
// OTLP JSON, one ExportTraceServiceRequest per line.
TEST(OtlpJsonTest, GenAiSpans) {
  TempDir dir;
  std::string text =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"agent"}},{"key":"tokmeter.workflow","value":{"stringValue":"nightly"}}]},"scopeSpans":[{"scope":{"name":"tokmeter"},"spans":[)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"chat claude-sonnet-4-5","kind":3,"startTimeUnixNano":"1763888400000000000","endTimeUnixNano":"1763888401500000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.provider.name","value":{"stringValue":"anthropic"}},{"key":"gen_ai.request.model","value":{"stringValue":"claude-sonnet-4-5"}},{"key":"gen_ai.response.model","value":{"stringValue":"claude-sonnet-4-5-20250929"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5000"}},{"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":"4096"}},{"key":"gen_ai.usage.cache_creation.input_tokens","value":{"intValue":100}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"300"}},{"key":"gen_ai.usage.reasoning.output_tokens","value":{"intValue":"200"}},{"key":"gen_ai.conversation.id","value":{"stringValue":"conv-9"}},{"key":"gen_ai.agent.id","value":{"stringValue":"ag-1"}},{"key":"tokmeter.user","value":{"stringValue":"ana"}},{"key":"http.response.status_code","value":{"intValue":"200"}}],"status":{}},)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"execute_tool Read","startTimeUnixNano":"1763888401500000000","endTimeUnixNano":"1763888401600000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},{"key":"gen_ai.tool.name","value":{"stringValue":"Read"}}],"status":{"code":2}},)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b176","name":"http GET","attributes":[{"key":"http.method","value":{"stringValue":"GET"}}]})"
      R"(]}]}]})"
      "\n";
  Collected c = ReadAll({dir.Write("otel/traces.json", text)});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.events.size(), 2u);  // the plain HTTP span carries no GenAI data
  const auto& chat = c.events[0];
  EXPECT_EQ(chat.kind, "llm");
  // input_tokens includes cached input: 5000 - 4096 - 100 = 804
  EXPECT_EQ(chat.e.tokens.input, 804);
  EXPECT_EQ(chat.e.tokens.cache_read, 4096);
  EXPECT_EQ(chat.e.tokens.cache_write_5m, 100);
  EXPECT_EQ(chat.e.tokens.output, 300);
  EXPECT_EQ(chat.e.tokens.reasoning, 200);
  EXPECT_EQ(chat.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(chat.provider, "anthropic");
  EXPECT_EQ(chat.tag("session"), "conv-9");
  EXPECT_EQ(chat.tag("agent"), "ag-1");
  EXPECT_EQ(chat.tag("user"), "ana");
  EXPECT_EQ(chat.tag("workflow"), "nightly");
  EXPECT_EQ(chat.tag("service"), "agent");
  EXPECT_EQ(chat.e.requests, 1);
  EXPECT_EQ(chat.e.time_unix_ns, 1763888401500000000);
  EXPECT_EQ(chat.e.duration_ns, 1500000000);
  EXPECT_EQ(chat.trace_id, "5b8efff798038103d269b633813fc60c");
  const auto& tool = c.events[1];
  EXPECT_EQ(tool.kind, "tool");
  EXPECT_EQ(tool.tag("tool"), "Read");
  EXPECT_EQ(tool.e.tool_calls, 1);
  EXPECT_EQ(tool.e.errors, 1);
  EXPECT_EQ(c.input("traces.json")->format, "otlp-json");
}

// ---------------------------------------------------------------------------
// Inputs.

std::string Zstd(const std::string& s) {
  std::string out(ZSTD_compressBound(s.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), s.data(), s.size(), 3));
  return out;
}

TEST(InputsTest, GzipZstdAndConcatenatedGzip) {
  TempDir dir;
  std::string all = kSmokeClaude;
  size_t cut = all.find('\n', all.size() / 2) + 1;
  // Two gzip members: a reader must continue after the first.
  std::string gz2 = Gzip(all.substr(0, cut)) + Gzip(all.substr(cut));
  Collected a = ReadAll({dir.Write("a.jsonl.gz", Gzip(all)), dir.Write("b.jsonl.zst", Zstd(all)),
                         dir.Write("c.jsonl.gz", gz2)});
  ASSERT_TRUE(a.status.ok()) << a.status;
  EXPECT_EQ(a.events.size(), 18u);
  EXPECT_EQ(a.totals.total(), 3 * 197558);
  for (const auto& in : a.result.inputs) {
    EXPECT_EQ(in.skipped_lines, 0) << in.path;
    EXPECT_EQ(in.format, "token-usage") << in.path;
  }
}

TEST(InputsTest, TruncatedGzipKeepsWhatDecodedAndCountsABadLine) {
  TempDir dir;
  std::string gz = Gzip(kSmokeClaude);
  gz.resize(gz.size() - 12);  // lose the trailer and some data
  Collected c = ReadAll({dir.Write("t.jsonl.gz", gz)});
  ASSERT_TRUE(c.status.ok());
  EXPECT_GE(c.result.inputs[0].skipped_lines, 1);
  EXPECT_LE(c.events.size(), 6u);
}

TEST(InputsTest, Stdin) {
  Collected c;
  // Compressed stdin is detected too.
  ASSERT_NO_FATAL_FAILURE(ReadAllFromStdin(Gzip(kSmokeClaude), &c));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.events.size(), 6u);
  EXPECT_EQ(c.totals.total(), 197558);
  EXPECT_EQ(c.result.inputs[0].path, "-");
}

TEST(InputsTest, DirectoriesRecursiveSortedFilteredWithPathTags) {
  TempDir dir;
  dir.Write("runs/smoke-claude/111/sandbox/firewall/logs/api-proxy-logs/token-usage.jsonl",
            kSmokeClaude);
  dir.Write(
      "runs/secret-digger/222/token-usage.jsonl",
      R"({"timestamp":"2026-08-21T00:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":10,"output_tokens":1,"cache_read_tokens":0,"cache_write_tokens":0})"
      "\n");
  dir.Write("runs/secret-digger/222/agent-stdio.txt", "not usage\n");  // not picked by a walk
  ReadOptions o;
  o.path_tags = "runs/{workflow}/{run}/*";
  Collected c = ReadAll({dir.path()}, o);
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.result.inputs.size(), 2u);
  // Sorted: "runs/secret-digger" < "runs/smoke-claude".
  EXPECT_NE(c.result.inputs[0].path.find("secret-digger"), std::string::npos);
  ASSERT_EQ(c.events.size(), 7u);
  EXPECT_EQ(c.events[0].tag("workflow"), "secret-digger");
  EXPECT_EQ(c.events[0].tag("run"), "222");
  EXPECT_EQ(c.events[1].tag("workflow"), "smoke-claude");
  EXPECT_EQ(c.events[1].tag("run"), "111");
  EXPECT_EQ(c.events[1].e.input_index, 1);
  EXPECT_EQ(c.totals.total(), 197558 + 11);
}

TEST(InputsTest, PathPatternDoubleStar) {
  TempDir dir;
  dir.Write("a/b/c/d/x.jsonl", kSmokeClaude);
  ReadOptions o;
  o.path_tags = "a/**/{leaf}/x.jsonl";
  Collected c = ReadAll({dir.path()}, o);
  ASSERT_EQ(c.events.size(), 6u);
  EXPECT_EQ(c.events[0].tag("leaf"), "d");
}

TEST(InputsTest, SinceUntil) {
  TempDir dir;
  ReadOptions o;
  // [10:00:10, 10:00:30): r3 and r4 only: 3+418+14044+26042 + 5+312+40086+8458
  o.since_unix_ns = 1787220010'000'000'000;
  o.until_unix_ns = 1787220030'000'000'000;
  Collected c = ReadAll({dir.Write("t.jsonl", kSmokeClaude)}, o);
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.totals.total(), 40507 + 48861);
}

TEST(InputsTest, MissingPathIsAnErrorNamingIt) {
  Collected c = ReadAll({"/nonexistent/tokmeter/usage.jsonl"});
  EXPECT_FALSE(c.status.ok());
  EXPECT_THAT(std::string(c.status.message()),
              ::testing::HasSubstr("/nonexistent/tokmeter/usage.jsonl"));
}

TEST(InputsTest, UnreadableFileIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads everything";
  TempDir dir;
  std::string p = dir.Write("locked.jsonl", kSmokeClaude);
  ::chmod(p.c_str(), 0);
  Collected c = ReadAll({p});
  EXPECT_FALSE(c.status.ok());
  EXPECT_THAT(std::string(c.status.message()), ::testing::HasSubstr("locked.jsonl"));
}

TEST(InputsTest, EmptyInputs) {
  TempDir dir;
  std::string empty_file = dir.Write("empty.jsonl", "");
  std::string blank_file = dir.Write("blank.jsonl", "\n\n  \n");
  std::string no_usage = dir.Write(
      "claude/s.jsonl",
      R"({"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user","content":"hi"},"sessionId":"s","timestamp":"2026-08-18T09:16:36.727Z"})"
      "\n");
  std::filesystem::create_directories(dir.path() + "/emptydir");
  Collected c = ReadAll({empty_file, blank_file, no_usage, dir.path() + "/emptydir"});
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.result.inputs.size(), 4u);
  for (const auto& in : c.result.inputs) EXPECT_TRUE(in.empty) << in.path;
  EXPECT_EQ(c.result.inputs[0].format, "empty");
  EXPECT_EQ(c.result.inputs[1].format, "empty");
  EXPECT_EQ(c.result.inputs[2].format, "claude-code");
  EXPECT_EQ(c.result.inputs[3].format, "empty");
  EXPECT_TRUE(c.events.empty());
}

TEST(BadInputTest, SkippedAndCountedWithFirstFiveLineNumbers) {
  TempDir dir;
  std::string good =
      R"({"timestamp":"2026-08-20T10:00:00Z","provider":"anthropic","model":"claude-haiku-4-5","input_tokens":1,"output_tokens":2,"cache_read_tokens":3,"cache_write_tokens":4})";
  std::string text;
  // lines: 1 good, 2 junk, 3 good, 4 "{", 5 blank, 6 binary, 7 `[1,2]`, 8 good,
  //        9 junk, 10 junk, 11 good cut without newline but complete
  text += good + "\n";
  text += "hello world\n";
  text += good + "\n";
  text += "{\n";
  text += "\n";
  text += std::string("\x00\xff\xfe{\"a\":", 7) + "\n";
  text += "[1,2]\n";
  text += good + "\n";
  text += "{\"provider\":\"anthropic\",\"input_tokens\":5,\"output_tokens\":\n";
  text += "}}}\n";
  text += good;  // last line without newline: valid, so counted
  Collected c = ReadAll({dir.Write("bad.jsonl", text)});
  ASSERT_TRUE(c.status.ok());
  const InputSummary& s = c.result.inputs[0];
  EXPECT_EQ(s.lines, 11);
  EXPECT_EQ(s.skipped_lines, 6);  // 2, 4, 6, 7, 9, 10
  EXPECT_THAT(s.first_bad_lines, ElementsAre(2, 4, 6, 7, 9));
  EXPECT_EQ(c.events.size(), 4u);
  EXPECT_EQ(c.totals.total(), 4 * 10);
  EXPECT_EQ(s.format, "token-usage");
}

TEST(BadInputTest, CutLastLineIsBad) {
  TempDir dir;
  std::string text = std::string(kSmokeClaude) +
                     R"({"timestamp":"2026-08-20T10:00:50.000Z","provider":"anthropic","input_t)";
  Collected c = ReadAll({dir.Write("cut.jsonl", text)});
  EXPECT_EQ(c.events.size(), 6u);
  EXPECT_EQ(c.result.inputs[0].skipped_lines, 1);
  EXPECT_THAT(c.result.inputs[0].first_bad_lines, ElementsAre(7));
}

TEST(BadInputTest, HugeValuesDoNotOverflow) {
  TempDir dir;
  std::string text =
      R"({"timestamp":"2026-08-20T10:00:00Z","provider":"anthropic","model":"m","input_tokens":99999999999999999999999,"output_tokens":-5,"cache_read_tokens":1e300,"cache_write_tokens":18446744073709551615})"
      "\n";
  Collected c = ReadAll({dir.Write("huge.jsonl", text)});
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].e.tokens.output, 0);
  EXPECT_GE(c.events[0].e.tokens.input, 0);
  EXPECT_LE(c.events[0].e.tokens.total(), int64_t(4) << 50);
}

TEST(ReaderTest, LinesLongerThanAChunkAndManyChunksKeepOrderAndLineNumbers) {
  // 3 MiB of lines (several chunks), one 2.5 MiB line in the middle, two threads.
  TempDir dir;
  std::string line =
      R"({"timestamp":"2026-08-20T10:00:00Z","provider":"anthropic","model":"claude-haiku-4-5","input_tokens":1,"output_tokens":1,"cache_read_tokens":0,"cache_write_tokens":0,"request_id":"N"})";
  std::string text;
  int n = 0;
  for (; text.size() < (3u << 20); ++n) {
    if (n == 5000) {
      text +=
          R"({"timestamp":"2026-08-20T10:00:00Z","provider":"anthropic","model":"m","input_tokens":7,"output_tokens":0,"cache_read_tokens":0,"cache_write_tokens":0,"x_initiator":")" +
          std::string(5 << 19, 'x') + "\"}\n";
      continue;
    }
    text += line + "\n";
  }
  ReadOptions o;
  o.threads = 2;
  Collected c = ReadAll({dir.Write("big.jsonl", text)}, o);
  ASSERT_TRUE(c.status.ok());
  ASSERT_EQ(int(c.events.size()), n);
  for (int i = 0; i < n; ++i) ASSERT_EQ(c.events[i].e.line, i + 1);
  EXPECT_EQ(c.events[5000].e.tokens.input, 7);
  EXPECT_EQ(c.result.inputs[0].lines, n);
  EXPECT_EQ(c.result.inputs[0].bytes, int64_t(text.size()));
}

TEST(BadInputTest, TimestampsThatAreNotTimesMakeTheLineBad) {
  // One line per format whose timestamp is present but not a time: each is
  // skipped and counted, not an event dated 1970. A null timestamp is "no
  // timestamp" (time 0), as a missing one.
  TempDir dir;
  std::string text;
  // 1: token-usage, "yesterday"
  text +=
      R"({"timestamp":"yesterday","provider":"anthropic","model":"m","input_tokens":1,"output_tokens":2})"
      "\n";
  // 2: tokmeter span, year 9999 (outside 1900-2200)
  text +=
      R"({"type":"span","timestamp":"9999-12-31T23:59:59Z","trace_id":"0123456789abcdef0123456789abcdef","span_id":"0000000000000001","kind":"llm","name":"m","input_tokens":7,"output_tokens":3})"
      "\n";
  // 3: tokmeter span, a number
  text +=
      R"({"type":"span","timestamp":1790000000,"trace_id":"0123456789abcdef0123456789abcdef","span_id":"0000000000000002","kind":"llm","name":"m","input_tokens":7,"output_tokens":3})"
      "\n";
  // 4: good token-usage line, 1 + 2 tokens
  text +=
      R"({"timestamp":"2026-08-20T10:00:00Z","provider":"anthropic","model":"m","input_tokens":1,"output_tokens":2})"
      "\n";
  // 5: token-usage with a null timestamp: kept, time 0, 4 + 5 tokens
  text +=
      R"({"timestamp":null,"provider":"anthropic","model":"m","input_tokens":4,"output_tokens":5})"
      "\n";
  Collected c = ReadAll({dir.Write("times.jsonl", text)});
  ASSERT_TRUE(c.status.ok());
  const InputSummary& s = c.result.inputs[0];
  EXPECT_EQ(s.skipped_lines, 3);
  EXPECT_THAT(s.first_bad_lines, ElementsAre(1, 2, 3));
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.totals.total(), 3 + 9);
  EXPECT_EQ(c.events[0].e.time_unix_ns, 1787220000'000'000'000);  // 2026-08-20T10:00:00Z
  EXPECT_EQ(c.events[1].e.time_unix_ns, 0);
}

TEST(ReaderTest, TimeParsing) {
  int64_t t = 0;
  using reader_internal::ParseTime;
  ASSERT_TRUE(ParseTime("1970-01-01T00:00:00Z", &t));
  EXPECT_EQ(t, 0);
  ASSERT_TRUE(ParseTime("2025-11-23T09:00:01.250000000Z", &t));
  // 2025-11-23 = day 20415 since epoch; 20415*86400 + 9*3600 + 1 = 1763888401
  EXPECT_EQ(t, 1763888401'250'000'000);
  ASSERT_TRUE(ParseTime("2025-11-23T10:00:01.25+01:00", &t));
  EXPECT_EQ(t, 1763888401'250'000'000);
  EXPECT_FALSE(ParseTime("2026-11-23", &t));
  EXPECT_FALSE(ParseTime("2026-13-23T09:00:01Z", &t));
  EXPECT_FALSE(ParseTime("2026-11-23T09:00:01Zjunk", &t));
}

}  // namespace
}  // namespace tokmeter::analysis
