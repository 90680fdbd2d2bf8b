// The OTLP/HTTP span exporter (include/tokmeter/otlp.h): Write encodes and
// queues; the HTTP exporter (http_exporter.h) posts from its sender thread.
#include <cstdlib>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/otlp/http_exporter.h"
#include "src/otlp/otlp_encoder.h"
#include "src/otlp/otlp_options.h"
#include "tokmeter/otlp.h"

namespace tokmeter {
namespace {

std::string S(absl::string_view v) { return std::string(v); }

class OtlpHttpSinkImpl : public OtlpHttpSink {
 public:
  OtlpHttpSinkImpl(OtlpOptions o, std::unique_ptr<otlp::HttpExporter> exporter)
      : opts_(std::move(o)),
        name_(exporter->options().name),
        resource_(otlp::EncodeOtlpResource(opts_.service_name, opts_.resource_attributes)),
        exporter_(std::move(exporter)) {
    if (opts_.max_batch_spans == 0) opts_.max_batch_spans = 1;
  }

  ~OtlpHttpSinkImpl() override { Close().IgnoreError(); }

  std::string_view name() const override { return name_; }

  absl::Status Write(const Batch& batch) override {
    // Spans the sender gave up on before this call. Taken first, so that a
    // Write never reports its own batch (which a fast collector can refuse
    // before Write returns): that batch's fate is the next Write's to tell.
    std::string failure = exporter_->TakeFailure();
    keys_.Add(batch);
    size_t n = batch.spans.size();
    size_t i = 0;
    absl::Status st;
    uint64_t dropped = 0;
    auto enqueue = [&](std::string chunk, size_t spans) {
      absl::Status s = exporter_->Enqueue(std::move(chunk), spans);
      if (s.code() == absl::StatusCode::kResourceExhausted) {
        dropped += spans;
      } else if (!s.ok() && st.ok()) {
        st = s;
      }
    };
    // Encode a request's worth of spans at a time, then queue them; the
    // drop records' span and the alerts' spans ride with the last chunk.
    do {
      size_t take = std::min(n - i, opts_.max_batch_spans);
      std::string chunk;
      chunk.reserve(take * (span_bytes_hint_ + 64));
      for (size_t k = 0; k < take; ++k) {
        const SpanRecord& s = batch.spans[i + k];
        otlp::AppendOtlpSpan(s, chunk,
                             s.is_trace_root ? std::string_view() : keys_.Find(s.trace_id));
      }
      if (take > 0) span_bytes_hint_ = chunk.size() / take;
      i += take;
      if (i == n && otlp::AppendOtlpDropSpan(batch.drops, drop_seq_ + 1, chunk)) {
        ++drop_seq_;
        ++take;
      }
      if (i == n) {
        for (const AlertRecord& a : batch.alerts) {
          otlp::AppendOtlpAlertSpan(a, ++alert_seq_, chunk);
          ++take;
        }
      }
      if (take > 0) enqueue(std::move(chunk), take);
    } while (i < n);
    keys_.Retire(batch);
    if (dropped > 0) {
      st = absl::ResourceExhaustedError(absl::StrCat(name_, ": queue full (", opts_.max_queue_spans,
                                                     " spans), ", dropped, " spans dropped"));
    }
    if (!failure.empty() && st.ok()) st = absl::UnavailableError(failure);
    return st;
  }

  absl::Status Flush() override {
    if (opts_.flush_timeout.count() > 0) {
      exporter_->WaitIdle(opts_.flush_timeout);
    }
    return absl::OkStatus();
  }

