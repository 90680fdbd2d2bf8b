// Hand-written provider bodies and streams shared by the usage tests, the
// fuzzers' seeds and the benchmark. Written for tokmeter, in each API's documented shape.
#ifndef TOKMETER_TESTS_USAGE_USAGE_TEST_DATA_H_
#define TOKMETER_TESTS_USAGE_USAGE_TEST_DATA_H_

#include <string_view>

namespace tokmeter::testdata {

// Anthropic Messages, a whole body.
inline constexpr std::string_view kAnthropicBody =
    R"({"id":"msg_01Example","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
 "content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,
 "usage":{"input_tokens":12,"cache_creation_input_tokens":1500,"cache_read_input_tokens":40000,
          "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":1500},
          "output_tokens":230,"output_tokens_details":{"thinking_tokens":90},
          "server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},
          "service_tier":"standard"}})";

// Anthropic Messages, a stream, plus a ping.
inline constexpr std::string_view kAnthropicStream =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_01S","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":8,"cache_creation_input_tokens":300,"cache_read_input_tokens":20000,"cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":0},"output_tokens":1}}})"
    "\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\n"
    "event: ping\n"
    R"(data: {"type": "ping"})"
    "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"
    "\n\n"
    "event: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":0})"
    "\n\n"
    "event: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":57}})"
    "\n\n"
    "event: message_stop\n"
    R"(data: {"type":"message_stop"})"
    "\n\n";

// OpenAI Chat Completions, a whole body.
inline constexpr std::string_view kChatBody =
    R"({"id":"chatcmpl-Example","object":"chat.completion","created":1760000000,"model":"gpt-4.1-2025-04-14",
 "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
 "usage":{"prompt_tokens":3100,"completion_tokens":420,"total_tokens":3520,
          "prompt_tokens_details":{"cached_tokens":2944,"audio_tokens":0},
          "completion_tokens_details":{"reasoning_tokens":256,"audio_tokens":0,
                                       "accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}})";

// OpenAI Chat Completions, a stream with include_usage.
inline constexpr std::string_view kChatStream =
    R"(data: {"id":"chatcmpl-S","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-S","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-S","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4.1-2025-04-14","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":2,"total_tokens":52,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}})"
    "\n\n"
    "data: [DONE]\n\n";

// OpenAI Responses, a whole body.
inline constexpr std::string_view kResponsesBody =
    R"({"id":"resp_Example","object":"response","status":"completed","model":"gpt-5-2025-08-07",
 "output":[],
 "usage":{"input_tokens":12000,"input_tokens_details":{"cached_tokens":11264},
          "output_tokens":900,"output_tokens_details":{"reasoning_tokens":640},
          "total_tokens":12900}})";

// OpenAI Responses, a stream, with the lifecycle and delta events around it.
inline constexpr std::string_view kResponsesStream =
    "event: response.created\n"
    R"(data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_S","object":"response","status":"in_progress","model":"gpt-5-2025-08-07","output":[],"usage":null}})"
    "\n\n"
    "event: response.output_text.delta\n"
    R"(data: {"type":"response.output_text.delta","sequence_number":7,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"})"
    "\n\n"
    "event: response.completed\n"
    R"(data: {"type":"response.completed","sequence_number":42,"response":{"id":"resp_S","object":"response","status":"completed","model":"gpt-5-2025-08-07","output":[],"usage":{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":300,"output_tokens_details":{"reasoning_tokens":200},"total_tokens":5300}}})"
    "\n\n";

// Gemini generateContent.
inline constexpr std::string_view kGeminiBody =
    R"({"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}],
 "modelVersion":"gemini-2.5-pro",
 "usageMetadata":{"promptTokenCount":9000,"cachedContentTokenCount":8192,
                  "candidatesTokenCount":120,"thoughtsTokenCount":480,"totalTokenCount":9600}})";

// streamGenerateContent?alt=sse: every chunk repeats the running usage; the
// last chunk (with finishReason) is final.
inline constexpr std::string_view kGeminiStream =
    R"(data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],"usageMetadata":{"promptTokenCount":9000,"cachedContentTokenCount":8192,"candidatesTokenCount":3,"thoughtsTokenCount":480,"totalTokenCount":9483},"modelVersion":"gemini-2.5-pro","responseId":"gem-1"})"
    "\r\n\r\n"
    R"(data: {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9000,"cachedContentTokenCount":8192,"candidatesTokenCount":120,"thoughtsTokenCount":480,"totalTokenCount":9600},"modelVersion":"gemini-2.5-pro","responseId":"gem-1"})"
    "\r\n\r\n";

}  // namespace tokmeter::testdata

#endif  // TOKMETER_TESTS_USAGE_USAGE_TEST_DATA_H_
