// Fuzzes the OTLP protobuf → OTLP JSON transcoder (src/otlp/otlp_json.h) with
// arbitrary bytes as a trace and as a metrics request. Invariants: never
// crash; a refused input appends nothing; an accepted one is one line of
// valid JSON whose top level is the request's one field.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "boost/json/parse.hpp"
#include "src/otlp/otlp_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (auto signal : {tokmeter::otlp::OtlpSignal::kTraces, tokmeter::otlp::OtlpSignal::kMetrics}) {
    std::string out = "x";
    absl::Status st = tokmeter::otlp::AppendOtlpJson(signal, in, out);
    if (!st.ok()) {
      if (out != "x") std::abort();
      continue;
    }
    std::string_view json = std::string_view(out).substr(1);
    if (json.find('\n') != std::string_view::npos) std::abort();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(json, ec);
    if (ec || !v.is_object()) std::abort();
  }
  return 0;
}
