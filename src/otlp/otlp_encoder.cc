#include "src/otlp/otlp_encoder.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>

#include "src/model/proto_wire.h"
#include "src/model/utf8.h"
#include "tokmeter/version.h"

namespace tokmeter::otlp {

using model::wire::BeginMessage;
using model::wire::EndLength;
using model::wire::PutBytesField;
using model::wire::PutFixed32Field;
using model::wire::PutFixed64Field;
using model::wire::PutVarintField;

namespace {

// opentelemetry.proto field numbers.
constexpr uint32_t kSpanTraceId = 1, kSpanSpanId = 2, kSpanParentId = 4, kSpanFlags = 16,
                   kSpanName = 5, kSpanKind = 6, kSpanStart = 7, kSpanEnd = 8, kSpanAttributes = 9,
                   kSpanEvents = 11, kSpanStatus = 15;
constexpr uint32_t kEventTime = 1, kEventName = 2, kEventAttributes = 3;
constexpr uint32_t kKeyValueKey = 1, kKeyValueValue = 2;
constexpr uint32_t kAnyString = 1, kAnyBool = 2, kAnyInt = 3;
constexpr uint32_t kStatusMessage = 2, kStatusCode = 3;
constexpr uint32_t kSpanKindInternal = 1, kSpanKindClient = 3;
constexpr uint32_t kStatusCodeError = 2;
constexpr uint32_t kScopeNameField = 1, kScopeVersion = 2;
// W3C sampled, and "is_remote is known: not remote".
constexpr uint32_t kFlags = 0x01 | 0x100;

// Attributes of one span, with unique keys (first one wins).
class Attributes {
 public:
  explicit Attributes(std::string& out) : out_(out) {}

  void Str(std::string_view key, std::string_view v) {
    if (Claim(key)) PutStringAttribute(out_, kSpanAttributes, key, v);
  }
  void Int(std::string_view key, int64_t v) {
    if (Claim(key)) PutIntAttribute(out_, kSpanAttributes, key, v);
  }
  void Bool(std::string_view key, bool v) {
    if (Claim(key)) PutBoolAttribute(out_, kSpanAttributes, key, v);
  }
  void TagValue(std::string_view key, const Tag& t) {
    if (Claim(key)) PutTagAttribute(out_, kSpanAttributes, key, t);
  }
  // tokmeter.<key>
  std::string_view Prefixed(std::string_view key) {
    thread_local std::string scratch_;
    scratch_.assign("tokmeter.");
    scratch_.append(key.data(), key.size());
    return scratch_;
  }

 private:
  bool Claim(std::string_view key) {
    for (const auto& [off, len] : used_) {
      if (std::string_view(arena_).substr(off, len) == key) return false;
    }
    used_.emplace_back(uint32_t(arena_.size()), uint32_t(key.size()));
    arena_.append(key.data(), key.size());
    return true;
  }

