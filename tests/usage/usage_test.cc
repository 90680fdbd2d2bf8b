// Usage extraction: every provider's bodies and streams, every provider
// pitfall that touches extraction, streams cut and split at every byte,
// rate-limit headers, and RecordUsage onto a span.
#include "tokmeter/usage.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/usage/usage_test_data.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

using testdata::kAnthropicBody;
using testdata::kAnthropicStream;
using testdata::kChatBody;
using testdata::kChatStream;
using testdata::kGeminiBody;
using testdata::kGeminiStream;
using testdata::kResponsesBody;
using testdata::kResponsesStream;

ParsedUsage Body(std::string_view body, Provider hint = Provider::kUnknown) {
  absl::StatusOr<ParsedUsage> u = ParseUsageBody(body, hint);
  EXPECT_TRUE(u.ok()) << u.status();
  return u.ok() ? *u : ParsedUsage{};
}

void ExpectUsage(const TokenBuckets& u, int64_t input, int64_t read, int64_t w5, int64_t w1h,
                 int64_t output, int64_t reasoning) {
  EXPECT_EQ(u.input, input);
  EXPECT_EQ(u.cache_read, read);
  EXPECT_EQ(u.cache_write_5m, w5);
  EXPECT_EQ(u.cache_write_1h, w1h);
  EXPECT_EQ(u.output, output);
  EXPECT_EQ(u.reasoning, reasoning);
}

bool SameUsage(const TokenBuckets& a, const TokenBuckets& b) {
  return a.input == b.input && a.cache_read == b.cache_read &&
         a.cache_write_5m == b.cache_write_5m && a.cache_write_1h == b.cache_write_1h &&
         a.output == b.output && a.reasoning == b.reasoning;
}

// ---------------------------------------------------------------- Anthropic

TEST(AnthropicTest, Body) {
  ParsedUsage u = Body(kAnthropicBody);
  EXPECT_EQ(u.provider, Provider::kAnthropic);
  EXPECT_TRUE(u.found);
  EXPECT_FALSE(u.partial);
  EXPECT_FALSE(u.streaming);
  EXPECT_FALSE(u.ttl_unknown);
  // input_tokens 12 is already exclusive; cache read 40000; the 1500 write is
  // all 1h (split 0 + 1500); output 230 includes thinking 90.
  ExpectUsage(u.usage, 12, 40000, 0, 1500, 230, 90);
  EXPECT_EQ(u.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(u.response_id, "msg_01Example");
  EXPECT_EQ(u.stop_reason, "end_turn");
  EXPECT_EQ(u.raw.input_tokens, 12);
  EXPECT_EQ(u.raw.cache_creation_input_tokens, 1500);
  EXPECT_EQ(u.raw.ephemeral_5m_input_tokens, 0);
  EXPECT_EQ(u.raw.ephemeral_1h_input_tokens, 1500);
  EXPECT_EQ(u.raw.thinking_tokens, 90);
  EXPECT_EQ(u.raw.web_search_requests, 0);
  EXPECT_EQ(u.raw.service_tier, "standard");
  EXPECT_EQ(u.anomalies, 0);
}

TEST(AnthropicTest, StreamOutputIs57Not58) {
  ParsedUsage u = ParseUsageStream(kAnthropicStream);
  EXPECT_EQ(u.provider, Provider::kAnthropic);
  EXPECT_TRUE(u.streaming);
  EXPECT_FALSE(u.partial);
  // input 8, cache write 300 (5m), cache read 20000; output is the last
  // message_delta's 57, not 1 + 57.
  ExpectUsage(u.usage, 8, 20000, 300, 0, 57, 0);
  EXPECT_EQ(u.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(u.response_id, "msg_01S");
  EXPECT_EQ(u.stop_reason, "end_turn");
  EXPECT_EQ(u.events, 7);
  EXPECT_EQ(u.bad_payloads, 0);
  EXPECT_EQ(u.anomalies, 0);
}

// Pitfall 3 (and 4, the same rule in transcripts): cumulative counts are
// replaced, never added; fields a delta repeats overwrite message_start's.
TEST(AnthropicTest, CumulativeDeltasReplace) {
  std::string s =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_c","model":"claude-opus-4-6","usage":{"input_tokens":5,"cache_creation_input_tokens":null,"cache_read_input_tokens":100,"output_tokens":2}}})"
      "\n\n"
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{},"usage":{"output_tokens":10}})"
      "\n\n"
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"input_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":40,"output_tokens":75,"output_tokens_details":{"thinking_tokens":30},"server_tool_use":{"web_search_requests":2}}})"
      "\n\n"
      "event: message_stop\n"
      "data: {\"type\":\"message_stop\"}\n\n";
  ParsedUsage u = ParseUsageStream(s);
  // input 5 (not 10), read 100 (not 200), write 40 with no TTL split -> 5m,
  // output 75 (not 2+10+75), thinking 30 from the final delta.
  ExpectUsage(u.usage, 5, 100, 40, 0, 75, 30);
  EXPECT_TRUE(u.ttl_unknown);
  EXPECT_EQ(u.raw.web_search_requests, 2);
  EXPECT_EQ(u.stop_reason, "tool_use");
  EXPECT_FALSE(u.partial);
  EXPECT_EQ(u.anomalies, 0);
}

TEST(AnthropicTest, ErrorEventMidStreamIsPartialWithWhatWasKnown) {
  std::string s(kAnthropicStream.substr(0, kAnthropicStream.find("event: content_block_stop")));
  s += "event: error\n"
       R"(data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"
       "\n\n";
  ParsedUsage u = ParseUsageStream(s);
  EXPECT_TRUE(u.partial);
  ASSERT_TRUE(u.error.has_value());
  EXPECT_EQ(u.error->type, "overloaded_error");
  EXPECT_TRUE(u.error->overloaded);
  EXPECT_TRUE(u.error->retryable);
  EXPECT_FALSE(u.error->rate_limited);
  // message_start's values, with its placeholder output of 1.
  ExpectUsage(u.usage, 8, 20000, 300, 0, 1, 0);
}

