// src/otlp/otlp_json.h — OTLP protobuf requests as OTLP JSON: what the
// OpenTelemetry Collector's file exporter writes, one request per line, and
// what tokmeter's OTLP JSON reader reads back. Transcoded from the protobuf
// bytes the encoders produce, so both forms always say the same thing.
#ifndef TOKMETER_SRC_OTLP_OTLP_JSON_H_
#define TOKMETER_SRC_OTLP_OTLP_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tokmeter::otlp {

enum class OtlpSignal { kTraces, kMetrics };

// Appends the ExportTraceServiceRequest or ExportMetricsServiceRequest in
// `proto` as one line of OTLP JSON (no trailing newline): lowerCamelCase
// field names, trace and span ids as hex, enums as integers, 64-bit integers
// as decimal strings, bytes as base64, default values omitted (the OTLP/JSON
// rules of the OTLP specification). Fields tokmeter does not know are
// skipped. InvalidArgument when `proto` is not a well-formed message.
absl::Status AppendOtlpJson(OtlpSignal signal, std::string_view proto, std::string& out);

}  // namespace tokmeter::otlp

#endif  // TOKMETER_SRC_OTLP_OTLP_JSON_H_