  std::string& out_;
  // Keys emitted so far (thread-local buffers reused across spans).
  static thread_local std::string arena_storage_;
  static thread_local std::vector<std::pair<uint32_t, uint32_t>> used_storage_;
  std::string& arena_ = (arena_storage_.clear(), arena_storage_);
  std::vector<std::pair<uint32_t, uint32_t>>& used_ = (used_storage_.clear(), used_storage_);
};

thread_local std::string Attributes::arena_storage_;
thread_local std::vector<std::pair<uint32_t, uint32_t>> Attributes::used_storage_;

// `key` is the literal `lit`, for a key whose size is already known to be
// N - 1.
template <size_t N>
inline bool Is(std::string_view key, const char (&lit)[N]) {
  return std::memcmp(key.data(), lit, N - 1) == 0;
}
// `s` equals the literal.
template <size_t N>
inline bool Eq(std::string_view s, const char (&lit)[N]) {
  return s.size() == N - 1 && Is(s, lit);
}

std::string_view OperationName(const SpanRecord& s) {
  std::string_view k = s.kind;
  if (Eq(k, "llm") || Eq(k, "chat")) return "chat";
  if (Eq(k, "tool")) return "execute_tool";
  if (Eq(k, "embedding") || Eq(k, "embeddings")) return "embeddings";
  if (Eq(k, "retrieval")) return "retrieval";
  if (Eq(k, "workflow")) return "invoke_workflow";
  if (Eq(k, "agent") || Eq(k, "subagent") || Eq(k, "turn") || Eq(k, "session") || s.is_trace_root) {
    return "invoke_agent";
  }
  return {};
}

std::string_view StringOf(const Tag* t) {
  return t != nullptr && t->type == TagType::kString ? t->str : std::string_view();
}

void AppendHex16(std::string& out, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kHex[v & 15];
  out.append(buf, 16);
}

void PutIds(std::string& out, const TraceId& trace, uint64_t span, uint64_t parent) {
  char id[16];
  model::wire::PutBigEndian64(id, trace.hi);
  model::wire::PutBigEndian64(id + 8, trace.lo);
  PutBytesField(out, kSpanTraceId, std::string_view(id, 16));
  model::wire::PutBigEndian64(id, span);
  PutBytesField(out, kSpanSpanId, std::string_view(id, 8));
  if (parent != 0) {
    model::wire::PutBigEndian64(id, parent);
    PutBytesField(out, kSpanParentId, std::string_view(id, 8));
  }
}

// SplitMix64: ids for the spans tokmeter makes up (drops, alerts).
uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void PutStringField(std::string& out, uint32_t field, std::string_view v) {
  if (model::Utf8ValidPrefix(v) == v.size()) {
    PutBytesField(out, field, v);
  } else {
    PutBytesField(out, field, model::Utf8Repaired(v));
  }
}

void PutStringAttribute(std::string& out, uint32_t field, std::string_view key,
                        std::string_view value) {
  size_t kv = BeginMessage(out, field);
  PutStringField(out, kKeyValueKey, key);
  size_t any = BeginMessage(out, kKeyValueValue);
  PutStringField(out, kAnyString, value);
  EndLength(out, any);
  EndLength(out, kv);
}

void PutIntAttribute(std::string& out, uint32_t field, std::string_view key, int64_t value) {
  size_t kv = BeginMessage(out, field);
  PutStringField(out, kKeyValueKey, key);
  size_t any = BeginMessage(out, kKeyValueValue);
  PutVarintField(out, kAnyInt, uint64_t(value));
  EndLength(out, any);
  EndLength(out, kv);
}

void PutDoubleAttribute(std::string& out, uint32_t field, std::string_view key, double value) {
  constexpr uint32_t kAnyDouble = 4;
  size_t kv = BeginMessage(out, field);
  PutStringField(out, kKeyValueKey, key);
  size_t any = BeginMessage(out, kKeyValueValue);
  PutFixed64Field(out, kAnyDouble, std::bit_cast<uint64_t>(value));
  EndLength(out, any);
  EndLength(out, kv);
}

void PutBoolAttribute(std::string& out, uint32_t field, std::string_view key, bool value) {
  size_t kv = BeginMessage(out, field);
  PutStringField(out, kKeyValueKey, key);
  size_t any = BeginMessage(out, kKeyValueValue);
  PutVarintField(out, kAnyBool, value ? 1 : 0);
  EndLength(out, any);
  EndLength(out, kv);
}

void PutTagAttribute(std::string& out, uint32_t field, std::string_view key, const Tag& t) {
  switch (t.type) {
    case TagType::kString:
      PutStringAttribute(out, field, key, t.str);
      break;
    case TagType::kInt:
      PutIntAttribute(out, field, key, t.num);
      break;
    case TagType::kBool:
      PutBoolAttribute(out, field, key, t.num != 0);
      break;
  }
}

void ScanTags(const SpanRecord& s, SpanTags& t) {
  t = SpanTags{};
  // One pass over the tags (the last value of a key wins), keys told apart
  // by their length, then by bytes (Is: a memcmp of a constant size, which
  // the compiler inlines).
  for (const Tag& g : s.tags) {
    switch (g.key.size()) {
      case 4:
        if (Is(g.key, "tool")) t.tool = &g;
        break;
      case 5:
        if (Is(g.key, "model")) t.model = &g;
        break;
      case 6:
        if (Is(g.key, "status")) t.status = &g;
        break;
      case 8:
        if (Is(g.key, "provider")) t.provider = &g;
        break;
      case 10:
        if (Is(g.key, "error_type")) t.error_type = &g;
        break;
      case 14:
        if (Is(g.key, "response_model")) t.response_model = &g;
        break;
      default:
        break;
    }
  }
}

void Describe(const SpanRecord& s, std::string_view trace_key, GenAiFacts& f) {
  SpanTags t;
  ScanTags(s, t);
  Describe(s, t, trace_key, f);
}

void Describe(const SpanRecord& s, const SpanTags& t, std::string_view trace_key, GenAiFacts& f) {
  f.operation = OperationName(s);
  f.provider = t.provider;
  f.model = t.model;
  f.response_model = t.response_model;
  f.session = f.agent = nullptr;
  const Tag* tool = t.tool;
  const Tag* status = t.status;
  const Tag* error_type = t.error_type;
  const Tag* workflow = nullptr;
  for (const Tag& g : s.trace_tags) {
    switch (g.key.size()) {
      case 5:
        if (Is(g.key, "agent")) f.agent = &g;
        break;
      case 7:
        if (Is(g.key, "session")) f.session = &g;
        break;
      case 8:
        if (Is(g.key, "workflow")) workflow = &g;
        break;
      default:
        break;
    }
  }
  const bool is_tool = Eq(s.kind, "tool");
  f.tool_name = StringOf(tool);
  if (f.tool_name.empty() && is_tool) f.tool_name = s.name;
  f.agent_name = {};
  f.workflow_name = {};
  if (Eq(f.operation, "invoke_agent")) {
    f.agent_name = (Eq(s.kind, "agent") || Eq(s.kind, "subagent")) && !s.name.empty()
                       ? s.name
                       : StringOf(f.agent);
  } else if (Eq(f.operation, "invoke_workflow")) {
    f.workflow_name = StringOf(workflow);
    if (f.workflow_name.empty()) f.workflow_name = s.name;
  }
  f.conversation_id = StringOf(f.session);
  if (f.conversation_id.empty()) f.conversation_id = s.is_trace_root ? s.name : trace_key;
  f.http_status = status != nullptr && status->type == TagType::kInt ? status->num : 0;
  f.error = s.counters[Counter::kErrors] > 0 || f.http_status >= 400;
  f.error_type = {};
  if (f.error) {
    if (f.http_status >= 400) {
      auto r = std::to_chars(f.error_buf, f.error_buf + sizeof(f.error_buf), f.http_status);
      f.error_type = std::string_view(f.error_buf, r.ptr - f.error_buf);
    } else if (!StringOf(error_type).empty()) {
      f.error_type = error_type->str;
    } else {
      f.error_type = "_OTHER";
    }
  }
}

void TraceKeys::Add(const Batch& batch) {
  for (const TraceRecord& t : batch.traces) {
    if (t.name.empty()) continue;
    auto& [seq, key] = keys_[t.trace_id];
    seq = ++seq_;
    key.assign(t.name.data(), t.name.size());
  }
  if (keys_.size() > max_) {
    // Forget the oldest half.
    std::vector<uint64_t> seqs;
    seqs.reserve(keys_.size());
    for (const auto& [id, v] : keys_) seqs.push_back(v.first);
    auto mid = seqs.begin() + seqs.size() / 2;
    std::nth_element(seqs.begin(), mid, seqs.end());
    uint64_t cut = *mid;
    absl::erase_if(keys_, [cut](const auto& kv) { return kv.second.first < cut; });
  }
}

void TraceKeys::Retire(const Batch& batch) {
  for (const RollupRecord& r : batch.rollups) {
    if (r.scope == "trace") keys_.erase(r.trace_id);
  }
}

std::string_view TraceKeys::Find(const TraceId& id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? std::string_view() : std::string_view(it->second.second);
}

void AppendOtlpSpan(const SpanRecord& s, std::string& out, std::string_view trace_key) {
  GenAiFacts f;
  Describe(s, trace_key, f);
  size_t span = BeginMessage(out, 2);  // ScopeSpans.spans
  PutIds(out, s.trace_id, s.span_id, s.parent_id);

  // Span name per the GenAI conventions: "{operation} {target}", the target
  // being the model (chat, embeddings), the tool, the agent or the workflow
  // name; the operation alone when there is no target; else the tokmeter
  // kind and name.
  {
    thread_local std::string name;
    name.clear();
    const std::string_view op = f.operation;
    if (!op.empty()) {
      name.append(op);
      std::string_view target = op == "execute_tool"      ? f.tool_name
                                : op == "invoke_agent"    ? f.agent_name
                                : op == "invoke_workflow" ? f.workflow_name
                                                          : StringOf(f.model);
      if (!target.empty()) name.append(" ").append(target);
    } else {
      name.append(s.kind);
      if (!s.name.empty()) name.append(" ").append(s.name);
    }
    PutStringField(out, kSpanName, name);
  }
  const bool client =
      f.operation == "chat" || f.operation == "embeddings" || f.operation == "retrieval";
  PutVarintField(out, kSpanKind, client ? kSpanKindClient : kSpanKindInternal);
  PutFixed64Field(out, kSpanStart, uint64_t(s.start_unix_ns));
  PutFixed64Field(out, kSpanEnd, uint64_t(s.end_unix_ns));

  const Counters& c = s.counters;
  {
    Attributes a(out);
    if (!f.operation.empty()) a.Str("gen_ai.operation.name", f.operation);
    if (f.provider != nullptr) a.TagValue("gen_ai.provider.name", *f.provider);
    if (f.model != nullptr) a.TagValue("gen_ai.request.model", *f.model);
    if (f.response_model != nullptr) {
      a.TagValue("gen_ai.response.model", *f.response_model);
    } else if (f.model != nullptr) {
      a.TagValue("gen_ai.response.model", *f.model);
    }
    if (c.has(Counter::kInputTokens) || c.has(Counter::kCacheReadTokens) ||
        c.has(Counter::kCacheWriteTokens)) {
      a.Int("gen_ai.usage.input_tokens", c[Counter::kInputTokens] + c[Counter::kCacheReadTokens] +
                                             c[Counter::kCacheWriteTokens]);
    }
    if (c.has(Counter::kOutputTokens))
      a.Int("gen_ai.usage.output_tokens", c[Counter::kOutputTokens]);
    if (c.has(Counter::kCacheReadTokens)) {
      a.Int("gen_ai.usage.cache_read.input_tokens", c[Counter::kCacheReadTokens]);
    }
    if (c.has(Counter::kCacheWriteTokens)) {
      a.Int("gen_ai.usage.cache_creation.input_tokens", c[Counter::kCacheWriteTokens]);
    }
    if (c.has(Counter::kReasoningTokens)) {
      a.Int("gen_ai.usage.reasoning.output_tokens", c[Counter::kReasoningTokens]);
    }
    if (f.session != nullptr) {
      a.TagValue("gen_ai.conversation.id", *f.session);
    } else if (!f.conversation_id.empty()) {
      a.Str("gen_ai.conversation.id", f.conversation_id);
    }
    if (f.agent != nullptr) a.TagValue("gen_ai.agent.id", *f.agent);
    if (!f.agent_name.empty()) a.Str("gen_ai.agent.name", f.agent_name);
    if (!f.workflow_name.empty()) a.Str("gen_ai.workflow.name", f.workflow_name);
    if (!f.tool_name.empty()) a.Str("gen_ai.tool.name", f.tool_name);
    if (f.error) a.Str("error.type", f.error_type);
    // Everything else under tokmeter.*.
    a.Str("tokmeter.kind", s.kind);
    a.Str("tokmeter.name", s.name);
    if (s.thread_id != 0) a.Int("tokmeter.thread", s.thread_id);
    if (s.is_trace_root) a.Bool("tokmeter.root", true);
    if (s.has_fingerprint) {
      std::string hex;
      AppendHex16(hex, s.fingerprint);
      a.Str("tokmeter.fingerprint", hex);
    }
    for (Counter k : {Counter::kInputTokens, Counter::kCacheWrite1hTokens, Counter::kRequests,
                      Counter::kToolCalls, Counter::kRetries, Counter::kRetryWaitMs,
                      Counter::kRateLimited, Counter::kErrors, Counter::kResponseBytes}) {
      if (c.has(k) && c[k] != 0) a.Int(a.Prefixed(CounterName(k)), c[k]);
    }
    for (const UserCounter& u : s.user_counters) a.Int(a.Prefixed(u.name), u.value);
    // Span tags (last value per key wins: walk backwards, first claim wins).
    for (size_t i = s.tags.size(); i-- > 0;) {
      const Tag& t = s.tags[i];
      if (t.key == "provider" || t.key == "model" || t.key == "response_model" || t.key == "tool" ||
          t.key == "error_type") {
        continue;
      }
      a.TagValue(a.Prefixed(t.key), t);
    }
    for (size_t i = s.trace_tags.size(); i-- > 0;) {
      const Tag& t = s.trace_tags[i];
      if (t.key == "session" || t.key == "agent") continue;
      a.TagValue(a.Prefixed(t.key), t);
    }
  }
  if (f.error) {
    size_t st = BeginMessage(out, kSpanStatus);
    if (f.http_status >= 400) {
      std::string msg = "HTTP ";
      msg.append(f.error_type);
      PutBytesField(out, kStatusMessage, msg);
    }
    PutVarintField(out, kStatusCode, kStatusCodeError);
    EndLength(out, st);
  }
  PutFixed32Field(out, kSpanFlags, kFlags);
  EndLength(out, span);
}

bool AppendOtlpDropSpan(std::span<const DropRecord> drops, uint64_t seq, std::string& out) {
  if (drops.empty()) return false;
  int64_t first = drops[0].time_unix_ns, last = first;
  uint64_t dropped = 0;
  for (const DropRecord& d : drops) {
    first = std::min(first, d.time_unix_ns);
    last = std::max(last, d.time_unix_ns);
    dropped += d.dropped;
  }
  // Ids: any value unique enough for a span of its own trace.
  TraceId trace{Mix(seq ^ uint64_t(first)), Mix(seq + 1)};
  uint64_t span_id = Mix(trace.lo ^ uint64_t(last)) | 1;
  size_t span = BeginMessage(out, 2);  // ScopeSpans.spans
  PutIds(out, trace, span_id, 0);
  PutStringField(out, kSpanName, "tokmeter.records_dropped");
  PutVarintField(out, kSpanKind, kSpanKindInternal);
  PutFixed64Field(out, kSpanStart, uint64_t(first));
  PutFixed64Field(out, kSpanEnd, uint64_t(last));
  for (const DropRecord& d : drops) {
    size_t ev = BeginMessage(out, kSpanEvents);
    PutFixed64Field(out, kEventTime, uint64_t(d.time_unix_ns));
    PutStringField(out, kEventName, "tokmeter.records_dropped");
    PutIntAttribute(out, kEventAttributes, "thread.id", d.thread_id);
    PutIntAttribute(out, kEventAttributes, "tokmeter.dropped", int64_t(d.dropped));
    PutIntAttribute(out, kEventAttributes, "tokmeter.total_dropped", int64_t(d.total_dropped));
    EndLength(out, ev);
  }
  size_t st = BeginMessage(out, kSpanStatus);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), dropped);
  std::string msg(buf, r.ptr);
  msg.append(" records dropped: a thread's ring was full");
  PutBytesField(out, kStatusMessage, msg);
  PutVarintField(out, kStatusCode, kStatusCodeError);
  EndLength(out, st);
  PutFixed32Field(out, kSpanFlags, kFlags);
  EndLength(out, span);
  return true;
}

