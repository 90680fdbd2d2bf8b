// src/analysis/event.h — the one normalized usage event every reader produces,
// and the definitions (total, cache hit rate, …) every command uses.
#ifndef TOKMETER_ANALYSIS_EVENT_H_
#define TOKMETER_ANALYSIS_EVENT_H_

#include <cstdint>
#include <string_view>
#include <utility>

namespace tokmeter::analysis {

// Disjoint token buckets (docs/FORMAT.md; ../shared/FORMATS.md "map →").
struct TokenBuckets {
  int64_t input = 0;           // uncached input
  int64_t cache_read = 0;      // read from the prompt cache
  int64_t cache_write_5m = 0;  // written with the 5-minute TTL, or TTL unknown
  int64_t cache_write_1h = 0;  // written with the 1-hour TTL
  int64_t output = 0;          // all output, reasoning included
  int64_t reasoning = 0;       // part of output (informational, never added)

  int64_t cache_write() const { return cache_write_5m + cache_write_1h; }
  // input + cache_read + cache_write: the prompt the model saw.
  int64_t prompt() const { return input + cache_read + cache_write(); }
  // Everything that counts toward quota (seed 002): prompt + output.
  int64_t total() const { return prompt() + output; }
  void Add(const TokenBuckets& o) {
    input += o.input;
    cache_read += o.cache_read;
    cache_write_5m += o.cache_write_5m;
    cache_write_1h += o.cache_write_1h;
    output += o.output;
    reasoning += o.reasoning;
  }
  // Reasoning is a part of output: a source that says more is capped (a
  // malformed or hostile count must not make output minus reasoning < 0).
  void CapReasoning() { reasoning = reasoning < output ? reasoning : output; }
  friend bool operator==(const TokenBuckets&, const TokenBuckets&) = default;
};

// The definitions of DESIGN.md, written once. Each returns 0 when the
// denominator is 0.
// cache_read / (cache_read + input)                 — seed 001's cache hit rate
double CacheHitRate(const TokenBuckets& t);
// cache_read / (input + cache_read + cache_write)   — seed 002's 92.3 %
double PromptCacheShare(const TokenBuckets& t);
// (input + cache_read + cache_write) / output
double InputOutputRatio(const TokenBuckets& t);

// Where an event came from.
enum class SourceFormat : uint8_t {
  kTokmeterJsonl,  // docs/FORMAT.md span lines
  kTokmeterProto,  // protobuf files of the protobuf sink
  kTokenUsage,     // gh-aw api-proxy token-usage.jsonl (seed 001)
  kTurnSummary,    // seed 000 turn_summary lines
  kClaudeCode,     // Claude Code transcripts
  kCodex,          // Codex CLI session logs
  kOtlpJson,       // OTLP JSON (Collector file exporter)
};
std::string_view SourceFormatName(SourceFormat f);  // "tokmeter", "token-usage", …

// One usage event. String views are valid only during the callback that
// receives the event; copy what you keep.
struct UsageEvent {
  int64_t time_unix_ns = 0;  // completion time
  int64_t duration_ns = -1;  // -1 when unknown
  TokenBuckets tokens;
  bool ttl_unknown = false;  // cache writes whose TTL split the source does not give
  int64_t requests = 0;      // LLM requests (a provider response line counts 1)
  int64_t tool_calls = 0;
  int64_t retries = 0;
  int64_t retry_wait_ms = 0;
  int64_t rate_limited = 0;  // 429s
  int64_t errors = 0;
  int64_t response_bytes = 0;
  int64_t status = 0;     // HTTP status, 0 if unknown
  std::string_view kind;  // span kind: llm, tool, turn, turn_summary, …
  std::string_view name;
  std::string_view provider;
  std::string_view model;
  std::string_view trace_id;  // hex, or the source's session/run id
  std::string_view span_id;
  std::string_view parent_id;
  uint64_t fingerprint = 0;  // 0 = none; equal values mean repeated calls
  // Tags, span, trace and path merged (the span's own first; a key appears
  // once, the most specific value winning): session, workflow, run,
  // job, heartbeat, tool, channel, agent, user, and any other key. Booleans
  // are "true"/"false", integers decimal.
  static constexpr int kMaxTags = 24;
  std::pair<std::string_view, std::string_view> tags[kMaxTags];
  int num_tags = 0;
  SourceFormat format = SourceFormat::kTokmeterJsonl;
  int input_index = 0;  // index into ReadResult::inputs
  int64_t line = 0;     // 1-based line (0 if not line-based)

  std::string_view tag(std::string_view key) const {
    for (int i = num_tags - 1; i >= 0; --i)
      if (tags[i].first == key) return tags[i].second;
    return {};
  }
  void SetTag(std::string_view key, std::string_view value) {
    for (int i = 0; i < num_tags; ++i)
      if (tags[i].first == key) {
        tags[i].second = value;
        return;
      }
    if (num_tags < kMaxTags) tags[num_tags++] = {key, value};
  }
};

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_EVENT_H_
