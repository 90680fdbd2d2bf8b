// tokmeter/otlp.h — exporting spans and metrics over OTLP/HTTP (protobuf) to
// an OpenTelemetry Collector (or any OTLP backend), with the GenAI semantic
// conventions v1.41.0 (docs/OTLP.md).
#ifndef TOKMETER_OTLP_H_
#define TOKMETER_OTLP_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tokmeter/sink.h"

namespace tokmeter {

// How the OTLP/HTTP exporter sends. Plain struct: use designated
// initializers. Nothing is read from the environment unless FromEnv() is
// called.
struct OtlpOptions {
  // Base URL of the collector, http:// or https://; spans are POSTed to
  // {endpoint}/v1/traces. Default "http://localhost:4318" (the OTLP/HTTP port).
  std::string endpoint = "http://localhost:4318";
  // Extra request headers (authentication, tenant), sent with every request.
  std::vector<std::pair<std::string, std::string>> headers;
  // Resource attribute `service.name`. Default "tokmeter".
  std::string service_name = "tokmeter";
  // Other resource attributes (deployment.environment.name, host.name, ...),
  // string values.
  std::vector<std::pair<std::string, std::string>> resource_attributes;
  // Compress request bodies with gzip (Content-Encoding: gzip). Less
  // bandwidth for some CPU on the sender thread. Default off.
  bool gzip = false;
  // Time one request may take: connect, TLS handshake, send and response.
  // Default 10 s.
  std::chrono::milliseconds timeout{10000};
  // Spans per request (OTLP batch; ~800 bytes a span with GenAI attributes,
  // so the default makes requests of ~3 MB, well under a Collector's 20 MiB
  // limit). Larger batches mean fewer round trips. Default 4096.
  size_t max_batch_spans = 4096;
  // Spans waiting to be sent (encoded) before Write drops new ones and counts
  // them; bounds the memory the exporter holds while the collector is slow
  // or down (~300 bytes a span). Default 65,536.
  size_t max_queue_spans = 65536;
  // Retries of one request after a 429, 502, 503, 504 or a network error
  // (refused, reset, timed out). After the last one its spans are dropped
  // and counted. Default 5.
  int max_retries = 5;
  // First retry waits about this long (with ±50 % jitter), doubling up to
  // max_backoff. A Retry-After header (seconds or HTTP date) is honoured
  // instead, capped at max_retry_after. Defaults 250 ms, 8 s, 30 s.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{8000};
  std::chrono::milliseconds max_retry_after{30000};
  // Close() sends what is queued for at most this long, then drops the rest
  // (counted) and cancels a request in flight. Default 5 s.
  std::chrono::milliseconds close_timeout{5000};
  // Flush() (from Runtime::Flush) waits at most this long for the queue to
  // be sent. 0: Flush only wakes the sender and returns; the runtime's
  // flusher itself never waits for the network. Default 0.
  std::chrono::milliseconds flush_timeout{0};
  // TLS: a PEM bundle of trusted CAs (empty: the system's), and whether to
  // skip certificate and host name verification (tests only).
  std::string ca_file;
  bool insecure_skip_verify = false;
  // Called on the sender thread when a request finally fails (its spans are
  // dropped). Must not block. Exceptions it throws are swallowed.
  std::function<void(const absl::Status&)> on_error;

  // `base` overridden by the standard variables, when set and non-empty:
  // OTEL_EXPORTER_OTLP_ENDPOINT (base URL), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  // (full URL, used as is), OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2",
  // percent-decoded), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
  // OTEL_EXPORTER_OTLP_COMPRESSION ("gzip"), OTEL_EXPORTER_OTLP_TIMEOUT (ms).
  static OtlpOptions FromEnv(OtlpOptions base);
  static OtlpOptions FromEnv();  // FromEnv(OtlpOptions{})

