// Records → usage events (span_event.h). The mapping mirrors the JSONL sink
// (src/sinks/jsonl_sink.cc) and reader (src/analysis/formats/
// tokmeter_jsonl.cc): tags as strings, trace tags under the span's own,
// "model", "provider" and "status" from their tags, counters to buckets.
#include "src/monitor/span_event.h"

#include <charconv>

namespace tokmeter::monitor_internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string_view Hex64(uint64_t v, char* out) {
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 15];
  return {out, 16};
}

void AddTags(std::span<const Tag> tags, EventText& text, UsageEvent& e) {
  for (const Tag& t : tags) {
    std::string_view v;
    switch (t.type) {
      case TagType::kString:
        v = t.str;
        break;
      case TagType::kBool:
        v = t.num ? "true" : "false";
        break;
      case TagType::kInt: {
        // Each value keeps its own storage (past the last slot: the tag is
        // not kept, as the event holds no more tags than there are slots).
        if (text.used >= text.values.size()) continue;
        auto& buf = text.values[text.used++];
        auto r = std::to_chars(buf.data(), buf.data() + buf.size(), t.num);
        v = std::string_view(buf.data(), size_t(r.ptr - buf.data()));
        break;
      }
    }
    if (t.key == "model") {
      e.model = v;
    } else if (t.key == "provider") {
      e.provider = v;
    } else if (t.key == "status") {
      if (t.type == TagType::kInt) e.status = t.num;
    } else {
      e.SetTag(t.key, v);
    }
  }
}

void Counts(const Counters& c, UsageEvent& e) {
  e.tokens = BucketsOf(c);
  e.requests = c[Counter::kRequests];
  e.tool_calls = c[Counter::kToolCalls];
  e.retries = c[Counter::kRetries];
  e.retry_wait_ms = c[Counter::kRetryWaitMs];
  e.rate_limited = c[Counter::kRateLimited];
  e.errors = c[Counter::kErrors];
  e.response_bytes = c[Counter::kResponseBytes];
}

void TraceHex(const TraceId& id, EventText& text, UsageEvent& e) {
  Hex64(id.hi, text.trace_id);
  Hex64(id.lo, text.trace_id + 16);
  e.trace_id = std::string_view(text.trace_id, 32);
}

// A fresh event from a tokmeter record that ran from start to end.
void Begin(int64_t start_unix_ns, int64_t end_unix_ns, EventText& text, UsageEvent& e) {
  e.Clear();
  text.used = 0;
  e.format = SourceFormat::kTokmeterJsonl;
  e.time_unix_ns = end_unix_ns;
  e.duration_ns = end_unix_ns >= start_unix_ns ? end_unix_ns - start_unix_ns : -1;
}

}  // namespace

void FromSpan(const SpanRecord& s, EventText& text, UsageEvent& e) {
  Begin(s.start_unix_ns, s.end_unix_ns, text, e);
  e.kind = s.kind;
  e.name = s.name;
  TraceHex(s.trace_id, text, e);
  e.span_id = Hex64(s.span_id, text.span_id);
  if (s.parent_id != 0) e.parent_id = Hex64(s.parent_id, text.parent_id);
  if (s.has_fingerprint) e.fingerprint = s.fingerprint;
  Counts(s.counters, e);
  AddTags(s.trace_tags, text, e);
  AddTags(s.tags, text, e);
}

void FromRollup(const RollupRecord& r, EventText& text, UsageEvent& e) {
  Begin(r.start_unix_ns, r.end_unix_ns, text, e);
  e.kind = kTurnSummaryRollupKind;
  e.name = r.name;
  TraceHex(r.trace_id, text, e);
  e.span_id = Hex64(r.span_id, text.span_id);
  Counts(r.totals, e);
  AddTags(r.trace_tags, text, e);
  e.SetTag("turn_kind", r.kind);
  e.SetTag("scope", r.scope);
}

}  // namespace tokmeter::monitor_internal
