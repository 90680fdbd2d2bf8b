#include "src/otlp/otlp_encoder.h"

#include <charconv>

#include "src/model/proto_wire.h"
#include "src/model/utf8.h"

namespace tokmeter::otlp {

using model::wire::BeginLength;
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
                   kSpanStatus = 15;
constexpr uint32_t kKeyValueKey = 1, kKeyValueValue = 2;
constexpr uint32_t kAnyString = 1, kAnyBool = 2, kAnyInt = 3;
constexpr uint32_t kStatusMessage = 2, kStatusCode = 3;
constexpr uint32_t kSpanKindInternal = 1, kSpanKindClient = 3;
constexpr uint32_t kStatusCodeError = 2;
// W3C sampled, and "is_remote is known: not remote".
constexpr uint32_t kFlags = 0x01 | 0x100;

constexpr std::string_view kScopeName = "tokmeter";
constexpr std::string_view kVersion = "0.1.0";

// A protobuf `string` field: OTLP receivers reject invalid UTF-8, so
// invalid sequences become U+FFFD (as in tokmeter's JSONL).
void PutStringField(std::string& out, uint32_t field, std::string_view v) {
  if (model::Utf8ValidPrefix(v) == v.size()) {
    PutBytesField(out, field, v);
  } else {
    PutBytesField(out, field, model::Utf8Repaired(v));
  }
}

// Attributes of one span, with unique keys (first one wins).
class Attributes {
 public:
  explicit Attributes(std::string& out) : out_(out) {}

