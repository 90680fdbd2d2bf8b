// The webhook sink (include/tokmeter/webhook.h): each alert one JSON body,
// queued by Write and POSTed by the HTTP exporter's sender thread
// (http_exporter.h), one alert per request.
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "src/otlp/http_exporter.h"
#include "src/otlp/otlp_encoder.h"
#include "tokmeter/record.h"
#include "tokmeter/webhook.h"

namespace tokmeter {
namespace {

namespace json = boost::json;

std::string Hex(uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[size_t(i)] = kHex[v & 15];
  return out;
}

json::string_view J(std::string_view s) { return json::string_view(s.data(), s.size()); }

class WebhookSinkImpl : public WebhookSink {
 public:
  WebhookSinkImpl(WebhookOptions o, std::unique_ptr<otlp::HttpExporter> exporter)
      : opts_(std::move(o)), name_(exporter->options().name), exporter_(std::move(exporter)) {}
  ~WebhookSinkImpl() override { Close().IgnoreError(); }

  std::string_view name() const override { return name_; }

  absl::Status Write(const Batch& batch) override {
    // The alerts given up on before this call, taken first: a Write never
    // reports its own batch (a fast receiver can refuse it before Write
    // returns); that batch's fate is the next call's to tell.
    Failures earlier = TakeFailures();
    uint64_t dropped = 0;
    absl::Status other;
    for (const AlertRecord& a : batch.alerts) {
      absl::Status s =
          exporter_->Enqueue(opts_.slack ? WebhookSlackJson(a) : WebhookJson(a), /*items=*/1);
      if (s.code() == absl::StatusCode::kResourceExhausted) {
        ++dropped;
      } else if (!s.ok() && other.ok()) {
        other = s;
      }
    }
    std::string problems;
    if (dropped > 0) {
      absl::StrAppend(&problems, dropped, dropped == 1 ? " alert" : " alerts",
                      " dropped: the queue was full (", opts_.max_queue, " alerts)");
    }
    if (!other.ok()) absl::StrAppend(&problems, problems.empty() ? "" : "; ", other.message());
    return Report(std::move(problems), absl::StatusCode::kResourceExhausted, earlier);
  }

  absl::Status Flush() override {
    if (opts_.flush_timeout.count() > 0) exporter_->WaitIdle(opts_.flush_timeout);
    return Report("", absl::StatusCode::kOk, TakeFailures());
  }

