// One provider HTTP request seen by the Python httpx transport: what the
// request asked for (model, output cap, streaming), the response's usage read
// from its body or SSE stream as the bytes pass through (never buffered for a
// stream), and, at the end, one `llm` span with all of it.
//
// The span is opened and closed inside Finish(), on whichever thread ends the
// response, with the times of the request (Span::SetTimes) and the parent
// that was current when the request was sent: a response read on another
// thread or after its caller's span closed is still recorded where it
// belongs.
#ifndef TOKMETER_BINDINGS_PYTHON_PROVIDER_CALL_H_
#define TOKMETER_BINDINGS_PYTHON_PROVIDER_CALL_H_

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tokmeter/span.h"
#include "tokmeter/usage.h"

namespace tokmeter::python {

// "anthropic" (or "messages"), "openai"/"chat", "responses", "gemini";
// None or "" is unknown. ValueError otherwise.
Provider ProviderFromString(const std::optional<std::string>& s);

// What a request body says about the call, read by skipping through the
// JSON without building it (fields are top-level; Gemini's output cap is in
// generationConfig). Missing fields stay empty.
struct RequestFacts {
  std::string model;
  // max_tokens, max_completion_tokens, max_output_tokens, or Gemini's
  // generationConfig.maxOutputTokens (the first one present).
  std::optional<int64_t> max_tokens;
  bool stream = false;         // "stream": true
  bool include_usage = false;  // "stream_options": {"include_usage": true}
};
RequestFacts ScanRequest(std::string_view body);

// Registers _tokmeter.ProviderCall and _tokmeter.scan_request.
void AddProviderCall(pybind11::module_& m);

}  // namespace tokmeter::python

#endif  // TOKMETER_BINDINGS_PYTHON_PROVIDER_CALL_H_