std::string AlertScope(const Finding& f) {
  std::string scope;
  for (const auto& [k, v] : f.keys) {
    if (!scope.empty()) scope.push_back(',');
    scope.append(k).append("=").append(v);
  }
  return scope;
}

void AppendOtlpAlertSpan(const AlertRecord& a, uint64_t seq, std::string& out) {
  const Finding& f = a.finding;
  const bool caused = a.trace_id.hi != 0 || a.trace_id.lo != 0;
  // In the trace of the record that made it fire, under that record's span;
  // an alert that time passing raised gets a trace of its own.
  const TraceId trace =
      caused ? a.trace_id : TraceId{Mix(seq ^ uint64_t(a.time_unix_ns)), Mix(seq + 2)};
  const uint64_t span_id = Mix(trace.hi ^ Mix(trace.lo ^ a.span_id) ^ seq) | 1;
  size_t span = BeginMessage(out, 2);  // ScopeSpans.spans
  PutIds(out, trace, span_id, caused ? a.span_id : 0);
  thread_local std::string text;
  text.assign("tokmeter.alert ").append(f.kind);
  PutStringField(out, kSpanName, text);
  PutVarintField(out, kSpanKind, kSpanKindInternal);
  PutFixed64Field(out, kSpanStart, uint64_t(a.time_unix_ns));
  PutFixed64Field(out, kSpanEnd, uint64_t(a.time_unix_ns));
  size_t ev = BeginMessage(out, kSpanEvents);
  PutFixed64Field(out, kEventTime, uint64_t(a.time_unix_ns));
  PutStringField(out, kEventName, "tokmeter.alert");
  PutStringAttribute(out, kEventAttributes, "tokmeter.alert.rule", f.kind);
  PutStringAttribute(out, kEventAttributes, "tokmeter.alert.severity", SeverityName(f.severity));
  PutStringAttribute(out, kEventAttributes, "tokmeter.alert.subject", f.subject);
  PutStringAttribute(out, kEventAttributes, "tokmeter.alert.scope", AlertScope(f));
  PutStringAttribute(out, kEventAttributes, "tokmeter.alert.message", f.recommendation);
  PutIntAttribute(out, kEventAttributes, "tokmeter.alert.tokens", f.tokens);
  if (!f.rule.empty())
    PutStringAttribute(out, kEventAttributes, "tokmeter.alert.condition", f.rule);
  for (const auto& [k, v] : f.keys) {
    text.assign("tokmeter.alert.key.").append(k);
    PutStringAttribute(out, kEventAttributes, text, v);
  }
  for (const auto& [k, v] : f.evidence) {
    text.assign("tokmeter.alert.evidence.").append(k);
    PutDoubleAttribute(out, kEventAttributes, text, v);
  }
  EndLength(out, ev);
  PutFixed32Field(out, kSpanFlags, kFlags);
  EndLength(out, span);
}