  absl::Status Close() override {
    std::lock_guard<std::mutex> lock(close_mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    // Its own message (alerts left when the deadline passed) is counted in
    // `failed` and told by Report.
    exporter_->Close().IgnoreError();
    return Report("", absl::StatusCode::kOk, TakeFailures());
  }

  WebhookStats stats() const override {
    otlp::HttpExporterStats e = exporter_->stats();
    WebhookStats s;
    s.queued = e.items_queued;
    s.sent = e.items_exported;
    s.failed = e.items_failed;
    s.dropped = e.items_dropped;
    s.requests = e.requests;
    s.retries = e.retries;
    return s;
  }

  bool WaitIdle(std::chrono::milliseconds timeout) override { return exporter_->WaitIdle(timeout); }

 private:
  // The alerts given up on since the previous report, and the last reason.
  struct Failures {
    uint64_t n = 0;
    std::string last;
  };
  Failures TakeFailures() {
    std::lock_guard<std::mutex> lock(report_mu_);
    Failures f;
    // The reason first: the sender sets it after counting, so a reason
    // taken before the count belongs to an alert counted by now.
    f.last = exporter_->TakeFailure();
    const uint64_t failed = exporter_->stats().items_failed;
    f.n = failed - reported_failed_;
    reported_failed_ = failed;
    if (absl::StartsWith(f.last, name_ + ": ")) f.last.erase(0, name_.size() + 2);
    return f;
  }

  // `problems` of this call and the failures `f` as one error (OK when there
  // are none).
  absl::Status Report(std::string problems, absl::StatusCode code, const Failures& f) {
    if (f.n > 0) {
      if (!problems.empty()) problems.append("; ");
      absl::StrAppend(&problems, f.n, f.n == 1 ? " alert" : " alerts", " not delivered");
      if (!f.last.empty()) absl::StrAppend(&problems, " (last: ", f.last, ")");
      code = absl::StatusCode::kUnavailable;
    }
    if (problems.empty()) return absl::OkStatus();
    return absl::Status(code, absl::StrCat(name_, ": ", problems));
  }

  WebhookOptions opts_;
  std::string name_;
  std::unique_ptr<otlp::HttpExporter> exporter_;
  std::mutex report_mu_;
  uint64_t reported_failed_ = 0;  // guarded by report_mu_
  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
};

}  // namespace

std::string WebhookJson(const AlertRecord& a) {
  const Finding& f = a.finding;
  json::object o;
  o["rule"] = J(f.kind);
  o["severity"] = J(SeverityName(f.severity));
  o["subject"] = J(f.subject);
  o["scope"] = J(otlp::AlertScope(f));
  o["message"] = J(f.recommendation);
  o["tokens"] = f.tokens;
  if (!f.rule.empty()) o["condition"] = J(f.rule);
  json::object keys;
  for (const auto& [k, v] : f.keys) keys[J(k)] = J(v);
  o["keys"] = std::move(keys);
  json::object evidence;
  for (const auto& [k, v] : f.evidence) evidence[J(k)] = v;
  o["evidence"] = std::move(evidence);
  o["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixNanos(a.time_unix_ns),
                               absl::UTCTimeZone());
  o["time_unix_nano"] = a.time_unix_ns;
  if (a.trace_id.hi != 0 || a.trace_id.lo != 0) {
    o["trace_id"] = Hex(a.trace_id.hi) + Hex(a.trace_id.lo);
    o["span_id"] = Hex(a.span_id);
  }
  return json::serialize(o);
}

std::string WebhookSummary(const AlertRecord& a) {
  const Finding& f = a.finding;
  std::string out =
      absl::StrCat("[", std::string(SeverityName(f.severity)), "] ", f.kind, ": ", f.subject);
  if (!f.recommendation.empty()) absl::StrAppend(&out, " - ", f.recommendation);
  if (f.tokens > 0) absl::StrAppend(&out, " (", f.tokens, " tokens)");
  return absl::StrReplaceAll(out, {{"\r\n", " "}, {"\n", " "}, {"\r", " "}});
}

std::string WebhookSlackJson(const AlertRecord& a) {
  // Slack reads &, < and > in text as markup: escaped as its API asks.
  json::object o;
  o["text"] =
      absl::StrReplaceAll(WebhookSummary(a), {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}});
  return json::serialize(o);
}

absl::StatusOr<std::unique_ptr<WebhookSink>> MakeWebhookSink(WebhookOptions options) {
  if (options.url.empty()) return absl::InvalidArgumentError("webhook: url is empty");
  absl::StatusOr<otlp::Url> url = otlp::ParseUrl(options.url, "webhook url");
  if (!url.ok()) return url.status();
  otlp::HttpExporterOptions h;
  h.url = options.url;
  h.name = absl::StrCat("webhook:", url->tls ? "https://" : "http://", url->host, ":", url->port);
  h.content_type = "application/json";
  h.headers = options.headers;
  h.timeout = options.timeout;
  h.max_batch_items = 1;  // one alert per request: what webhook receivers take
  h.max_queue_items = options.max_queue == 0 ? 1 : options.max_queue;
  h.item_noun = "alerts";
  h.max_retries = options.max_retries;
  h.retry_server_errors = true;
  h.initial_backoff = options.initial_backoff;
  h.max_backoff = options.max_backoff;
  h.max_retry_after = options.max_retry_after;
  h.close_timeout = options.close_timeout;
  h.ca_file = options.ca_file;
  h.insecure_skip_verify = options.insecure_skip_verify;
  h.on_error = options.on_error;
  auto exporter = otlp::HttpExporter::Start(std::move(h));
  if (!exporter.ok()) return exporter.status();
  return std::unique_ptr<WebhookSink>(
      new WebhookSinkImpl(std::move(options), std::move(*exporter)));
}

}  // namespace tokmeter