TEST(AnthropicTest, NewEventTypesAndCommentsAreIgnored) {
  std::string s =
      ": keep-alive comment\n\n"
      "event: some_future_event\n"
      "data: {\"type\":\"some_future_event\",\"usage\":{\"weird\":1}}\n\n";
  s += kAnthropicStream;
  ParsedUsage u = ParseUsageStream(s);
  ExpectUsage(u.usage, 8, 20000, 300, 0, 57, 0);
  EXPECT_FALSE(u.partial);
}

TEST(AnthropicTest, CrlfLineEnds) {
  std::string s;
  for (char c : kAnthropicStream) {
    if (c == '\n') s += '\r';
    s += c;
  }
  ParsedUsage u = ParseUsageStream(s);
  ExpectUsage(u.usage, 8, 20000, 300, 0, 57, 0);
  EXPECT_FALSE(u.partial);
  EXPECT_EQ(u.model, "claude-sonnet-4-5-20250929");
}

TEST(AnthropicTest, StreamWithoutEventLines) {
  // Some proxies forward only the data lines.
  std::string s;
  size_t pos = 0;
  while (pos < kAnthropicStream.size()) {
    size_t nl = kAnthropicStream.find('\n', pos);
    std::string_view line = kAnthropicStream.substr(pos, nl - pos);
    if (!line.starts_with("event:")) {
      s += line;
      s += '\n';
    }
    pos = nl + 1;
  }
  ParsedUsage u = ParseUsageStream(s);
  ExpectUsage(u.usage, 8, 20000, 300, 0, 57, 0);
  EXPECT_FALSE(u.partial);
}

TEST(AnthropicTest, MultiLineData) {
  std::string s =
      "event: message_start\n"
      "data: {\"type\":\"message_start\",\n"
      "data: "
      "\"message\":{\"id\":\"msg_m\",\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_"
      "tokens\":1}}}\n\n"
      "event: message_delta\n"
      "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  ParsedUsage u = ParseUsageStream(s);
  ExpectUsage(u.usage, 3, 0, 0, 0, 9, 0);
  EXPECT_FALSE(u.partial);
}

// -------------------------------------------------------------- OpenAI chat

TEST(OpenAIChatTest, Body) {
  ParsedUsage u = Body(kChatBody);
  EXPECT_EQ(u.provider, Provider::kOpenAIChat);
  // prompt 3100 includes cached 2944: uncached 3100 - 2944 = 156; output 420
  // already holds reasoning 256.
  ExpectUsage(u.usage, 156, 2944, 0, 0, 420, 256);
  EXPECT_EQ(u.raw.prompt_tokens, 3100);
  EXPECT_EQ(u.raw.cached_tokens, 2944);
  EXPECT_EQ(u.raw.completion_tokens, 420);
  EXPECT_EQ(u.raw.total_tokens, 3520);
  EXPECT_EQ(u.model, "gpt-4.1-2025-04-14");
  EXPECT_EQ(u.response_id, "chatcmpl-Example");
  EXPECT_EQ(u.stop_reason, "stop");
  EXPECT_FALSE(u.partial);
  EXPECT_EQ(u.anomalies, 0);
}

TEST(OpenAIChatTest, StreamUsageOnceBeforeDone) {
  ParsedUsage u = ParseUsageStream(kChatStream);
  EXPECT_EQ(u.provider, Provider::kOpenAIChat);
  // 50 prompt, 0 cached -> 50 uncached; 2 out. Taken once, not summed.
  ExpectUsage(u.usage, 50, 0, 0, 0, 2, 0);
  EXPECT_FALSE(u.partial);
  EXPECT_EQ(u.response_id, "chatcmpl-S");
  EXPECT_EQ(u.stop_reason, "stop");
}

TEST(OpenAIChatTest, StreamWithoutIncludeUsage) {
  std::string s(kChatStream.substr(
      0, kChatStream.find("data: "
                          "{\"id\":\"chatcmpl-S\",\"object\":\"chat.completion.chunk\",\"created\":"
                          "1760000000,\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[]")));
  s += "data: [DONE]\n\n";
  ParsedUsage u = ParseUsageStream(s);
  EXPECT_FALSE(u.found);
  EXPECT_FALSE(u.partial);
  EXPECT_EQ(u.model, "gpt-4.1-2025-04-14");
  ExpectUsage(u.usage, 0, 0, 0, 0, 0, 0);
}

TEST(OpenAIChatTest, StreamWithoutDoneIsPartial) {
  std::string s(kChatStream.substr(0, kChatStream.find("data: [DONE]")));
  ParsedUsage u = ParseUsageStream(s);
  EXPECT_TRUE(u.partial);
  EXPECT_TRUE(u.found);
  ExpectUsage(u.usage, 50, 0, 0, 0, 2, 0);
}

TEST(OpenAIChatTest, ErrorChunkInStream) {
  std::string s =
      R"(data: {"error":{"message":"Rate limit reached for gpt-4.1 on tokens per min (TPM). Please try again in 1.2s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}})"
      "\n\n";
  ParsedUsage u = ParseUsageStream(s);
  ASSERT_TRUE(u.error.has_value());
  EXPECT_TRUE(u.error->rate_limited);
  EXPECT_EQ(u.error->code, "rate_limit_exceeded");
  EXPECT_TRUE(u.partial);
}

// --------------------------------------------------------- OpenAI Responses

TEST(OpenAIResponsesTest, Body) {
  ParsedUsage u = Body(kResponsesBody);
  EXPECT_EQ(u.provider, Provider::kOpenAIResponses);
  // input_tokens 12000 INCLUDES cached 11264: 12000 - 11264 = 736.
  ExpectUsage(u.usage, 736, 11264, 0, 0, 900, 640);
  EXPECT_EQ(u.raw.input_tokens, 12000);
  EXPECT_EQ(u.response_id, "resp_Example");
  EXPECT_EQ(u.stop_reason, "completed");
  EXPECT_EQ(u.anomalies, 0);
}

TEST(OpenAIResponsesTest, Stream) {
  ParsedUsage u = ParseUsageStream(kResponsesStream);
  EXPECT_EQ(u.provider, Provider::kOpenAIResponses);
  // 5000 - 4096 = 904 uncached; output 300 with reasoning 200 inside.
  ExpectUsage(u.usage, 904, 4096, 0, 0, 300, 200);
  EXPECT_FALSE(u.partial);
  EXPECT_EQ(u.model, "gpt-5-2025-08-07");
  EXPECT_EQ(u.response_id, "resp_S");
  EXPECT_EQ(u.events, 3);
}

