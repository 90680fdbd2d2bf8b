// The OTLP/HTTP metrics exporter (include/tokmeter/otlp.h): Write aggregates
// spans (src/otlp/metrics.h); every export_interval, and on Flush and Close,
// the aggregate is encoded and queued on the HTTP exporter
// (src/otlp/http_exporter.h), which posts it from its sender thread.
#include <atomic>
#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/otlp/http_exporter.h"
#include "src/otlp/metrics.h"
#include "src/otlp/otlp_encoder.h"
#include "src/otlp/otlp_options.h"
#include "tokmeter/otlp.h"

namespace tokmeter {
namespace {

using Clock = std::chrono::steady_clock;

class OtlpMetricsSinkImpl : public OtlpMetricsSink {
 public:
  OtlpMetricsSinkImpl(OtlpMetricsOptions o, otlp::MetricsAggregator agg,
                      std::unique_ptr<otlp::HttpExporter> exporter)
      : opts_(std::move(o)),
        name_(exporter->options().name),
        resource_(
            otlp::EncodeOtlpResource(opts_.otlp.service_name, opts_.otlp.resource_attributes)),
        agg_(std::move(agg)),
        exporter_(std::move(exporter)),
        last_export_(Clock::now()) {}

  ~OtlpMetricsSinkImpl() override { Close().IgnoreError(); }

  std::string_view name() const override { return name_; }

  absl::Status Write(const Batch& batch) override {
    std::string failure = exporter_->TakeFailure();
    if (agg_.uses_trace_key()) {
      agg_.BeginBatch();
      keys_.Add(batch);
      for (const SpanRecord& s : batch.spans) {
        agg_.Record(s, s.is_trace_root ? std::string_view() : keys_.Find(s.trace_id));
      }
      keys_.Retire(batch);
    } else {
      agg_.RecordSpans(batch.spans);
    }
    uint64_t dropped = 0;
    for (const DropRecord& d : batch.drops) dropped += d.dropped;
    if (!batch.drops.empty()) agg_.RecordDrops(dropped);
    for (const AlertRecord& a : batch.alerts) agg_.RecordAlert(a.finding.kind, a.finding.severity);
    Publish();
    absl::Status st;
    if (Clock::now() - last_export_ >= opts_.export_interval) st = Export();
    if (!failure.empty() && st.ok()) st = absl::UnavailableError(failure);
    return st;
  }

  absl::Status Flush() override {
    absl::Status st = Export();
    if (opts_.otlp.flush_timeout.count() > 0) exporter_->WaitIdle(opts_.otlp.flush_timeout);
    return st;
  }

  absl::Status Close() override {
    std::lock_guard<std::mutex> lock(close_mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    absl::Status st = Export();
    absl::Status c = exporter_->Close();
    return st.ok() ? c : st;
  }

  OtlpMetricsStats stats() const override {
    otlp::HttpExporterStats e = exporter_->stats();
    OtlpMetricsStats s;
    s.spans_recorded = spans_recorded_.load(std::memory_order_relaxed);
    s.spans_overflowed = spans_overflowed_.load(std::memory_order_relaxed);
    s.series = series_.load(std::memory_order_relaxed);
    s.exports = exports_.load(std::memory_order_relaxed);
    s.points_exported = e.items_exported;
    s.points_dropped = e.items_dropped;
    s.points_failed = e.items_failed;
    s.requests = e.requests;
    s.retries = e.retries;
    s.bytes_sent = e.bytes_sent;
    return s;
  }

  bool WaitIdle(std::chrono::milliseconds timeout) override { return exporter_->WaitIdle(timeout); }

 private:
  // Encodes what changed and queues it (never waits for the network).
  absl::Status Export() {
    last_export_ = Clock::now();
    if (!agg_.dirty() && opts_.temporality == OtlpTemporality::kDelta) return absl::OkStatus();
    if (!agg_.dirty() && exported_once_) return absl::OkStatus();
    std::string body;
    size_t points = agg_.Collect(resource_, absl::GetCurrentTimeNanos(), body);
    Publish();
    if (points == 0) return absl::OkStatus();
    exported_once_ = true;
    exports_.fetch_add(1, std::memory_order_relaxed);
    return exporter_->Enqueue(std::move(body), points);
  }

  void Publish() {
    spans_recorded_.store(agg_.spans_recorded(), std::memory_order_relaxed);
    spans_overflowed_.store(agg_.spans_overflowed(), std::memory_order_relaxed);
    series_.store(agg_.series(), std::memory_order_relaxed);
  }

  OtlpMetricsOptions opts_;
  std::string name_;
  std::string resource_;
  otlp::MetricsAggregator agg_;  // Write/Flush/Close only (the Sink contract)
  std::unique_ptr<otlp::HttpExporter> exporter_;
  otlp::TraceKeys keys_;
  Clock::time_point last_export_;
  bool exported_once_ = false;
  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
  // Stats published for stats() from other threads; relaxed snapshots.
  std::atomic<uint64_t> spans_recorded_{0}, spans_overflowed_{0}, series_{0}, exports_{0};
};

}  // namespace

OtlpMetricsOptions OtlpMetricsOptions::FromEnv() { return FromEnv(OtlpMetricsOptions{}); }

OtlpMetricsOptions OtlpMetricsOptions::FromEnv(OtlpMetricsOptions base) {
  base.otlp = OtlpOptions::FromEnv(std::move(base.otlp));
  if (const char* v = std::getenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")) {
    std::string t = absl::AsciiStrToLower(v);
    if (t == "delta") base.temporality = OtlpTemporality::kDelta;
    if (t == "cumulative") base.temporality = OtlpTemporality::kCumulative;
  }
  if (const char* v = std::getenv("OTEL_METRIC_EXPORT_INTERVAL")) {
    int64_t ms;
    if (absl::SimpleAtoi(v, &ms) && ms > 0) base.export_interval = std::chrono::milliseconds(ms);
  }
  return base;
}

absl::StatusOr<std::unique_ptr<OtlpMetricsSink>> MakeOtlpMetricsSink(OtlpMetricsOptions options) {
  std::string url = options.otlp.metrics_url.empty()
                        ? otlp::JoinUrl(options.otlp.endpoint, "/v1/metrics")
                        : options.otlp.metrics_url;
  if (absl::StatusOr<otlp::Url> u = otlp::ParseUrl(url, "OTLP metrics endpoint"); !u.ok()) {
    return u.status();
  }
  absl::StatusOr<otlp::MetricsAggregator> agg = otlp::MetricsAggregator::Make(
      options.attributes, options.temporality, options.max_series, absl::GetCurrentTimeNanos());
  if (!agg.ok()) return agg.status();
  otlp::HttpExporterOptions h = otlp::HttpOptionsOf(options.otlp, std::move(url));
  // One export per request (they are small); the queue holds data points.
  h.max_batch_items = 1;
  h.max_queue_items = std::max<size_t>(options.otlp.max_queue_spans, 1);
  h.item_noun = "data points";
  absl::StatusOr<std::unique_ptr<otlp::HttpExporter>> exporter =
      otlp::HttpExporter::Start(std::move(h));
  if (!exporter.ok()) return exporter.status();
  return std::unique_ptr<OtlpMetricsSink>(
      new OtlpMetricsSinkImpl(std::move(options), *std::move(agg), *std::move(exporter)));
}

}  // namespace tokmeter
