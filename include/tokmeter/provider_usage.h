// tokmeter/provider_usage.h — what each provider API's usage fields mean,
// written once: the field names, and the mapping of their values into
// disjoint TokenBuckets. The response and stream parsers (tokmeter/usage.h)
// and the transcript readers (Claude Code, Codex) all go through it.
//
//   Anthropic Messages: input_tokens excludes the cache; cache_read_input_tokens
//     and cache_creation_input_tokens (split by TTL in cache_creation.*) are
//     separate; output_tokens includes thinking. When usage.iterations is a
//     non-empty array (compaction and other server-side iterations), the
//     request is billed the sum of its entries, for every bucket.
//   OpenAI Chat Completions: prompt_tokens includes the cached part
//     (prompt_tokens_details.cached_tokens) and the cache writes
//     (prompt_tokens_details.cache_write_tokens); completion_tokens includes
//     reasoning.
//   OpenAI Responses: the same with input_tokens / input_tokens_details and
//     output_tokens / output_tokens_details.
//   Gemini: promptTokenCount includes cachedContentTokenCount;
//     thoughtsTokenCount is outside candidatesTokenCount (added to output);
//     toolUsePromptTokenCount is input outside promptTokenCount.
#ifndef TOKMETER_PROVIDER_USAGE_H_
#define TOKMETER_PROVIDER_USAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tokmeter/buckets.h"

namespace tokmeter {

// Which API produced a response.
enum class Provider : uint8_t {
  kUnknown = 0,
  kAnthropic,        // Anthropic Messages (/v1/messages)
  kOpenAIChat,       // OpenAI Chat Completions (/v1/chat/completions)
  kOpenAIResponses,  // OpenAI Responses (/v1/responses)
  kGemini,           // Gemini generateContent / streamGenerateContent
};
// "anthropic", "openai", "openai", "gemini", "unknown" (the `provider` tag).
std::string_view ProviderName(Provider p);
// "messages", "chat.completions", "responses", "generateContent", "unknown".
std::string_view ProviderApiName(Provider p);
// Whether a provider's input count includes the cached tokens, by the
// provider's name as logs write it: false for "anthropic" (input is the
// uncached part), true for "openai", "copilot", "gemini" and "google";
// nullopt for other names.
std::optional<bool> InputIncludesCache(std::string_view provider_name);

// The provider's own usage fields, as received (absent and null both leave
// the field empty). Field names follow the wire; meanings differ between
// providers (Anthropic's input_tokens excludes the cache, the Responses
// API's includes it), which is why the raw values are kept beside the
// buckets.
struct RawUsage {
  // Anthropic Messages; `input_tokens`/`output_tokens` also OpenAI Responses.
  std::optional<int64_t> input_tokens;
  std::optional<int64_t> output_tokens;
  std::optional<int64_t> cache_creation_input_tokens;
  std::optional<int64_t> cache_read_input_tokens;
  std::optional<int64_t> ephemeral_5m_input_tokens;  // cache_creation.*
  std::optional<int64_t> ephemeral_1h_input_tokens;
  std::optional<int64_t> thinking_tokens;      // output_tokens_details.thinking_tokens
  std::optional<int64_t> web_search_requests;  // server_tool_use.*
  std::optional<int64_t> web_fetch_requests;
  std::string service_tier;
  // Anthropic usage.iterations[]: the sums over its entries (count 0: no
  // entries, the top-level fields hold the request's usage).
  struct Iterations {
    int count = 0;
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
    int64_t cache_creation_input_tokens = 0;
    int64_t cache_read_input_tokens = 0;
    int64_t ephemeral_5m_input_tokens = 0;
    int64_t ephemeral_1h_input_tokens = 0;
    bool has_split = false;  // some entry had cache_creation.*
  } iterations;
  // OpenAI Chat Completions.
  std::optional<int64_t> prompt_tokens;
  std::optional<int64_t> completion_tokens;
  // OpenAI (both APIs): *_tokens_details.cached_tokens, .cache_write_tokens,
  // .reasoning_tokens.
  std::optional<int64_t> cached_tokens;
  std::optional<int64_t> cache_write_tokens;
  std::optional<int64_t> reasoning_tokens;
  std::optional<int64_t> total_tokens;
  // Gemini usageMetadata.
  std::optional<int64_t> prompt_token_count;
  std::optional<int64_t> cached_content_token_count;
  std::optional<int64_t> candidates_token_count;
  std::optional<int64_t> thoughts_token_count;
  std::optional<int64_t> tool_use_prompt_token_count;
  std::optional<int64_t> total_token_count;
};

// Sets the usage field at `path`, relative to the API's usage object (nested
// objects joined with '.', array entries by index: "input_tokens",
// "cache_creation.ephemeral_1h_input_tokens",
// "prompt_tokens_details.cached_tokens", "iterations.0.output_tokens").
// Counts of Anthropic usage.iterations entries are added to
// RawUsage::iterations. False when `path` is not a usage count of `api`
// (the field is then left alone). Values are stored as given; NormalizeUsage
// checks them.
bool SetUsageField(Provider api, std::string_view path, std::optional<int64_t> value,
                   RawUsage& raw);

// Bits of NormalizedUsage::anomaly_flags. Each impossible value is clamped
// (and counted in `anomalies`) so the buckets stay non-negative and
// disjoint.
enum UsageAnomaly : uint32_t {
  kAnomalyNegative = 1u << 0,             // a negative count (clamped to 0)
  kAnomalyNotInteger = 1u << 1,           // a non-integer or out-of-range count
  kAnomalyReasoningOverOutput = 1u << 2,  // reasoning > output (clamped to output)
  kAnomalyCachedOverPrompt = 1u << 3,     // cached > inclusive prompt (clamped to prompt)
  kAnomalyCacheWriteMismatch = 1u << 4,   // cache_creation_input_tokens != 5m + 1h (split wins)
  kAnomalyTotalMismatch = 1u << 5,        // a reported total differs from the buckets' sum
  kAnomalyNonMonotonic = 1u << 6,         // a cumulative stream count went down
};

// Raw usage mapped into buckets.
struct NormalizedUsage {
  TokenBuckets buckets;
  bool ttl_unknown = false;  // a cache write without the 5m/1h split: counted as 5m
  uint32_t anomaly_flags = 0;
  int anomalies = 0;
};

// The API a usage object most likely came from, by the fields it has (when
// the response does not say): prompt/completion -> Chat, Gemini counts ->
// Gemini, cached/reasoning details -> Responses, else Anthropic.
Provider GuessProvider(const RawUsage& raw);
// Maps `raw` (as `api` reports it; kUnknown reads as Anthropic) into
// buckets. Counts are clamped to [0, kMaxTokenCount].
NormalizedUsage NormalizeUsage(Provider api, const RawUsage& raw);

}  // namespace tokmeter

#endif  // TOKMETER_PROVIDER_USAGE_H_
