// Shared core of the body and stream usage parsers: folds provider JSON
// objects (a whole body or one stream event) into a ParsedUsage.
#ifndef TOKMETER_SRC_USAGE_EXTRACTOR_H_
#define TOKMETER_SRC_USAGE_EXTRACTOR_H_

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "tokmeter/usage.h"

namespace tokmeter::usage_internal {

// Not thread-safe.
class Extractor {
 public:
  explicit Extractor(Provider hint) : hint_(hint) {}

  // One whole JSON value: a body, or one SSE data payload (`event` is the
  // SSE event name, empty for bodies and unnamed events).
  void HandleValue(const boost::json::value& v, std::string_view event);
  // The stream's `data: [DONE]`.
  void HandleDone() { complete_ = true; }
  // Marks a payload that was not JSON.
  void CountBadPayload() { ++out_.bad_payloads; }

  bool complete() const { return complete_; }
  Provider provider() const { return out_.provider; }
  // True once model and response id are known (later unnamed events that
  // carry neither usage nor error can be skipped).
  bool have_identity() const { return !out_.model.empty() && !out_.response_id.empty(); }

  // Normalizes the raw values into `out_` and returns it. `streaming`
  // decides whether `partial` can be set.
  const ParsedUsage& Normalize(bool streaming);
  ParsedUsage& mutable_result() { return out_; }

 private:
  void HandleObject(const boost::json::object& o, std::string_view event);
  // One usage object of `api`: its counts through SetUsageField
  // (tokmeter/provider_usage.h), nested objects and arrays flattened into
  // paths ("cache_creation.ephemeral_5m_input_tokens", "iterations.0.input_tokens").
  void Usage(Provider api, const boost::json::object& u);
  void UsageObject(Provider api, const boost::json::object& u, std::string& path);
  void GeminiChunk(const boost::json::object& o);
  void SetProvider(Provider p);
  void Error(const boost::json::object& e, std::string_view fallback_type);
  void Anomaly(UsageAnomaly a) {
    parse_flags_ |= a;
    ++parse_anomalies_;
  }

  Provider hint_;
  ParsedUsage out_;
  bool complete_ = false;
  int parse_anomalies_ = 0;  // anomalies seen while reading (not recomputed by Normalize)
  uint32_t parse_flags_ = 0;
};

}  // namespace tokmeter::usage_internal

#endif  // TOKMETER_SRC_USAGE_EXTRACTOR_H_
