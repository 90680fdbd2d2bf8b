// src/otlp/otlp_encoder.h — tokmeter spans as OTLP protobuf
// (opentelemetry.proto.trace.v1), with the GenAI semantic conventions v1.41.
#ifndef TOKMETER_SRC_OTLP_OTLP_ENCODER_H_
#define TOKMETER_SRC_OTLP_OTLP_ENCODER_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokmeter/record.h"

namespace tokmeter::otlp {

// Appends `s` as one `ScopeSpans.spans` entry (field 2: tag, length, Span).
// Concatenations of such entries are the `spans` of EncodeExportRequest.
// Attribute mapping (docs/FORMAT.md counters are disjoint buckets):
//   gen_ai.operation.name      chat (kind llm), embeddings, execute_tool
//                              (tool), invoke_agent (agent, subagent, turn,
//                              session, trace roots)
//   gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model
//                              tags provider, model (response_model if set)
//   gen_ai.usage.input_tokens  input + cache_read + cache_write (inclusive)
//   gen_ai.usage.output_tokens, .cache_read.input_tokens,
//   .cache_creation.input_tokens, .reasoning.output_tokens
//   gen_ai.conversation.id     trace tag session;  gen_ai.agent.id: trace tag agent
//   gen_ai.tool.name           tag tool (tool spans: the span name if unset)
//   error.type                 on error: the HTTP status, else tag error_type, else _OTHER
//   tokmeter.*                 kind, name, thread, root, fingerprint, the other
//                              counters, user counters, span and trace tags
// Status is ERROR when errors > 0 or status >= 400. Thread-compatible.
void AppendOtlpSpan(const SpanRecord& s, std::string& out);

// An encoded `Resource` message with service.name, telemetry.sdk.* and `attrs`.
std::string EncodeOtlpResource(std::string_view service_name,
                               const std::vector<std::pair<std::string, std::string>>& attrs);

// Appends an ExportTraceServiceRequest with one ResourceSpans (`resource`,
// from EncodeOtlpResource) holding one ScopeSpans (scope "tokmeter") whose
// spans are `spans` (AppendOtlpSpan output).
void AppendExportRequest(std::string_view resource, std::string_view spans, std::string& out);
// The same request in two steps, for spans held in several buffers: appends
// everything up to the spans, for spans totalling `spans_size` bytes; the
// caller then appends the spans themselves.
void AppendExportRequestHead(std::string_view resource, size_t spans_size, std::string& out);

}  // namespace tokmeter::otlp

#endif  // TOKMETER_SRC_OTLP_OTLP_ENCODER_H_
