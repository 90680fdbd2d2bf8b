// src/otlp/http_exporter.h — POSTing bodies to one HTTP(S) endpoint from a
// sender thread: a bounded queue, batching, retries with backoff and jitter,
// Retry-After, gzip, drop counting, bounded flush and close. The OTLP trace
// and metrics sinks are built on it; any exporter that POSTs to one URL can be.
#ifndef TOKMETER_SRC_OTLP_HTTP_EXPORTER_H_
#define TOKMETER_SRC_OTLP_HTTP_EXPORTER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokmeter::otlp {

// A parsed http:// or https:// URL.
struct Url {
  bool tls = false;
  std::string host;
  std::string port;    // "80" / "443" when the URL has none
  std::string target;  // the path, "/v1/traces"
};
// InvalidArgument naming `what` ("OTLP endpoint") and the URL when it is not
// http(s)://host[:port][/path].
absl::StatusOr<Url> ParseUrl(absl::string_view url, absl::string_view what);

// {base}{path} with the base's trailing slashes removed.
std::string JoinUrl(absl::string_view base, absl::string_view path);

// "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES): keys
// and values trimmed and percent-decoded; items without '=' skipped.
std::vector<std::pair<std::string, std::string>> ParseKeyValueList(absl::string_view s);

// What the exporter sends and how hard it tries. The defaults are the OTLP
// exporter's (include/tokmeter/otlp.h documents each).
struct HttpExporterOptions {
  std::string url;   // the full URL posted to
  std::string name;  // for messages: "otlp:http://localhost:4318/v1/traces" ("": the URL)
  std::string content_type = "application/x-protobuf";
  std::vector<std::pair<std::string, std::string>> headers;
  bool gzip = false;  // Content-Encoding: gzip
  std::chrono::milliseconds timeout{10000};
  // Items (spans, data points, alerts: whatever the caller counts) one
  // request carries at most, and may wait in the queue at most.
  size_t max_batch_items = 4096;
  size_t max_queue_items = 65536;
  std::string item_noun = "items";  // "spans", in messages
  int max_retries = 5;
  // Retry every 5xx, not only 502, 503 and 504 (webhook receivers answer
  // 500 for passing trouble).
  bool retry_server_errors = false;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{8000};
  std::chrono::milliseconds max_retry_after{30000};
  std::chrono::milliseconds close_timeout{5000};
  std::string ca_file;
  bool insecure_skip_verify = false;
  std::function<void(const absl::Status&)> on_error;
};

struct HttpExporterStats {
  uint64_t items_queued = 0;    // accepted by Enqueue
  uint64_t items_exported = 0;  // in requests answered 2xx
  uint64_t items_dropped = 0;   // refused by Enqueue: the queue was full
  uint64_t items_failed = 0;    // in requests given up on (retries spent, 4xx, close deadline)
  uint64_t requests = 0;        // HTTP requests attempted
  uint64_t retries = 0;         // of which retries
  uint64_t bytes_sent = 0;      // request body bytes (after gzip)
};

// The sender. Parts are queued with the number of items they hold; the
// sender thread takes parts in order, up to max_batch_items items (at least
// one part), has `assemble` join them into one body, and POSTs it: 2xx is
// success; 429, 502, 503, 504 and network errors are retried (Retry-After
// honoured, else exponential backoff with ±50 % jitter); anything else fails
// the request at once.
//
// Thread-safety: every method may be called from any thread. Enqueue never
// waits for the network unless asked to (`block`).
class HttpExporter {
 public:
  // Joins parts into a request body (called on the sender thread).
  using Assemble = std::function<void(std::span<const std::string> parts, std::string& body)>;
  // Concatenation: the body is the parts one after the other (protobuf
  // messages of one type concatenate into one whose repeated fields hold
  // both).
  static void Concatenate(std::span<const std::string> parts, std::string& body);

  // Starts the sender thread. InvalidArgument for a bad URL.
  static absl::StatusOr<std::unique_ptr<HttpExporter>> Start(HttpExporterOptions options,
                                                             Assemble assemble = Concatenate);
  ~HttpExporter();  // Close()

  // Queues `part` holding `items` items. When the queue would hold more than
  // max_queue_items: drops the part, counts it and returns ResourceExhausted;
  // with `block`, waits for room instead (a part larger than the queue is
  // taken when the queue is empty). FailedPrecondition after Close.
  absl::Status Enqueue(std::string part, size_t items, bool block = false);
  // The message of the last request given up on since the previous call
  // ("" if none): sinks report it from their next Write.
  std::string TakeFailure();
  // Waits until everything queued so far was sent or given up on, at most
  // `timeout`. True when the queue is empty and no request is in flight.
  bool WaitIdle(std::chrono::milliseconds timeout);
  // Sends what is queued for at most close_timeout, then cancels the request
  // in flight and fails the rest (DeadlineExceeded saying how many items).
  // Joins the sender thread. Idempotent.
  absl::Status Close();
  HttpExporterStats stats() const;
  const HttpExporterOptions& options() const;

  class Impl;

 private:
  explicit HttpExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokmeter::otlp

#endif  // TOKMETER_SRC_OTLP_HTTP_EXPORTER_H_