TEST(OpenAIResponsesTest, FailedWithRateLimitAfter200) {
  std::string s =
      "event: response.failed\n"
      R"(data: {"type":"response.failed","sequence_number":3,"response":{"id":"resp_F","object":"response","status":"failed","model":"gpt-5","error":{"code":"rate_limit_exceeded","message":"Rate limit reached"},"usage":null}})"
      "\n\n";
  ParsedUsage u = ParseUsageStream(s);
  ASSERT_TRUE(u.error.has_value());
  EXPECT_TRUE(u.error->rate_limited);
  EXPECT_FALSE(u.partial);  // a terminal event
  EXPECT_FALSE(u.found);
}

// ------------------------------------------------------------------- Gemini

TEST(GeminiTest, Body) {
  ParsedUsage u = Body(kGeminiBody);
  EXPECT_EQ(u.provider, Provider::kGemini);
  // 9000 - 8192 = 808 uncached; output 120 + 480 thoughts = 600, reasoning 480.
  ExpectUsage(u.usage, 808, 8192, 0, 0, 600, 480);
  EXPECT_EQ(u.model, "gemini-2.5-pro");
  EXPECT_EQ(u.raw.thoughts_token_count, 480);
  EXPECT_EQ(u.raw.candidates_token_count, 120);
  EXPECT_EQ(u.stop_reason, "STOP");
  EXPECT_EQ(u.anomalies, 0);  // 9000 + 120 + 480 = 9600 = totalTokenCount
}

TEST(GeminiTest, StreamLastChunkWins) {
  ParsedUsage u = ParseUsageStream(kGeminiStream);
  // Chunk usages are running totals: the last one (candidates 120), not 3 + 120.
  ExpectUsage(u.usage, 808, 8192, 0, 0, 600, 480);
  EXPECT_FALSE(u.partial);
  EXPECT_EQ(u.response_id, "gem-1");
}

TEST(GeminiTest, ArrayBodyOfChunks) {
  std::string s = "[";
  s +=
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":1},"modelVersion":"gemini-2.5-flash"},)";
  s +=
      R"({"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":4,"totalTokenCount":14},"modelVersion":"gemini-2.5-flash"}])";
  ParsedUsage u = Body(s);
  ExpectUsage(u.usage, 10, 0, 0, 0, 4, 0);
}

TEST(GeminiTest, ToolUsePromptIsUncachedInput) {
  ParsedUsage u = Body(
      R"({"modelVersion":"gemini-2.5-pro","usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":40,"toolUsePromptTokenCount":25,"candidatesTokenCount":7,"totalTokenCount":132}})");
  // 100 - 40 + 25 = 85 uncached; 100 + 25 + 7 = 132 = total.
  ExpectUsage(u.usage, 85, 40, 0, 0, 7, 0);
  EXPECT_EQ(u.anomalies, 0);
}

// ------------------------------------------------------------- Pitfalls 1-13

// Pitfall 1: the same field name, opposite cache semantics.
// ------------------------------------------ cache writes and iterations
// OpenAI models that write the prompt cache report the writes inside the
// prompt count; Anthropic requests with server-side iterations (compaction)
// are billed the sum of usage.iterations[].

TEST(CacheWriteTest, ChatPromptIncludesCacheWrites) {
  // 4,020 prompt tokens of which 4,012 were written to the cache: 8 uncached.
  ParsedUsage u =
      Body(R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-5.6","choices":[],)"
           R"("usage":{"prompt_tokens":4020,"completion_tokens":30,"total_tokens":4050,)"
           R"("prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":4012}}})");
  EXPECT_EQ(u.provider, Provider::kOpenAIChat);
  ExpectUsage(u.usage, 8, 0, 4012, 0, 30, 0);
  EXPECT_EQ(u.anomalies, 0);
  EXPECT_EQ(u.usage.total(), 4050);  // what the response's total_tokens says
}

TEST(CacheWriteTest, ResponsesInputIncludesCachedAndWritten) {
  // 1000 input = 400 cached + 100 written + 500 uncached.
  ParsedUsage u = Body(
      R"({"id":"resp_1","object":"response","status":"completed","model":"gpt-5.6","output":[],)"
      R"("usage":{"input_tokens":1000,"input_tokens_details":{"cached_tokens":400,)"
      R"("cache_write_tokens":100},"output_tokens":50,"output_tokens_details":)"
      R"({"reasoning_tokens":20},"total_tokens":1050}})");
  ExpectUsage(u.usage, 500, 400, 100, 0, 50, 20);
}

TEST(CacheWriteTest, ResponsesStreamTerminalEvent) {
  ParsedUsage u = ParseUsageStream(
      "event: response.completed\n"
      R"(data: {"type":"response.completed","response":{"id":"resp_2","status":"completed",)"
      R"("model":"gpt-5.6","usage":{"input_tokens":3000,"input_tokens_details":{)"
      R"("cached_tokens":2000,"cache_write_tokens":900},"output_tokens":40,"total_tokens":3040}}})"
      "\n\n");
  // 3000 - 2000 cached - 900 written = 100 uncached.
  ExpectUsage(u.usage, 100, 2000, 900, 0, 40, 0);
  EXPECT_FALSE(u.partial);
}

TEST(CacheWriteTest, WritesBeyondThePromptAreClampedAndCounted) {
  // cached 600 + written 600 > prompt 1000: the written part is cut to 400.
  ParsedUsage u = Body(R"({"object":"chat.completion","choices":[],"usage":{"prompt_tokens":1000,)"
                       R"("completion_tokens":1,"prompt_tokens_details":{"cached_tokens":600,)"
                       R"("cache_write_tokens":600}}})");
  ExpectUsage(u.usage, 0, 600, 400, 0, 1, 0);
  EXPECT_TRUE(u.has_anomaly(kAnomalyCachedOverPrompt));
}

