// src/otlp/otlp_encoder.h — tokmeter spans as OTLP protobuf
// (opentelemetry.proto.trace.v1) with the GenAI semantic conventions, and
// the GenAI facts of a span that the metrics share (src/otlp/metrics.h).
#ifndef TOKMETER_SRC_OTLP_OTLP_ENCODER_H_
#define TOKMETER_SRC_OTLP_OTLP_ENCODER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tokmeter/record.h"

namespace tokmeter::otlp {

// The version of the OpenTelemetry semantic conventions whose GenAI
// attributes, span names and metrics tokmeter writes: 1.41.0, the last
// release of open-telemetry/semantic-conventions that holds the GenAI
// conventions (docs/gen-ai/, docs/registry/attributes/gen-ai.md). Written as
// the schema URL of every scope tokmeter exports.
inline constexpr std::string_view kSemconvVersion = "1.41.0";
inline constexpr std::string_view kSemconvSchemaUrl = "https://opentelemetry.io/schemas/1.41.0";
// The instrumentation scope of everything tokmeter exports.
inline constexpr std::string_view kScopeName = "tokmeter";

// What the GenAI conventions make of one span; computed once per span by
// Describe and shared by the span encoder and the metrics. Views point into
// the span (or into `error_buf`).
struct GenAiFacts {
  // gen_ai.operation.name: chat (kind llm or chat), embeddings (embedding,
  // embeddings), retrieval, execute_tool (tool), invoke_agent (agent,
  // subagent, turn, session, and trace roots), invoke_workflow (workflow,
  // and trace roots of kind workflow); "" for any other kind.
  std::string_view operation;
  const Tag* provider = nullptr;        // tag provider
  const Tag* model = nullptr;           // tag model
  const Tag* response_model = nullptr;  // tag response_model
  const Tag* session = nullptr;         // trace tag session
  const Tag* agent = nullptr;           // trace tag agent
  std::string_view tool_name;           // tag tool; a tool span's own name when unset
  // invoke_agent: an agent span's own name, else the trace tag agent.
  std::string_view agent_name;
  // invoke_workflow: the trace tag workflow, else a workflow span's name.
  std::string_view workflow_name;
  // gen_ai.conversation.id: the trace tag session, else the trace's key
  // (the id given to tokmeter::Trace: a root's own name, else `trace_key`).
  std::string_view conversation_id;
  int64_t http_status = 0;  // tag status (an int), 0 if unset
  bool error = false;       // errors > 0 or status >= 400
  // error.type: the HTTP status, else tag error_type, else _OTHER.
  std::string_view error_type;
  char error_buf[24];
};
void Describe(const SpanRecord& s, std::string_view trace_key, GenAiFacts& f);

// The span tags the GenAI facts read (the last value of each key), found in
// one pass; null when absent.
struct SpanTags {
  const Tag* provider = nullptr;
  const Tag* model = nullptr;
  const Tag* response_model = nullptr;
  const Tag* status = nullptr;
  const Tag* error_type = nullptr;
  const Tag* tool = nullptr;
};
void ScanTags(const SpanRecord& s, SpanTags& t);
// Describe with the span's tags already scanned.
void Describe(const SpanRecord& s, const SpanTags& t, std::string_view trace_key, GenAiFacts& f);

// The key of each trace (the id given to tokmeter::Trace), remembered from a
// sink's batches: TraceRecords add, trace roll-ups (the trace is over)
// remove. Bounded: when more than `max_traces` are open, the oldest half is
// forgotten (their spans then get the session tag only). Thread-compatible.
class TraceKeys {
 public:
  explicit TraceKeys(size_t max_traces = 65536) : max_(max_traces) {}
  void Add(const Batch& batch);     // before encoding the batch's spans
  void Retire(const Batch& batch);  // after
  std::string_view Find(const TraceId& id) const;
  size_t size() const { return keys_.size(); }

