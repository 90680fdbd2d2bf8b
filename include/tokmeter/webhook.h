// tokmeter/webhook.h — the monitor's alerts (tokmeter/monitor.h) POSTed to a
// URL as they happen: one JSON object per alert, or Slack's {"text": …}.
//
//   auto hook = tokmeter::MakeWebhookSink({.url = "https://hooks.slack.com/services/…",
//                                          .slack = true});
//   tokmeter::Options o;
//   o.monitor = *tokmeter::Monitor::Create({.budgets = {"session=2M"}});
//   o.sinks.push_back(std::move(*hook));
//   o.on_error = [](std::string_view sink, const absl::Status& e) { log(sink, e); };
//
// The sink sends from a thread of its own through the OTLP exporter's HTTP
// sender (bounded queue, retries with backoff and jitter, Retry-After,
// TLS): Write only queues, so the flusher never waits for the network.
// An alert it cannot deliver — the queue was full, the retries ran out, the
// receiver refused it, Close's deadline passed — is counted (WebhookStats)
// and reported as an error from the next Write, Flush or Close, which the
// runtime hands to Options::on_error. Nothing is lost silently.
// Documented in docs/ALERTS.md.
#ifndef TOKMETER_WEBHOOK_H_
#define TOKMETER_WEBHOOK_H_

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

struct WebhookOptions {
  // http:// or https:// URL each alert is POSTed to. Messages name only its
  // scheme, host and port (a webhook URL's path is often its secret).
  std::string url;
  // Slack incoming-webhook body {"text": "<one-line summary>"} instead of
  // the alert's fields (docs/ALERTS.md shows both).
  bool slack = false;
  // Extra request headers (authentication).
  std::vector<std::pair<std::string, std::string>> headers;
  // Time one request may take: connect, TLS, send, response. Default 5 s.
  std::chrono::milliseconds timeout{5000};
  // Retries of one alert after a 5xx, a 429 or a network error; then it is
  // counted as failed. Other statuses (4xx) fail at once. Default 3.
  int max_retries = 3;
  // The first retry waits about this long (±50 % jitter), doubling up to
  // max_backoff; a Retry-After is honoured instead, capped at
  // max_retry_after. Defaults 500 ms, 5 s, 30 s.
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds max_retry_after{30000};
  // Alerts waiting to be sent at most; further ones are dropped and counted.
  // Default 1,024.
  size_t max_queue = 1024;
  // Flush (Runtime::Flush) waits at most this long for the queue to empty;
  // 0 only wakes the sender. Default 0.
  std::chrono::milliseconds flush_timeout{0};
  // Close sends what is queued for at most this long, then counts the rest
  // as failed. Default 5 s.
  std::chrono::milliseconds close_timeout{5000};
  // TLS: a PEM bundle of trusted CAs (empty: the system's); skipping
  // verification is for tests only.
  std::string ca_file;
  bool insecure_skip_verify = false;
  // Also called on the sender thread each time an alert finally fails. Must
  // not block; exceptions are swallowed.
  std::function<void(const absl::Status&)> on_error;
};

// Counts since the sink started. Thread-safe snapshot.
struct WebhookStats {
  uint64_t queued = 0;    // alerts accepted by Write
  uint64_t sent = 0;      // alerts the receiver accepted (2xx)
  uint64_t failed = 0;    // alerts given up on: retries spent, refused, Close's deadline
  uint64_t dropped = 0;   // alerts not queued: the queue was full
  uint64_t requests = 0;  // HTTP requests attempted
  uint64_t retries = 0;   // of which retries
};

// A Sink that POSTs each AlertRecord of a batch (spans, traces and roll-ups
// are ignored). Thread-safety: Write/Flush/Close follow the Sink contract;
// stats() and WaitIdle() may be called from any thread.
class WebhookSink : public Sink {
 public:
  virtual WebhookStats stats() const = 0;
  // Waits until every alert queued so far was sent or given up on, at most
  // `timeout`. True when nothing is queued or in flight.
  virtual bool WaitIdle(std::chrono::milliseconds timeout) = 0;
};

// Starts the sender thread. InvalidArgument for a missing or bad URL.
absl::StatusOr<std::unique_ptr<WebhookSink>> MakeWebhookSink(WebhookOptions options);

// The bodies the sink sends, for tests and for people wiring a receiver.
std::string WebhookJson(const AlertRecord& a);
std::string WebhookSlackJson(const AlertRecord& a);
// The one-line summary of the Slack body: "[<severity>] <rule>: <subject>
// - <message> (<tokens> tokens)" (the message and tokens parts only when
// present; line breaks become spaces).
std::string WebhookSummary(const AlertRecord& a);

}  // namespace tokmeter

#endif  // TOKMETER_WEBHOOK_H_