  // When set, the URL spans are posted to (FromEnv's
  // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); otherwise {endpoint}/v1/traces.
  std::string traces_url;
  // When set, the URL metrics are posted to (FromEnv's
  // OTEL_EXPORTER_OTLP_METRICS_ENDPOINT); otherwise {endpoint}/v1/metrics.
  std::string metrics_url;
};

// Counts since the exporter started. Thread-safe snapshot.
struct OtlpStats {
  uint64_t spans_queued = 0;    // spans accepted by Write
  uint64_t spans_exported = 0;  // spans in requests the collector accepted (2xx)
  uint64_t spans_dropped = 0;   // spans not queued because the queue was full
  uint64_t spans_failed = 0;    // spans of requests given up on (retries spent,
                                // 4xx, or Close's deadline)
  uint64_t requests = 0;        // HTTP requests attempted
  uint64_t retries = 0;         // of which retries
  uint64_t bytes_sent = 0;      // request body bytes (after gzip)
};

// The OTLP/HTTP exporter: a Sink whose Write encodes spans and queues them;
// a sender thread the sink owns posts them.
//
// Thread-safety: Write/Flush/Close follow the Sink contract (one caller at a
// time); stats() and WaitIdle() may be called from any thread. Write never
// blocks on the network. Trace records give
// each span its trace's tags and key (gen_ai.conversation.id is the session
// tag, else the key); drop records become one span "tokmeter.records_dropped"
// per batch with an event per record; the monitor's alerts
// (tokmeter/monitor.h) each become a span "tokmeter.alert {rule}" under the
// span that made it fire, with one event "tokmeter.alert" (rule, severity,
// subject, scope, message, tokens: docs/OTLP.md); roll-ups are not exported
// (metrics and backends aggregate spans themselves).
class OtlpHttpSink : public Sink {
 public:
  virtual OtlpStats stats() const = 0;
  // Waits until every span queued so far was exported or given up on, at
  // most `timeout`. True when the queue is empty and no request is in flight.
  virtual bool WaitIdle(std::chrono::milliseconds timeout) = 0;
};

// Starts the sender thread. InvalidArgument for a bad endpoint URL.
absl::StatusOr<std::unique_ptr<OtlpHttpSink>> MakeOtlpHttpSink(OtlpOptions options);

// How metric data points relate across exports: each point holds what
// happened since the previous export (delta), or since the exporter started
// (cumulative; what Prometheus expects).
enum class OtlpTemporality { kDelta, kCumulative };

// The OTLP metrics exporter: spans are aggregated into
//   gen_ai.client.token.usage         histogram {token}, by gen_ai.token.type
//                                     (input: input + cache read + cache
//                                     write; output)
//   gen_ai.client.operation.duration  histogram s, spans with a GenAI
//                                     operation (chat, execute_tool, ...)
//   tokmeter.cache_read.tokens, tokmeter.cache_write.tokens   sums {token}
//   tokmeter.rate_limited.requests, tokmeter.retries, tokmeter.tool.calls,
//   tokmeter.errors, tokmeter.records.dropped                 sums
//   tokmeter.alerts                   sum {alert}: the monitor's alerts, by
//                                     tokmeter.alert.rule and
//                                     tokmeter.alert.severity
//   tokmeter.cost                     sum USD: only from `tokmeter export`,
//                                     which knows prices (the capture library
//                                     has none, so a runtime's sink omits it)
// with the bucket boundaries the GenAI conventions advise, by the allow-
// listed attributes (docs/OTLP.md), and posted to {endpoint}/v1/metrics on
// the same HTTP client, queue and retry rules as spans.
struct OtlpMetricsOptions {
  // Endpoint, headers, resource, gzip, timeouts, retries, TLS, on_error and
  // metrics_url as for spans (the span-only fields are ignored).
  OtlpOptions otlp;
  // Default cumulative (the OpenTelemetry SDK default).
  OtlpTemporality temporality = OtlpTemporality::kCumulative;
  // Write exports when this long has passed since the previous export;
  // Flush and Close always export what changed. Default 60 s (the SDK's
  // periodic reader).
  std::chrono::milliseconds export_interval{60000};
  // The attributes data points carry (bounded cardinality: every distinct
  // combination of values is one series). Allowed keys:
  //   gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
  //   gen_ai.response.model, error.type (the default list),
  //   gen_ai.agent.name, gen_ai.agent.id, gen_ai.tool.name,
  //   gen_ai.workflow.name, gen_ai.conversation.id (one series per
  //   conversation: use with care), and tokmeter.<tag> for a span or trace
  //   tag. gen_ai.token.type is always on the token histogram. Any other key
  //   is refused by MakeOtlpMetricsSink.
  std::vector<std::string> attributes = {"gen_ai.operation.name", "gen_ai.provider.name",
                                         "gen_ai.request.model", "gen_ai.response.model",
                                         "error.type"};
  // Series (attribute combinations) kept at most; spans of further
  // combinations are counted in one series with the single attribute
  // otel.metric.overflow=true (the SDK cardinality-limit convention).
  // Default 2,000.
  size_t max_series = 2000;

  // `base` overridden by OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (full URL),
  // OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (cumulative | delta),
  // OTEL_METRIC_EXPORT_INTERVAL (ms) and everything OtlpOptions::FromEnv
  // reads.
  static OtlpMetricsOptions FromEnv(OtlpMetricsOptions base);
  static OtlpMetricsOptions FromEnv();
};

struct OtlpMetricsStats {
  uint64_t spans_recorded = 0;    // spans aggregated
  uint64_t spans_overflowed = 0;  // of which into the overflow series
  uint64_t series = 0;            // series held now
  uint64_t exports = 0;           // collections queued as requests
  uint64_t points_exported = 0;   // data points in requests the backend accepted
  uint64_t points_dropped = 0;    // not queued: the queue was full
  uint64_t points_failed = 0;     // in requests given up on
  uint64_t requests = 0;          // HTTP requests attempted
  uint64_t retries = 0;           // of which retries
  uint64_t bytes_sent = 0;        // request body bytes (after gzip)
};

// Thread-safety: as OtlpHttpSink. Write aggregates in memory (no encoding
// per span); exports are encoded on the calling thread and sent by the
// sink's sender thread.
class OtlpMetricsSink : public Sink {
 public:
  virtual OtlpMetricsStats stats() const = 0;
  // Waits until every export queued so far was sent or given up on.
  virtual bool WaitIdle(std::chrono::milliseconds timeout) = 0;
};

// Starts the sender thread. InvalidArgument for a bad endpoint URL or an
// attribute key that is not allowed (the message names it).
absl::StatusOr<std::unique_ptr<OtlpMetricsSink>> MakeOtlpMetricsSink(OtlpMetricsOptions options);

}  // namespace tokmeter

#endif  // TOKMETER_OTLP_H_