  absl::Status Close() override {
    std::lock_guard<std::mutex> lock(close_mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    return exporter_->Close();
  }

  OtlpStats stats() const override {
    otlp::HttpExporterStats e = exporter_->stats();
    OtlpStats s;
    s.spans_queued = e.items_queued;
    s.spans_exported = e.items_exported;
    s.spans_dropped = e.items_dropped;
    s.spans_failed = e.items_failed;
    s.requests = e.requests;
    s.retries = e.retries;
    s.bytes_sent = e.bytes_sent;
    return s;
  }

  bool WaitIdle(std::chrono::milliseconds timeout) override { return exporter_->WaitIdle(timeout); }

 private:
  OtlpOptions opts_;
  std::string name_;
  std::string resource_;  // encoded Resource
  std::unique_ptr<otlp::HttpExporter> exporter_;
  otlp::TraceKeys keys_;          // Write only
  uint64_t drop_seq_ = 0;         // Write only
  uint64_t alert_seq_ = 0;        // Write only
  size_t span_bytes_hint_ = 512;  // Write only: recent encoded bytes per span
  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
};

}  // namespace

namespace otlp {

// The HTTP exporter options every OTLP sink shares, for `url`.
HttpExporterOptions HttpOptionsOf(const OtlpOptions& o, std::string url) {
  HttpExporterOptions h;
  h.name = absl::StrCat("otlp:", url);
  h.url = std::move(url);
  h.headers = o.headers;
  h.gzip = o.gzip;
  h.timeout = o.timeout;
  h.max_retries = o.max_retries;
  h.initial_backoff = o.initial_backoff;
  h.max_backoff = o.max_backoff;
  h.max_retry_after = o.max_retry_after;
  h.close_timeout = o.close_timeout;
  h.ca_file = o.ca_file;
  h.insecure_skip_verify = o.insecure_skip_verify;
  h.on_error = o.on_error;
  return h;
}

}  // namespace otlp

OtlpOptions OtlpOptions::FromEnv() { return FromEnv(OtlpOptions{}); }

OtlpOptions OtlpOptions::FromEnv(OtlpOptions base) {
  auto env = [](const char* name) -> absl::string_view {
    const char* v = std::getenv(name);
    return v == nullptr ? absl::string_view() : absl::string_view(v);
  };
  if (auto v = env("OTEL_EXPORTER_OTLP_ENDPOINT"); !v.empty()) base.endpoint = S(v);
  if (auto v = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !v.empty()) base.traces_url = S(v);
  if (auto v = env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"); !v.empty()) base.metrics_url = S(v);
  if (auto v = env("OTEL_EXPORTER_OTLP_HEADERS"); !v.empty()) {
    for (auto& kv : otlp::ParseKeyValueList(v)) base.headers.push_back(std::move(kv));
  }
  if (auto v = env("OTEL_RESOURCE_ATTRIBUTES"); !v.empty()) {
    for (auto& kv : otlp::ParseKeyValueList(v)) {
      if (kv.first == "service.name") {
        base.service_name = kv.second;
      } else {
        base.resource_attributes.push_back(std::move(kv));
      }
    }
  }
  if (auto v = env("OTEL_SERVICE_NAME"); !v.empty()) base.service_name = S(v);
  if (auto v = env("OTEL_EXPORTER_OTLP_COMPRESSION"); !v.empty()) base.gzip = v == "gzip";
  if (auto v = env("OTEL_EXPORTER_OTLP_TIMEOUT"); !v.empty()) {
    int64_t ms;
    if (absl::SimpleAtoi(v, &ms) && ms > 0) base.timeout = std::chrono::milliseconds(ms);
  }
  return base;
}

absl::StatusOr<std::unique_ptr<OtlpHttpSink>> MakeOtlpHttpSink(OtlpOptions options) {
  std::string url = options.traces_url.empty() ? otlp::JoinUrl(options.endpoint, "/v1/traces")
                                               : options.traces_url;
  if (absl::StatusOr<otlp::Url> u = otlp::ParseUrl(url, "OTLP traces endpoint"); !u.ok()) {
    return u.status();
  }
  otlp::HttpExporterOptions h = otlp::HttpOptionsOf(options, std::move(url));
  h.max_batch_items = std::max<size_t>(options.max_batch_spans, 1);
  h.max_queue_items = options.max_queue_spans;
  h.item_noun = "spans";
  // The queue holds chunks of encoded spans; a request is one resource and
  // scope around the chunks it takes.
  std::string resource =
      otlp::EncodeOtlpResource(options.service_name, options.resource_attributes);
  auto assemble = [resource](std::span<const std::string> parts, std::string& body) {
    size_t spans_size = 0;
    for (const std::string& p : parts) spans_size += p.size();
    body.reserve(spans_size + resource.size() + 64);
    otlp::AppendExportRequestHead(resource, spans_size, body);
    for (const std::string& p : parts) body.append(p);
  };
  absl::StatusOr<std::unique_ptr<otlp::HttpExporter>> exporter =
      otlp::HttpExporter::Start(std::move(h), assemble);
  if (!exporter.ok()) return exporter.status();
  return std::unique_ptr<OtlpHttpSink>(
      new OtlpHttpSinkImpl(std::move(options), *std::move(exporter)));
}

}  // namespace tokmeter
