// src/model/jsonl_schema.h — the tokmeter JSONL schema (docs/FORMAT.md),
// written once: line types, field names, and which span tags are written at
// the top level of a span line. The JSONL sink writes it, `tokmeter convert`
// recognizes it, the analysis reader reads it. Counter names are
// tokmeter::kCounterNames (tokmeter/counters.h).
#ifndef TOKMETER_MODEL_JSONL_SCHEMA_H_
#define TOKMETER_MODEL_JSONL_SCHEMA_H_

#include <array>
#include <string_view>

namespace tokmeter::model::jsonl {

inline constexpr std::string_view kSchemaName = "tokmeter-jsonl/1";

// Values of "type".
inline constexpr std::string_view kTypeSpan = "span";
inline constexpr std::string_view kTypeTrace = "trace";
inline constexpr std::string_view kTypeTurnSummary = "turn_summary";
inline constexpr std::string_view kTypeDrops = "drops";
// A rule that fired in the live monitor: not usage (readers skip it).
inline constexpr std::string_view kTypeAlert = "alert";

// Fields (besides the counters).
inline constexpr std::string_view kType = "type";
inline constexpr std::string_view kTimestamp = "timestamp";
inline constexpr std::string_view kStart = "start";
inline constexpr std::string_view kDurationMs = "duration_ms";
inline constexpr std::string_view kTraceId = "trace_id";
inline constexpr std::string_view kSpanId = "span_id";
inline constexpr std::string_view kParentId = "parent_id";
inline constexpr std::string_view kRoot = "root";
inline constexpr std::string_view kKind = "kind";
inline constexpr std::string_view kName = "name";
inline constexpr std::string_view kThread = "thread";
inline constexpr std::string_view kFingerprint = "fingerprint";
inline constexpr std::string_view kTags = "tags";
inline constexpr std::string_view kUserCounters = "counters";
inline constexpr std::string_view kScope = "scope";      // turn_summary
inline constexpr std::string_view kSpans = "spans";      // turn_summary
inline constexpr std::string_view kDropped = "dropped";  // drops
inline constexpr std::string_view kTotalDropped = "total_dropped";

// Span tags written at the top level of a span line (where the
// token-usage.jsonl schema of API proxies has them), in this order; every
// other tag goes into "tags".
inline constexpr std::array<std::string_view, 7> kTopLevelTags = {
    "tool", "path", "model", "status", "provider", "streaming", "request_id"};

// 1 + the index of `key` in kTopLevelTags, or 0 when it is not one (a
// switch on the length first: this runs for every tag of every span line).
constexpr int TopLevelTagIndex(std::string_view key) {
  switch (key.size()) {
    case 4:
      return key == kTopLevelTags[0] ? 1 : key == kTopLevelTags[1] ? 2 : 0;
    case 5:
      return key == kTopLevelTags[2] ? 3 : 0;
    case 6:
      return key == kTopLevelTags[3] ? 4 : 0;
    case 8:
      return key == kTopLevelTags[4] ? 5 : 0;
    case 9:
      return key == kTopLevelTags[5] ? 6 : 0;
    case 10:
      return key == kTopLevelTags[6] ? 7 : 0;
    default:
      return 0;
  }
}
constexpr bool IsTopLevelTag(std::string_view key) { return TopLevelTagIndex(key) != 0; }

}  // namespace tokmeter::model::jsonl

#endif  // TOKMETER_MODEL_JSONL_SCHEMA_H_
