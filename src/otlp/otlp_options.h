// src/otlp/otlp_options.h — what the OTLP sinks share: their options as the
// HTTP exporter's (src/otlp/http_exporter.h).
#ifndef TOKMETER_SRC_OTLP_OTLP_OPTIONS_H_
#define TOKMETER_SRC_OTLP_OTLP_OPTIONS_H_

#include <string>

#include "src/otlp/http_exporter.h"
#include "tokmeter/otlp.h"

namespace tokmeter::otlp {

// Headers, gzip, timeouts, retries, TLS and on_error of `o`, posting to
// `url`, named "otlp:<url>" in messages.
HttpExporterOptions HttpOptionsOf(const OtlpOptions& o, std::string url);

}  // namespace tokmeter::otlp

#endif  // TOKMETER_SRC_OTLP_OTLP_OPTIONS_H_
