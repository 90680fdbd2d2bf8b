// src/model/usage_event.h — the one normalized usage event: every reader
// produces it, the rules (src/rules) observe it, and the live monitor makes one
// from each closed span.
#ifndef TOKMETER_MODEL_USAGE_EVENT_H_
#define TOKMETER_MODEL_USAGE_EVENT_H_

#include <cstdint>
#include <string_view>
#include <utility>

#include "tokmeter/buckets.h"

namespace tokmeter {

// Where an event came from.
enum class SourceFormat : uint8_t {
  kTokmeterJsonl,  // docs/FORMAT.md span lines
  kTokmeterProto,  // protobuf files of the protobuf sink
  kTokenUsage,     // API-proxy token-usage.jsonl (one line per upstream call)
  kTurnSummary,    // turn_summary lines of agent runtimes (one line per turn)
  kClaudeCode,     // Claude Code transcripts
  kCodex,          // Codex CLI session logs
  kOtlpJson,       // OTLP JSON (Collector file exporter)
};
inline constexpr int kNumSourceFormats = int(SourceFormat::kOtlpJson) + 1;
std::string_view SourceFormatName(SourceFormat f);  // "tokmeter", "token-usage", …

// Events made from tokmeter `turn_summary` lines (docs/FORMAT.md) carry this
// kind. Their counters repeat what the span lines of the same trace already
// hold: per-turn rules may use them, totals must skip them. Agent runtimes'
// own turn_summary lines (the turn-summary format) are different: they are
// the only record of their turns, have kind "turn_summary" and count.
inline constexpr std::string_view kTurnSummaryRollupKind = "turn_summary_rollup";

// What one usage event says besides its tags (UsageEvent::Clear resets it).
struct UsageEventFields {
  int64_t time_unix_ns = 0;  // completion time
  int64_t duration_ns = -1;  // -1 when unknown
  TokenBuckets tokens;
  bool ttl_unknown = false;  // cache writes whose TTL split the source does not give
  // The source reports cache reads and writes (false: a format that only
  // gives input and output, where 0 cache reads means "not said", not "none").
  bool cache_reported = true;
  int64_t requests = 0;  // LLM requests (a provider response line counts 1)
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
  SourceFormat format = SourceFormat::kTokmeterJsonl;
  int input_index = 0;  // index into ReadResult::inputs
  int64_t line = 0;     // 1-based line (0 if not line-based)
};

// One usage event. String views are valid only during the callback that
// receives the event; copy what you keep.
struct UsageEvent : UsageEventFields {
  // Tags, span, trace and path merged (the span's own first; a key appears
  // once, the most specific value winning): session, workflow, run,
  // job, heartbeat, tool, channel, agent, user, and any other key. Booleans
  // are "true"/"false", integers decimal.
  static constexpr int kMaxTags = 24;
  std::pair<std::string_view, std::string_view> tags[kMaxTags];
  int num_tags = 0;

  // A default event again, without clearing the tag slots (only the first
  // num_tags are ever read): what a loop that refills one event needs.
  void Clear() {
    static_cast<UsageEventFields&>(*this) = UsageEventFields{};
    num_tags = 0;
  }
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

}  // namespace tokmeter

#endif  // TOKMETER_MODEL_USAGE_EVENT_H_