// A compacting request: two iterations. The top level repeats the last one.
//   iteration 0 (compaction): in 180, cache read 9000, write 0,   out 400
//   iteration 1 (message):    in 25,  cache read 0,    write 700 (1h), out 60
//   billed: in 205, read 9000, write 700 (1h), out 460
constexpr char kIterationsBody[] =
    R"({"id":"msg_c","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],)"
    R"("stop_reason":"end_turn","usage":{"input_tokens":25,"cache_creation_input_tokens":700,)"
    R"("cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,)"
    R"("ephemeral_1h_input_tokens":700},"output_tokens":60,"iterations":[)"
    R"({"type":"compaction","input_tokens":180,"cache_read_input_tokens":9000,)"
    R"("cache_creation_input_tokens":0,"output_tokens":400},)"
    R"({"type":"message","input_tokens":25,"cache_read_input_tokens":0,)"
    R"("cache_creation_input_tokens":700,"cache_creation":{"ephemeral_5m_input_tokens":0,)"
    R"("ephemeral_1h_input_tokens":700},"output_tokens":60}]}})";

TEST(IterationsTest, BodyIsBilledTheSumOfItsIterations) {
  ParsedUsage u = Body(kIterationsBody);
  ExpectUsage(u.usage, 205, 9000, 0, 700, 460, 0);
  EXPECT_EQ(u.raw.iterations.count, 2);
}

TEST(IterationsTest, EmptyIterationsChangeNothing) {
  ParsedUsage u = Body(
      R"({"type":"message","model":"claude-sonnet-4-6","content":[],"usage":{"input_tokens":3,)"
      R"("cache_read_input_tokens":100,"output_tokens":9,"iterations":[]}})");
  ExpectUsage(u.usage, 3, 100, 0, 0, 9, 0);
}

TEST(IterationsTest, StreamFinalDeltaCarriesTheIterations) {
  // message_start: the placeholder; the last message_delta's usage (with its
  // iterations) replaces it: the billed sum, as for the body.
  ParsedUsage u = ParseUsageStream(
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_s","model":"claude-sonnet-4-6",)"
      R"("usage":{"input_tokens":25,"cache_read_input_tokens":0,"output_tokens":1}}})"
      "\n\nevent: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{)"
      R"("output_tokens":60,"iterations":[{"input_tokens":180,"cache_read_input_tokens":9000,)"
      R"("output_tokens":400},{"input_tokens":25,"cache_creation_input_tokens":700,)"
      R"("output_tokens":60}]}})"
      "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  // No TTL split in the iterations: the 700 written count as 5m, flagged.
  ExpectUsage(u.usage, 205, 9000, 700, 0, 460, 0);
  EXPECT_TRUE(u.ttl_unknown);
  EXPECT_FALSE(u.partial);
}

TEST(PitfallTest, P1InputTokensMeansDifferentThingsPerProvider) {
  ParsedUsage a = Body(
      R"({"type":"message","id":"msg_x","usage":{"input_tokens":1000,"cache_read_input_tokens":800,"output_tokens":5}})");
  ParsedUsage r = Body(
      R"({"object":"response","id":"resp_x","usage":{"input_tokens":1000,"input_tokens_details":{"cached_tokens":800},"output_tokens":5}})");
  EXPECT_EQ(a.usage.input, 1000);  // Anthropic: exclusive, prompt = 1800
  EXPECT_EQ(r.usage.input, 200);   // Responses: inclusive, prompt = 1000
  EXPECT_EQ(a.usage.cache_read, 800);
  EXPECT_EQ(r.usage.cache_read, 800);
  EXPECT_EQ(a.raw.input_tokens, 1000);  // raw values kept as sent
  EXPECT_EQ(r.raw.input_tokens, 1000);
}

// Pitfall 2: reasoning inside output (OpenAI), outside candidates (Gemini).
TEST(PitfallTest, P2ReasoningInsideVsOutsideOutput) {
  ParsedUsage o = Body(
      R"({"object":"chat.completion","usage":{"prompt_tokens":10,"completion_tokens":100,"completion_tokens_details":{"reasoning_tokens":60}}})");
  ParsedUsage g = Body(
      R"({"modelVersion":"g","usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":100,"thoughtsTokenCount":60}})");
  EXPECT_EQ(o.usage.output, 100);  // 60 already inside
  EXPECT_EQ(g.usage.output, 160);  // 100 + 60
  EXPECT_EQ(o.usage.reasoning, 60);
  EXPECT_EQ(g.usage.reasoning, 60);
}

// Pitfall 3 for Responses: usage once, in the terminal event, even if an
// earlier lifecycle event carried a (partial) usage object.
TEST(PitfallTest, P3ResponsesTerminalUsageReplaces) {
  std::string s =
      "event: response.in_progress\n"
      R"(data: {"type":"response.in_progress","response":{"id":"resp_1","model":"gpt-5","usage":{"input_tokens":100,"output_tokens":1}}})"
      "\n\n"
      "event: response.completed\n"
      R"(data: {"type":"response.completed","response":{"id":"resp_1","model":"gpt-5","usage":{"input_tokens":100,"output_tokens":50}}})"
      "\n\n";
  ParsedUsage u = ParseUsageStream(s);
  EXPECT_EQ(u.usage.output, 50);
  EXPECT_EQ(u.usage.input, 100);
}

// Pitfall 4: several snapshots of one message, only the last is final (the
// extraction-side rule is the same cumulative replace as pitfall 3): feeding
// snapshots of one message through one parser never adds them up.
TEST(PitfallTest, P4SnapshotsOfOneMessageDoNotAdd) {
  std::string s;
  for (int out : {3, 3, 41}) {
    s += "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":6,"
         "\"cache_read_input_tokens\":48211,\"output_tokens\":" +
         std::to_string(out) + "}}\n\n";
  }
  ParsedUsage u = ParseUsageStream(s);
  ExpectUsage(u.usage, 6, 48211, 0, 0, 41, 0);
}

// Pitfall 5: no request id (third-party endpoints): the response id is still
// there to deduplicate by, and x-request-id is used when present.
TEST(PitfallTest, P5MissingRequestIdKeepsResponseId) {
  ParsedUsage u = Body(kAnthropicBody);
  ApplyHttpResponse(u, 200, {});
  EXPECT_EQ(u.request_id, "");
  EXPECT_EQ(u.response_id, "msg_01Example");
  std::vector<HeaderView> h = {{"X-Request-Id", "req_abc123"}};
  ParsedUsage c = Body(kChatBody);
  ApplyHttpResponse(c, 200, h);
  EXPECT_EQ(c.request_id, "req_abc123");
}

// Pitfall 6: duplicates are found by id, so parsing must be deterministic:
// the same response gives the same ids and the same buckets.
TEST(PitfallTest, P6SameResponseSameIdentity) {
  ParsedUsage a = Body(kResponsesBody);
  std::string one_line(kResponsesBody);
  std::erase(one_line, '\n');  // an SSE data line holds no line end
  ParsedUsage b = ParseUsageStream(
      "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":" + one_line +
      "}\n\n");
  EXPECT_EQ(a.response_id, b.response_id);
  EXPECT_TRUE(SameUsage(a.usage, b.usage));
}

// Pitfall 7: malformed and partial lines are skipped and counted; an
// unfinished line is kept for the next Feed, not dropped.
TEST(PitfallTest, P7MalformedAndPartialLines) {
  UsageStreamParser p;
  p.Feed("\n\n:comment\nnot a field line\n\n");
  p.Feed("data: this is not json\n\n");
  p.Feed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",");
  p.Feed("\"model\":\"x\",\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\n");
  p.Feed("event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tok");
  ParsedUsage u = p.Finish();  // cut inside the last payload
  EXPECT_EQ(u.bad_payloads, 2);
  EXPECT_TRUE(u.partial);
  ExpectUsage(u.usage, 4, 0, 0, 0, 1, 0);
  EXPECT_FALSE(ParseUsageBody("{\"usage\":").ok());
  EXPECT_FALSE(ParseUsageBody("").ok());
}