std::string EncodeOtlpResource(std::string_view service_name,
                               const std::vector<std::pair<std::string, std::string>>& attrs) {
  std::string out;
  constexpr uint32_t kResourceAttributes = 1;
  PutStringAttribute(out, kResourceAttributes, "service.name", service_name);
  PutStringAttribute(out, kResourceAttributes, "telemetry.sdk.name", "tokmeter");
  PutStringAttribute(out, kResourceAttributes, "telemetry.sdk.language", "cpp");
  PutStringAttribute(out, kResourceAttributes, "telemetry.sdk.version", kVersionString);
  for (const auto& [k, v] : attrs) {
    if (k == "service.name" || k.rfind("telemetry.sdk.", 0) == 0) continue;
    PutStringAttribute(out, kResourceAttributes, k, v);
  }
  return out;
}

std::string EncodeOtlpScope() {
  std::string scope;
  PutBytesField(scope, kScopeNameField, kScopeName);
  PutBytesField(scope, kScopeVersion, kVersionString);
  return scope;
}

void AppendExportRequestHead(std::string_view resource, size_t spans_size, std::string& out) {
  std::string scope_spans_head;
  PutBytesField(scope_spans_head, 1, EncodeOtlpScope());      // ScopeSpans.scope
  PutBytesField(scope_spans_head, 3, kSemconvSchemaUrl);      // ScopeSpans.schema_url
  size_t scope_spans = scope_spans_head.size() + spans_size;  // + ScopeSpans.spans (2)
  std::string resource_field;                                 // ResourceSpans.resource
  PutBytesField(resource_field, 1, resource);
  size_t resource_spans =
      resource_field.size() + 1 + model::wire::VarintSize(scope_spans) + scope_spans;
  model::wire::PutTag(out, 1, model::wire::kLen);  // ExportTraceServiceRequest.resource_spans
  model::wire::PutVarint(out, resource_spans);
  out.append(resource_field);
  model::wire::PutTag(out, 2, model::wire::kLen);  // ResourceSpans.scope_spans
  model::wire::PutVarint(out, scope_spans);
  out.append(scope_spans_head);
}

void AppendExportRequest(std::string_view resource, std::string_view spans, std::string& out) {
  AppendExportRequestHead(resource, spans.size(), out);
  out.append(spans);
}

}  // namespace tokmeter::otlp