 private:
  size_t max_;
  uint64_t seq_ = 0;
  absl::flat_hash_map<TraceId, std::pair<uint64_t, std::string>> keys_;  // id → (seq, key)
};

// Appends `s` as one `ScopeSpans.spans` entry (field 2: tag, length, Span).
// Concatenations of such entries are the `spans` of AppendExportRequest.
// `trace_key` is the trace's key for gen_ai.conversation.id (see
// GenAiFacts); "" when unknown. Attribute mapping (docs/OTLP.md):
//   gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
//   gen_ai.response.model (response_model, else model),
//   gen_ai.usage.input_tokens  input + cache_read + cache_write (inclusive)
//   gen_ai.usage.output_tokens, .cache_read.input_tokens,
//   .cache_creation.input_tokens, .reasoning.output_tokens
//   gen_ai.conversation.id, gen_ai.agent.id (trace tag agent),
//   gen_ai.agent.name (invoke_agent), gen_ai.workflow.name (invoke_workflow),
//   gen_ai.tool.name, error.type
//   tokmeter.*                 kind, name, thread, root, fingerprint, the other
//                              counters, user counters, span and trace tags
// Span names follow the conventions ("chat {model}", "execute_tool {tool}",
// "invoke_agent {agent}", ...); kind CLIENT for chat, embeddings and
// retrieval, INTERNAL otherwise. Status is ERROR when errors > 0 or
// status >= 400. Thread-compatible.
void AppendOtlpSpan(const SpanRecord& s, std::string& out, std::string_view trace_key = {});

// Appends the batch's drop records as one span entry (like AppendOtlpSpan):
// a span "tokmeter.records_dropped" from the first drop to the last, status
// ERROR, with one event per record (thread.id, tokmeter.dropped,
// tokmeter.total_dropped). It carries no gen_ai.* or tokmeter.* span
// attributes, so readers of the spans do not take it for usage. Its trace
// and span ids are derived from `seq` and the drop times. Nothing for no
// drops. Returns whether a span was appended.
bool AppendOtlpDropSpan(std::span<const DropRecord> drops, uint64_t seq, std::string& out);

// Appends an alert (tokmeter/monitor.h) as one span entry (like
// AppendOtlpSpan): a zero-length span "tokmeter.alert {rule}" at the alert's
// time, in the trace of the record that made it fire and a child of that
// record's span (an alert raised by time passing gets a trace of its own,
// its ids derived from `seq` and the time), with one event "tokmeter.alert"
// whose attributes are tokmeter.alert.rule (the finding's kind), .severity
// (info | warning | critical), .subject, .scope (the finding's keys as
// "k=v,k=v"; "" for all traffic), .message (the recommendation), .tokens,
// .condition (the rule and its threshold), .key.<k> per key and
// .evidence.<name> (double) per evidence value. No gen_ai.* or tokmeter.*
// span attributes: readers of the spans do not take it for usage.
void AppendOtlpAlertSpan(const AlertRecord& a, uint64_t seq, std::string& out);
// The finding's keys as "k=v,k=v" ("" when it has none).
std::string AlertScope(const Finding& f);

// An encoded `Resource` message with service.name, telemetry.sdk.* and `attrs`.
std::string EncodeOtlpResource(std::string_view service_name,
                               const std::vector<std::pair<std::string, std::string>>& attrs);

// Appends an ExportTraceServiceRequest with one ResourceSpans (`resource`,
// from EncodeOtlpResource) holding one ScopeSpans (scope "tokmeter", schema
// URL kSemconvSchemaUrl) whose spans are `spans` (AppendOtlpSpan output).
void AppendExportRequest(std::string_view resource, std::string_view spans, std::string& out);
// The same request in two steps, for spans held in several buffers: appends
// everything up to the spans, for spans totalling `spans_size` bytes; the
// caller then appends the spans themselves.
void AppendExportRequestHead(std::string_view resource, size_t spans_size, std::string& out);

// An encoded InstrumentationScope "tokmeter" with the version.
std::string EncodeOtlpScope();

// A protobuf `string` field: invalid UTF-8 becomes U+FFFD (OTLP receivers
// reject invalid UTF-8).
void PutStringField(std::string& out, uint32_t field, std::string_view v);
// A KeyValue (key, AnyValue) as field `field` of the enclosing message.
void PutStringAttribute(std::string& out, uint32_t field, std::string_view key,
                        std::string_view value);
void PutIntAttribute(std::string& out, uint32_t field, std::string_view key, int64_t value);
void PutBoolAttribute(std::string& out, uint32_t field, std::string_view key, bool value);
void PutDoubleAttribute(std::string& out, uint32_t field, std::string_view key, double value);
// A tag as a KeyValue: string, int or bool.
void PutTagAttribute(std::string& out, uint32_t field, std::string_view key, const Tag& t);

}  // namespace tokmeter::otlp

#endif  // TOKMETER_SRC_OTLP_OTLP_ENCODER_H_