// Pitfall 8: null or absent cache fields are 0; the record is not skipped.
TEST(PitfallTest, P8NullsAreZero) {
  ParsedUsage u = Body(
      R"({"type":"message","id":"msg_n","model":"claude-haiku-4-5","usage":{"input_tokens":7,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"cache_creation":null,"output_tokens":3,"output_tokens_details":null}})");
  EXPECT_TRUE(u.found);
  ExpectUsage(u.usage, 7, 0, 0, 0, 3, 0);
  EXPECT_FALSE(u.raw.cache_read_input_tokens.has_value());
  EXPECT_FALSE(u.ttl_unknown);
  ParsedUsage c = Body(
      R"({"object":"chat.completion","usage":{"prompt_tokens":9,"completion_tokens":null,"prompt_tokens_details":null}})");
  ExpectUsage(c.usage, 9, 0, 0, 0, 0, 0);
}

// Pitfall 9: no 5m/1h split: counted as 5m and flagged as a cost uncertainty.
TEST(PitfallTest, P9TtlSplitMissing) {
  ParsedUsage u = Body(
      R"({"type":"message","usage":{"input_tokens":1,"cache_creation_input_tokens":1733,"output_tokens":2}})");
  ExpectUsage(u.usage, 1, 0, 1733, 0, 2, 0);
  EXPECT_TRUE(u.ttl_unknown);
  ParsedUsage split = Body(kAnthropicBody);
  EXPECT_FALSE(split.ttl_unknown);
}

// Pitfall 10: model names are kept verbatim (aliasing is the pricing
// table's job), whatever their shape.
TEST(PitfallTest, P10ModelNamesKeptVerbatim) {
  for (std::string model : {"us.anthropic.claude-opus-4-6-v1", "claude-opus-4-1@20250805",
                            "anthropic/claude-sonnet-4-5", "<synthetic>", "claude-opus-4-6-fast"}) {
    ParsedUsage u = Body(R"({"type":"message","model":")" + model +
                         R"(","usage":{"input_tokens":1,"output_tokens":1}})");
    EXPECT_EQ(u.model, model);
  }
}

// Pitfall 11: the whole-request long-context rule needs the full prompt size,
// which the disjoint buckets give exactly (input + read + write), for every
// provider.
TEST(PitfallTest, P11PromptSizeFromBuckets) {
  ParsedUsage a = Body(
      R"({"type":"message","usage":{"input_tokens":1000,"cache_creation_input_tokens":50000,"cache_read_input_tokens":160000,"output_tokens":10}})");
  const TokenBuckets& u = a.usage;
  EXPECT_EQ(u.input + u.cache_read + u.cache_write_5m + u.cache_write_1h, 211000);
  ParsedUsage c = Body(
      R"({"object":"chat.completion","usage":{"prompt_tokens":211000,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":160000}}})");
  EXPECT_EQ(c.usage.input + c.usage.cache_read, 211000);
}

// Pitfall 12: reset times are absolute UTC instants whatever the offset.
TEST(PitfallTest, P12ResetTimeZones) {
  absl::Time now = absl::FromUnixSeconds(1787221316);  // 2026-08-20T10:21:56Z
  std::vector<HeaderView> z = {{"anthropic-ratelimit-tokens-reset", "2026-08-20T10:22:13Z"}};
  std::vector<HeaderView> plus2 = {
      {"anthropic-ratelimit-tokens-reset", "2026-08-20T12:22:13+02:00"}};
  RateLimitInfo a = ParseRateLimit(200, z, now);
  RateLimitInfo b = ParseRateLimit(200, plus2, now);
  ASSERT_NE(a.window("tokens"), nullptr);
  ASSERT_NE(b.window("tokens"), nullptr);
  EXPECT_EQ(a.window("tokens")->reset_unix_ms, int64_t{1787221333} * 1000);
  EXPECT_EQ(b.window("tokens")->reset_unix_ms, a.window("tokens")->reset_unix_ms);
  EXPECT_EQ(b.window("tokens")->reset_after_ms, 17000);
}

