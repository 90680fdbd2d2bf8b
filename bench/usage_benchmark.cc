// Stream usage extraction throughput: large, realistic SSE streams fed in
// network-sized chunks (target: >= 500 MB/s on one core).
#include <algorithm>
#include <string>
#include <string_view>

#include "benchmark/benchmark.h"
#include "tokmeter/usage.h"

namespace {

// Text deltas of a few tokens each, as real streams have them.
std::string DeltaText(int i) {
  static constexpr std::string_view kWords[] = {"The ",
                                                "quick ",
                                                "brown ",
                                                "fox ",
                                                "jumps over ",
                                                "the lazy ",
                                                "dog, ",
                                                "and then ",
                                                "writes a function ",
                                                "that returns ",
                                                "`std::optional<int>` ",
                                                "when\\n",
                                                "nothing ",
                                                "matches. ",
                                                "Let me ",
                                                "check the ",
                                                "tests first.",
                                                " \\\"quoted\\\" "};
  std::string s;
  for (int k = 0; k < 1 + i % 3; ++k) s += kWords[(i * 7 + k * 3) % std::size(kWords)];
  return s;
}

std::string AnthropicStream(int deltas) {
  std::string s =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_01Bench","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":8,"cache_creation_input_tokens":300,"cache_read_input_tokens":20000,"cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}})"
      "\n\n"
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\n";
  for (int i = 0; i < deltas; ++i) {
    if (i % 500 == 0) s += "event: ping\ndata: {\"type\": \"ping\"}\n\n";
    s += "event: content_block_delta\n"
         R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")";
    s += DeltaText(i);
    s += "\"}}\n\n";
  }
  s +=
      "event: content_block_stop\n"
      R"(data: {"type":"content_block_stop","index":0})"
      "\n\n"
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":)" +
      std::to_string(deltas * 2) +
      "}}\n\n"
      "event: message_stop\n"
      R"(data: {"type":"message_stop"})"
      "\n\n";
  return s;
}

std::string OpenAIChatStream(int deltas) {
  std::string s;
  for (int i = 0; i < deltas; ++i) {
    s +=
        R"(data: {"id":"chatcmpl-Bench","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_1234567890","choices":[{"index":0,"delta":{"content":")";
    s += DeltaText(i);
    s += R"("},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a1b2c3"})"
         "\n\n";
  }
  s +=
      R"(data: {"id":"chatcmpl-Bench","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})"
      "\n\n"
      R"(data: {"id":"chatcmpl-Bench","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4.1-2025-04-14","choices":[],"usage":{"prompt_tokens":3100,"completion_tokens":420,"total_tokens":3520,"prompt_tokens_details":{"cached_tokens":2944},"completion_tokens_details":{"reasoning_tokens":256}}})"
      "\n\n"
      "data: [DONE]\n\n";
  return s;
}

std::string ResponsesStream(int deltas) {
  std::string s =
      "event: response.created\n"
      R"(data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_B","object":"response","status":"in_progress","model":"gpt-5-2025-08-07","output":[],"usage":null}})"
      "\n\n";
  for (int i = 0; i < deltas; ++i) {
    s += "event: response.output_text.delta\n"
         R"(data: {"type":"response.output_text.delta","sequence_number":)" +
         std::to_string(i + 1) +
         R"(,"item_id":"msg_1","output_index":0,"content_index":0,"delta":")" + DeltaText(i) +
         "\"}\n\n";
  }
  s +=
      "event: response.completed\n"
      R"(data: {"type":"response.completed","sequence_number":99999,"response":{"id":"resp_B","object":"response","status":"completed","model":"gpt-5-2025-08-07","output":[],"usage":{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":300,"output_tokens_details":{"reasoning_tokens":200},"total_tokens":5300}}})"
      "\n\n";
  return s;
}

// Feeds `stream` in `chunk`-byte pieces (state.range(0)).
void Run(benchmark::State& state, const std::string& stream, int64_t want_output) {
  size_t chunk = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    tokmeter::UsageStreamParser p;
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
      p.Feed(std::string_view(stream).substr(pos, chunk));
    }
    const tokmeter::ParsedUsage& u = p.Finish();
    if (u.usage.output != want_output || u.partial) state.SkipWithError("wrong result");
    benchmark::DoNotOptimize(u.usage.output);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(stream.size()));
  state.counters["stream_bytes"] = static_cast<double>(stream.size());
}

void BM_StreamAnthropic(benchmark::State& state) {
  static const std::string s = AnthropicStream(20000);
  Run(state, s, 40000);
}
BENCHMARK(BM_StreamAnthropic)->Arg(1 << 10)->Arg(16 << 10)->Arg(1 << 20);

void BM_StreamOpenAIChat(benchmark::State& state) {
  static const std::string s = OpenAIChatStream(20000);
  Run(state, s, 420);
}
BENCHMARK(BM_StreamOpenAIChat)->Arg(1 << 10)->Arg(16 << 10)->Arg(1 << 20);

void BM_StreamOpenAIResponses(benchmark::State& state) {
  static const std::string s = ResponsesStream(20000);
  Run(state, s, 300);
}
BENCHMARK(BM_StreamOpenAIResponses)->Arg(16 << 10);

void BM_BodyAnthropic(benchmark::State& state) {
  const std::string body =
      R"({"id":"msg_01Example","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":1500,"cache_read_input_tokens":40000,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":1500},"output_tokens":230,"output_tokens_details":{"thinking_tokens":90},"service_tier":"standard"}})";
  for (auto _ : state) {
    auto u = tokmeter::ParseUsageBody(body);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_BodyAnthropic);

}  // namespace

BENCHMARK_MAIN();
