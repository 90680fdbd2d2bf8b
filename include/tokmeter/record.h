// tokmeter/record.h — the decoded records the flusher hands to sinks.
#ifndef TOKMETER_RECORD_H_
#define TOKMETER_RECORD_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokmeter/counters.h"
#include "tokmeter/finding.h"

namespace tokmeter {

// 128-bit trace id (W3C / OTLP compatible); all-zero is invalid.
struct TraceId {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool valid() const { return (hi | lo) != 0; }
  std::string ToHex() const;  // 32 lowercase hex digits
  // Parses 32 hex digits; returns an invalid id on any other input.
  static TraceId FromHex(std::string_view hex);
  friend bool operator==(const TraceId&, const TraceId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TraceId& t) {
    return H::combine(std::move(h), t.hi, t.lo);
  }
};

std::string SpanIdToHex(uint64_t id);          // 16 lowercase hex digits
uint64_t SpanIdFromHex(std::string_view hex);  // 0 on bad input

enum class TagType : uint8_t { kString = 0, kInt = 1, kBool = 2 };

// One tag. For kString `str` holds the value; for kInt and kBool `num`
// (bool: 0 or 1). Strings point into the batch and live as long as it.
struct Tag {
  std::string_view key;
  TagType type = TagType::kString;
  std::string_view str;
  int64_t num = 0;
};

struct UserCounter {
  std::string_view name;
  int64_t value = 0;
};

// One closed span. Trace roots (`is_trace_root`) are the spans that
// tokmeter::Trace opens; their kind and name are the trace's.
struct SpanRecord {
  TraceId trace_id;
  uint64_t span_id = 0;
  uint64_t parent_id = 0;  // 0 for a trace root
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  std::string_view kind;
  std::string_view name;
  uint32_t thread_id = 0;  // OS thread id of the thread that closed the span
  bool is_trace_root = false;
  bool has_fingerprint = false;
  uint64_t fingerprint = 0;  // XXH3-64 of what Span::Fingerprint was given
  Counters counters;
  std::span<const UserCounter> user_counters;  // summed by name
  std::span<const Tag> tags;                   // last value per key wins
  std::span<const Tag> trace_tags;             // the trace's tags, resolved
};

// A trace's identity and tags. Emitted in the batch before the first span of
// the trace that a sink sees, and again whenever the trace's tags change, so
// a sink that keeps the latest TraceRecord per trace id always has them.
struct TraceRecord {
  TraceId trace_id;
  uint64_t root_span_id = 0;
  int64_t start_unix_ns = 0;
  std::string_view kind;
  std::string_view name;
  std::span<const Tag> tags;
};

// Totals over a trace or a `turn` span and all its descendants, on any
// thread (the turn_summary line). Includes the span's own counters.
struct RollupRecord {
  TraceId trace_id;
  uint64_t span_id = 0;    // the turn span, or the trace root
  std::string_view scope;  // "trace" or "turn"
  std::string_view kind;
  std::string_view name;
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  int64_t spans = 0;  // spans rolled up, the turn itself included
  Counters totals;
  std::span<const Tag> trace_tags;
};

// Records a thread could not write because its ring was full (or its span
// outlived the runtime), counted exactly.
struct DropRecord {
  uint32_t thread_id = 0;
  int64_t time_unix_ns = 0;
  uint64_t dropped = 0;        // since the previous DropRecord of this thread
  uint64_t total_dropped = 0;  // since the thread registered
};

// A rule that fired in the live monitor (tokmeter/monitor.h): a budget
// threshold crossed, a loop, a retry storm, a spike… with the record that
// made it fire.
struct AlertRecord {
  int64_t time_unix_ns = 0;  // the event time of the record that made it fire
  Finding finding;
  TraceId trace_id;  // that record's trace and span (zero when time passing made it fire)
  uint64_t span_id = 0;
};

// What one flusher pass hands to each sink. Views point into storage owned
// by the flusher and are valid only during Sink::Write.
struct Batch {
  std::vector<TraceRecord> traces;
  std::vector<SpanRecord> spans;
  std::vector<RollupRecord> rollups;
  std::vector<DropRecord> drops;
  std::vector<AlertRecord> alerts;  // from the monitor, when one runs
  bool empty() const {
    return traces.empty() && spans.empty() && rollups.empty() && drops.empty() && alerts.empty();
  }
  size_t size() const {
    return traces.size() + spans.size() + rollups.size() + drops.size() + alerts.size();
  }
};

// Owning copies of records, for code that keeps them past Sink::Write (the
// memory sink, spans the flusher holds for a later pass, tests).
struct OwnedTag {
  std::string key;
  TagType type = TagType::kString;
  std::string str;
  int64_t num = 0;
  friend bool operator==(const OwnedTag&, const OwnedTag&) = default;
};
struct OwnedSpan {
  TraceId trace_id;
  uint64_t span_id = 0, parent_id = 0;
  int64_t start_unix_ns = 0, end_unix_ns = 0;
  std::string kind, name;
  uint32_t thread_id = 0;
  bool is_trace_root = false;
  bool has_fingerprint = false;
  uint64_t fingerprint = 0;
  Counters counters;
  std::vector<std::pair<std::string, int64_t>> user_counters;
  std::vector<OwnedTag> tags;
  std::vector<OwnedTag> trace_tags;
  // The tag's string value (or the decimal/true/false form), "" if absent.
  std::string tag(std::string_view key) const;
  std::string trace_tag(std::string_view key) const;
};
struct OwnedRollup {
  TraceId trace_id;
  uint64_t span_id = 0;
  std::string scope, kind, name;
  int64_t start_unix_ns = 0, end_unix_ns = 0;
  int64_t spans = 0;
  Counters totals;
};
OwnedTag ToOwned(const Tag& t);
OwnedSpan ToOwned(const SpanRecord& s);
OwnedRollup ToOwned(const RollupRecord& r);

}  // namespace tokmeter

#endif  // TOKMETER_RECORD_H_