// Pitfall 13: RFC 3339 resets, Go-duration resets, retry-after both ways.
TEST(PitfallTest, P13RateLimitResetFormats) {
  absl::Time now = absl::FromUnixSeconds(1787221316);
  EXPECT_EQ(ParseGoDurationMs("6m0s"), 360000);
  EXPECT_EQ(ParseGoDurationMs("1.2s"), 1200);
  EXPECT_EQ(ParseGoDurationMs("20ms"), 20);
  EXPECT_EQ(ParseGoDurationMs("1h2m3.5s"), 3723500);
  EXPECT_EQ(ParseGoDurationMs("500us"), 1);  // rounded up
  EXPECT_EQ(ParseGoDurationMs("0"), 0);
  EXPECT_EQ(ParseGoDurationMs("1s"), 1000);
  EXPECT_EQ(ParseGoDurationMs(""), std::nullopt);
  EXPECT_EQ(ParseGoDurationMs("abc"), std::nullopt);
  EXPECT_EQ(ParseGoDurationMs("1x"), std::nullopt);
  EXPECT_EQ(ParseGoDurationMs("-1s"), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("17", now), 17000);
  EXPECT_EQ(ParseRetryAfterMs("0.5", now), 500);
  EXPECT_EQ(ParseRetryAfterMs("Thu, 20 Aug 2026 10:22:00 GMT", now), 4000);
  EXPECT_EQ(ParseRetryAfterMs("Thu, 20 Aug 2026 10:00:00 GMT", now), 0);  // past: no wait
  EXPECT_EQ(ParseRetryAfterMs("soon", now), std::nullopt);
}

// ---------------------------------------------------------------- Anomalies

TEST(AnomalyTest, ReasoningOverOutputIsClampedAndCounted) {
  ParsedUsage u = Body(
      R"({"object":"chat.completion","usage":{"prompt_tokens":10,"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":9}}})");
  EXPECT_TRUE(u.has_anomaly(kAnomalyReasoningOverOutput));
  EXPECT_EQ(u.anomalies, 1);
  EXPECT_EQ(u.usage.reasoning, 5);
  EXPECT_EQ(u.raw.reasoning_tokens, 9);
}

TEST(AnomalyTest, CachedOverPromptIsClampedAndCounted) {
  ParsedUsage u = Body(
      R"({"object":"chat.completion","usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":150}}})");
  EXPECT_TRUE(u.has_anomaly(kAnomalyCachedOverPrompt));
  EXPECT_EQ(u.usage.input, 0);
  EXPECT_EQ(u.usage.cache_read, 100);
  ParsedUsage g = Body(
      R"({"modelVersion":"g","usageMetadata":{"promptTokenCount":10,"cachedContentTokenCount":11,"candidatesTokenCount":1}})");
  EXPECT_TRUE(g.has_anomaly(kAnomalyCachedOverPrompt));
  EXPECT_EQ(g.usage.input, 0);
}

TEST(AnomalyTest, NegativesAndNonIntegers) {
  ParsedUsage u = Body(
      R"({"type":"message","usage":{"input_tokens":-5,"cache_read_input_tokens":"12","output_tokens":3.5,"cache_creation_input_tokens":99999999999999999999}})");
  EXPECT_TRUE(u.has_anomaly(kAnomalyNegative));
  EXPECT_TRUE(u.has_anomaly(kAnomalyNotInteger));
  EXPECT_EQ(u.usage.input, 0);
  EXPECT_EQ(u.usage.cache_read, 0);
  EXPECT_EQ(u.usage.output, 3);
  EXPECT_GE(u.anomalies, 4);
  EXPECT_GE(u.usage.cache_write_5m, 0);
}

TEST(AnomalyTest, CacheWriteMismatchAndTotalMismatch) {
  ParsedUsage a = Body(
      R"({"type":"message","usage":{"input_tokens":1,"cache_creation_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":30,"ephemeral_1h_input_tokens":50},"output_tokens":1}})");
  EXPECT_TRUE(a.has_anomaly(kAnomalyCacheWriteMismatch));
  EXPECT_EQ(a.usage.cache_write_5m, 30);  // the split wins
  EXPECT_EQ(a.usage.cache_write_1h, 50);
  ParsedUsage g = Body(
      R"({"modelVersion":"g","usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":1,"thoughtsTokenCount":5,"totalTokenCount":11}})");
  // A total that leaves the thoughts out is the gh-aw bug (pitfall 2): flagged.
  EXPECT_TRUE(g.has_anomaly(kAnomalyTotalMismatch));
  EXPECT_EQ(g.usage.output, 6);
}

TEST(AnomalyTest, NonMonotonicCumulativeOutput) {
  std::string s =
      "event: message_delta\ndata: "
      "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":50}}\n\n"
      "event: message_delta\ndata: "
      "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":20}}\n\n";
  ParsedUsage u = ParseUsageStream(s);
  EXPECT_TRUE(u.has_anomaly(kAnomalyNonMonotonic));
  EXPECT_EQ(u.usage.output, 20);  // still replace: the provider's last word
}

// ------------------------------------------------ cuts and splits, every byte

struct StreamCase {
  const char* name;
  std::string_view stream;
  std::string_view terminal;  // the terminal payload: complete only once it is in
};

class StreamCutTest : public ::testing::TestWithParam<StreamCase> {};

TEST_P(StreamCutTest, EveryPrefixNeverExceedsTheFullResult) {
  std::string_view s = GetParam().stream;
  ParsedUsage full = ParseUsageStream(s);
  ASSERT_FALSE(full.partial);
  size_t terminal_end = s.rfind(GetParam().terminal) + GetParam().terminal.size();
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    UsageStreamParser p;
    p.Feed(s.substr(0, cut));
    ParsedUsage u = p.Finish();
    SCOPED_TRACE(cut);
    if (cut < terminal_end) EXPECT_TRUE(u.partial);
    if (!u.partial) EXPECT_TRUE(SameUsage(u.usage, full.usage));
    EXPECT_LE(u.usage.input, full.usage.input);
    EXPECT_LE(u.usage.cache_read, full.usage.cache_read);
    EXPECT_LE(u.usage.cache_write_5m, full.usage.cache_write_5m);
    EXPECT_LE(u.usage.cache_write_1h, full.usage.cache_write_1h);
    EXPECT_LE(u.usage.output, full.usage.output);
    EXPECT_LE(u.usage.reasoning, full.usage.reasoning);
    EXPECT_EQ(u.anomalies, 0);
  }
}

TEST_P(StreamCutTest, EveryTwoWaySplitGivesTheFullResult) {
  std::string_view s = GetParam().stream;
  ParsedUsage full = ParseUsageStream(s);
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    UsageStreamParser p;
    p.Feed(s.substr(0, cut));
    p.Feed(s.substr(cut));
    ParsedUsage u = p.Finish();
    SCOPED_TRACE(cut);
    EXPECT_TRUE(SameUsage(u.usage, full.usage));
    EXPECT_EQ(u.partial, full.partial);
    EXPECT_EQ(u.model, full.model);
    EXPECT_EQ(u.response_id, full.response_id);
    EXPECT_EQ(u.events, full.events);
    EXPECT_EQ(u.bad_payloads, 0);
  }
}