  void Str(std::string_view key, std::string_view v) {
    if (!Claim(key)) return;
    size_t kv = Begin(key);
    size_t any = BeginMessage(out_, kKeyValueValue);
    PutStringField(out_, kAnyString, v);
    EndLength(out_, any);
    EndLength(out_, kv);
  }
  void Int(std::string_view key, int64_t v) {
    if (!Claim(key)) return;
    size_t kv = Begin(key);
    size_t any = BeginMessage(out_, kKeyValueValue);
    PutVarintField(out_, kAnyInt, uint64_t(v));
    EndLength(out_, any);
    EndLength(out_, kv);
  }
  void Bool(std::string_view key, bool v) {
    if (!Claim(key)) return;
    size_t kv = Begin(key);
    size_t any = BeginMessage(out_, kKeyValueValue);
    PutVarintField(out_, kAnyBool, v ? 1 : 0);
    EndLength(out_, any);
    EndLength(out_, kv);
  }
  void TagValue(std::string_view key, const Tag& t) {
    switch (t.type) {
      case TagType::kString:
        Str(key, t.str);
        break;
      case TagType::kInt:
        Int(key, t.num);
        break;
      case TagType::kBool:
        Bool(key, t.num != 0);
        break;
    }
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
  size_t Begin(std::string_view key) {
    size_t kv = BeginMessage(out_, kSpanAttributes);
    PutStringField(out_, kKeyValueKey, key);
    return kv;
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

const Tag* FindTag(std::span<const Tag> tags, std::string_view key) {
  const Tag* found = nullptr;
  for (const Tag& t : tags) {
    if (t.key == key) found = &t;  // last value wins
  }
  return found;
}

std::string_view OperationName(const SpanRecord& s) {
  std::string_view k = s.kind;
  if (k == "llm" || k == "chat") return "chat";
  if (k == "embedding" || k == "embeddings") return "embeddings";
  if (k == "tool") return "execute_tool";
  if (k == "agent" || k == "subagent" || k == "turn" || k == "session" || s.is_trace_root) {
    return "invoke_agent";
  }
  return {};
}

void AppendHex16(std::string& out, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kHex[v & 15];
  out.append(buf, 16);
}

}  // namespace

void AppendOtlpSpan(const SpanRecord& s, std::string& out) {
  size_t span = BeginMessage(out, 2);  // ScopeSpans.spans
  char id[16];
  model::wire::PutBigEndian64(id, s.trace_id.hi);
  model::wire::PutBigEndian64(id + 8, s.trace_id.lo);
  PutBytesField(out, kSpanTraceId, std::string_view(id, 16));
  model::wire::PutBigEndian64(id, s.span_id);
  PutBytesField(out, kSpanSpanId, std::string_view(id, 8));
  if (s.parent_id != 0) {
    model::wire::PutBigEndian64(id, s.parent_id);
    PutBytesField(out, kSpanParentId, std::string_view(id, 8));
  }

  const Tag* provider = FindTag(s.tags, "provider");
  const Tag* model = FindTag(s.tags, "model");
  const Tag* response_model = FindTag(s.tags, "response_model");
  const Tag* tool = FindTag(s.tags, "tool");
  const Tag* status = FindTag(s.tags, "status");
  const Tag* error_type = FindTag(s.tags, "error_type");
  std::string_view op = OperationName(s);
  bool is_tool = s.kind == "tool";
  std::string_view tool_name = tool != nullptr && tool->type == TagType::kString ? tool->str
                               : is_tool                                         ? s.name
                                         : std::string_view();
  int64_t http_status = status != nullptr && status->type == TagType::kInt ? status->num : 0;

  // Span name: "{operation} {model or tool}" per the GenAI conventions,
  // else the tokmeter name.
  {
    thread_local std::string name;
    name.clear();
    if (!op.empty()) {
      name.append(op);
      std::string_view target = op == "execute_tool" ? tool_name
                                : model != nullptr && model->type == TagType::kString
                                    ? model->str
                                    : (op == "invoke_agent" ? s.name : std::string_view());
      if (!target.empty()) name.append(" ").append(target);
    } else {
      name.append(s.kind);
      if (!s.name.empty()) name.append(" ").append(s.name);
    }
    PutStringField(out, kSpanName, name);
  }
  PutVarintField(out, kSpanKind, s.kind == "llm" ? kSpanKindClient : kSpanKindInternal);
  PutFixed64Field(out, kSpanStart, uint64_t(s.start_unix_ns));
  PutFixed64Field(out, kSpanEnd, uint64_t(s.end_unix_ns));

  const Counters& c = s.counters;
  bool error = c[Counter::kErrors] > 0 || http_status >= 400;
  {
    Attributes a(out);
    if (!op.empty()) a.Str("gen_ai.operation.name", op);
    if (provider != nullptr) a.TagValue("gen_ai.provider.name", *provider);
    if (model != nullptr) a.TagValue("gen_ai.request.model", *model);
    if (response_model != nullptr) {
      a.TagValue("gen_ai.response.model", *response_model);
    } else if (model != nullptr) {
      a.TagValue("gen_ai.response.model", *model);
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
    if (const Tag* session = FindTag(s.trace_tags, "session")) {
      a.TagValue("gen_ai.conversation.id", *session);
    }
    if (const Tag* agent = FindTag(s.trace_tags, "agent")) a.TagValue("gen_ai.agent.id", *agent);
    if (!tool_name.empty()) a.Str("gen_ai.tool.name", tool_name);
    if (error) {
      if (http_status >= 400) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof(buf), http_status);
        a.Str("error.type", std::string_view(buf, r.ptr - buf));
      } else if (error_type != nullptr && error_type->type == TagType::kString) {
        a.Str("error.type", error_type->str);
      } else {
        a.Str("error.type", "_OTHER");
      }
    }
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
  if (error) {
    size_t st = BeginMessage(out, kSpanStatus);
    if (http_status >= 400) {
      std::string msg = "HTTP ";
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof(buf), http_status);
      msg.append(buf, r.ptr);
      PutBytesField(out, kStatusMessage, msg);
    }
    PutVarintField(out, kStatusCode, kStatusCodeError);
    EndLength(out, st);
  }
  PutFixed32Field(out, kSpanFlags, kFlags);
  EndLength(out, span);
}

std::string EncodeOtlpResource(std::string_view service_name,
                               const std::vector<std::pair<std::string, std::string>>& attrs) {
  std::string out;
  auto kv = [&](std::string_view k, std::string_view v) {
    size_t m = BeginMessage(out, 1);  // Resource.attributes
    PutStringField(out, kKeyValueKey, k);
    size_t any = BeginMessage(out, kKeyValueValue);
    PutStringField(out, kAnyString, v);
    EndLength(out, any);
    EndLength(out, m);
  };
  kv("service.name", service_name);
  kv("telemetry.sdk.name", "tokmeter");
  kv("telemetry.sdk.language", "cpp");
  kv("telemetry.sdk.version", kVersion);
  for (const auto& [k, v] : attrs) {
    if (k == "service.name" || k.rfind("telemetry.sdk.", 0) == 0) continue;
    kv(k, v);
  }
  return out;
}

void AppendExportRequestHead(std::string_view resource, size_t spans_size, std::string& out) {
  std::string scope;
  PutBytesField(scope, 1, kScopeName);
  PutBytesField(scope, 2, kVersion);
  std::string scope_spans_head;  // ScopeSpans.scope
  PutBytesField(scope_spans_head, 1, scope);
  size_t scope_spans = scope_spans_head.size() + spans_size;
  std::string resource_field;  // ResourceSpans.resource
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