TEST_P(StreamCutTest, ByteAtATime) {
  std::string_view s = GetParam().stream;
  ParsedUsage full = ParseUsageStream(s);
  UsageStreamParser p;
  for (char c : s) p.Feed(std::string_view(&c, 1));
  ParsedUsage u = p.Finish();
  EXPECT_TRUE(SameUsage(u.usage, full.usage));
  EXPECT_FALSE(u.partial);
}

std::string Crlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}
const std::string kAnthropicCrlf = Crlf(kAnthropicStream);

INSTANTIATE_TEST_SUITE_P(
    Providers, StreamCutTest,
    ::testing::Values(StreamCase{"anthropic", kAnthropicStream, R"({"type":"message_stop"})"},
                      StreamCase{"anthropic_crlf", kAnthropicCrlf, R"({"type":"message_stop"})"},
                      StreamCase{"chat", kChatStream, "[DONE]"},
                      StreamCase{"responses", kResponsesStream, "\"total_tokens\":5300}}}"},
                      StreamCase{"gemini", kGeminiStream, "\"responseId\":\"gem-1\"}"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(StreamParserTest, FeedAfterFinishIsIgnored) {
  UsageStreamParser p;
  p.Feed(kChatStream);
  ParsedUsage a = p.Finish();
  p.Feed(kAnthropicStream);
  ParsedUsage b = p.Finish();
  EXPECT_TRUE(SameUsage(a.usage, b.usage));
  EXPECT_EQ(b.provider, Provider::kOpenAIChat);
}

TEST(StreamParserTest, ResultWhileStreaming) {
  UsageStreamParser p;
  size_t half = kAnthropicStream.find("event: message_delta");
  p.Feed(kAnthropicStream.substr(0, half));
  EXPECT_TRUE(p.result().partial);
  EXPECT_EQ(p.result().usage.output, 1);
  p.Feed(kAnthropicStream.substr(half));
  EXPECT_TRUE(p.complete());
  EXPECT_EQ(p.result().usage.output, 57);
}

TEST(StreamParserTest, HugeSkippedDeltaIsNotBuffered) {
  UsageStreamParser p;
  p.Feed(kAnthropicStream.substr(0, kAnthropicStream.find("event: content_block_delta")));
  p.Feed(
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"");
  std::string big(1 << 20, 'x');
  for (int i = 0; i < 8; ++i) p.Feed(big);
  p.Feed("\"}}\n\n");
  p.Feed(kAnthropicStream.substr(kAnthropicStream.find("event: content_block_stop")));
  ParsedUsage u = p.Finish();
  EXPECT_EQ(u.usage.output, 57);
  EXPECT_FALSE(u.partial);
}

// -------------------------------------------------------- errors and limits

TEST(RateLimitTest, AnthropicHeadersAndBody) {
  absl::Time now = absl::FromUnixSeconds(1787221316);  // 10:21:56Z
  std::vector<HeaderView> h = {
      {"retry-after", "17"},
      {"anthropic-ratelimit-input-tokens-limit", "2000000"},
      {"anthropic-ratelimit-input-tokens-remaining", "0"},
      {"anthropic-ratelimit-input-tokens-reset", "2026-08-20T10:22:13Z"},
      {"anthropic-priority-output-tokens-limit", "1000"},
      {"Request-Id", "req_011CExample"},
  };
  absl::StatusOr<ParsedUsage> u = ParseUsageBody(
      R"({"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your rate limit."},"request_id":"req_011CExample"})");
  ASSERT_TRUE(u.ok());
  ApplyHttpResponse(*u, 429, h, now);
  EXPECT_FALSE(u->found);
  ASSERT_TRUE(u->error.has_value());
  EXPECT_EQ(u->error->type, "rate_limit_error");
  EXPECT_TRUE(u->error->rate_limited);
  EXPECT_TRUE(u->error->retryable);
  EXPECT_EQ(u->request_id, "req_011CExample");
  EXPECT_EQ(u->rate_limit.status, 429);
  EXPECT_EQ(u->rate_limit.retry_after_ms, 17000);
  const RateLimitWindow* w = u->rate_limit.window("input-tokens");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->limit, 2000000);
  EXPECT_EQ(w->remaining, 0);
  EXPECT_EQ(w->reset_unix_ms, int64_t{1787221333} * 1000);
  EXPECT_EQ(w->reset_after_ms, 17000);
  ASSERT_NE(u->rate_limit.window("priority-output-tokens"), nullptr);
  EXPECT_EQ(u->rate_limit.window("priority-output-tokens")->limit, 1000);
}

TEST(RateLimitTest, OpenAIHeadersAndBody) {
  absl::Time now = absl::FromUnixSeconds(1787221316);
  std::vector<HeaderView> h = {
      {"x-ratelimit-limit-tokens", "30000"},          {"x-ratelimit-remaining-tokens", "0"},
      {"x-ratelimit-reset-tokens", "1.2s"},           {"x-ratelimit-limit-requests", "500"},
      {"x-ratelimit-remaining-requests", "499"},      {"x-ratelimit-reset-requests", "6m0s"},
      {"x-ratelimit-remaining-project-tokens", "10"}, {"x-request-id", "req_abc123"},
  };
  RateLimitInfo info = ParseRateLimit(429, h, now);
  const RateLimitWindow* t = info.window("tokens");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->limit, 30000);
  EXPECT_EQ(t->remaining, 0);
  EXPECT_EQ(t->reset_after_ms, 1200);
  EXPECT_EQ(t->reset_unix_ms, int64_t{1787221316} * 1000 + 1200);
  EXPECT_EQ(info.window("requests")->reset_after_ms, 360000);
  EXPECT_EQ(info.window("project-tokens")->remaining, 10);
  EXPECT_FALSE(info.retry_after_ms.has_value());

  std::optional<ApiError> e = ParseErrorBody(
      R"({"error":{"message":"Rate limit reached for gpt-4.1 on tokens per min (TPM). Please try again in 1.2s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->rate_limited);
  EXPECT_TRUE(e->retryable);
  EXPECT_EQ(e->type, "tokens");
}

TEST(RateLimitTest, QuotaIsNotRetryable) {
  std::optional<ApiError> e = ParseErrorBody(
      R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->quota_exhausted);
  EXPECT_FALSE(e->retryable);
  EXPECT_FALSE(e->rate_limited);
}

TEST(RateLimitTest, OverloadedAndGeminiAndStatusOnly) {
  std::optional<ApiError> o = ParseErrorBody(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  ASSERT_TRUE(o.has_value());
  EXPECT_TRUE(o->overloaded);
  EXPECT_FALSE(o->rate_limited);
  std::optional<ApiError> g = ParseErrorBody(
      R"({"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}})");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->rate_limited);
  EXPECT_EQ(g->code, "429");
  EXPECT_FALSE(ParseErrorBody(kChatBody).has_value());
  EXPECT_FALSE(ParseErrorBody("not json").has_value());

  ParsedUsage u;
  std::vector<HeaderView> h = {{"retry-after-ms", "250"}, {"retry-after", "3"}};
  ApplyHttpResponse(u, 529, h);
  ASSERT_TRUE(u.error.has_value());
  EXPECT_TRUE(u.error->overloaded);
  EXPECT_EQ(u.rate_limit.retry_after_ms, 250);  // the finer header wins
  ParsedUsage r;
  ApplyHttpResponse(r, 429, {});
  EXPECT_TRUE(r.error->rate_limited);
}

TEST(BodyTest, NotJsonIsInvalidArgument) {
  absl::StatusOr<ParsedUsage> u = ParseUsageBody("<html>502 Bad Gateway</html>");
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BodyTest, JsonWithoutUsage) {
  ParsedUsage u = Body(R"({"hello":"world"})");
  EXPECT_FALSE(u.found);
  EXPECT_EQ(u.provider, Provider::kUnknown);
}

TEST(BodyTest, BareUsageObjectsAreSniffed) {
  EXPECT_EQ(Body(R"({"usage":{"prompt_tokens":10,"completion_tokens":1}})").provider,
            Provider::kOpenAIChat);
  ParsedUsage r = Body(
      R"({"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":1}})");
  EXPECT_EQ(r.provider, Provider::kOpenAIResponses);
  EXPECT_EQ(r.usage.input, 6);
  EXPECT_EQ(Body(R"({"usage":{"input_tokens":10,"cache_read_input_tokens":4,"output_tokens":1}})")
                .usage.input,
            10);
}

TEST(ProviderTest, Names) {
  EXPECT_EQ(ProviderName(Provider::kAnthropic), "anthropic");
  EXPECT_EQ(ProviderName(Provider::kOpenAIResponses), "openai");
  EXPECT_EQ(ProviderApiName(Provider::kOpenAIResponses), "responses");
  EXPECT_EQ(ProviderName(Provider::kGemini), "gemini");
}

// ------------------------------------------------------------- RecordUsage

TEST(RecordUsageTest, CountersAndTagsOnTheSpan) {
  auto sink = std::make_unique<MemorySink>();
  MemorySink* mem = sink.get();
  Options opts;
  opts.sinks.push_back(std::move(sink));
  absl::StatusOr<std::unique_ptr<Runtime>> rt = Runtime::Start(std::move(opts));
  ASSERT_TRUE(rt.ok()) << rt.status();
  {
    Span llm("llm", "messages");
    ParsedUsage u = ParseUsageStream(kAnthropicStream);
    std::vector<HeaderView> h = {{"request-id", "req_1"}};
    ApplyHttpResponse(u, 200, h);
    RecordUsage(llm, u);
  }
  {
    Span llm("llm", "messages");
    ParsedUsage u = Body(kAnthropicBody);  // 1h cache write
    RecordUsage(llm, u);
  }
  {
    Span llm("llm", "chat");
    absl::StatusOr<ParsedUsage> u = ParseUsageBody(
        R"({"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}})");
    ASSERT_TRUE(u.ok());
    ApplyHttpResponse(*u, 429, {});
    RecordUsage(llm, *u);
  }
  ASSERT_TRUE((*rt)->Flush().ok());
  std::vector<OwnedSpan> spans = mem->spans();
  ASSERT_EQ(spans.size(), 3u);
  const OwnedSpan& s = spans[0];
  EXPECT_EQ(s.counters[Counter::kInputTokens], 8);
  EXPECT_EQ(s.counters[Counter::kCacheReadTokens], 20000);
  EXPECT_EQ(s.counters[Counter::kCacheWriteTokens], 300);
  EXPECT_EQ(s.counters[Counter::kCacheWrite1hTokens], 0);
  EXPECT_EQ(s.counters[Counter::kOutputTokens], 57);
  EXPECT_EQ(s.counters[Counter::kRequests], 1);
  EXPECT_FALSE(s.counters.has(Counter::kRateLimited));
  EXPECT_FALSE(s.counters.has(Counter::kErrors));
  EXPECT_EQ(s.tag("provider"), "anthropic");
  EXPECT_EQ(s.tag("model"), "claude-sonnet-4-5-20250929");
  EXPECT_EQ(s.tag("request_id"), "req_1");
  EXPECT_EQ(s.tag("status"), "200");
  EXPECT_EQ(s.tag("streaming"), "true");

  const OwnedSpan& b = spans[1];
  EXPECT_EQ(b.counters[Counter::kCacheWriteTokens], 1500);  // 0 (5m) + 1500 (1h)
  EXPECT_EQ(b.counters[Counter::kCacheWrite1hTokens], 1500);
  EXPECT_EQ(b.counters[Counter::kReasoningTokens], 90);
  EXPECT_EQ(b.tag("streaming"), "false");

  const OwnedSpan& e = spans[2];
  EXPECT_EQ(e.counters[Counter::kRequests], 1);
  EXPECT_EQ(e.counters[Counter::kRateLimited], 1);
  EXPECT_EQ(e.counters[Counter::kErrors], 1);
  EXPECT_EQ(e.tag("status"), "429");
  EXPECT_EQ(e.tag("error_type"), "requests");
  ASSERT_TRUE((*rt)->Shutdown().ok());
}

}  // namespace
}  // namespace tokmeter
