// src/otlp/metrics.h — spans aggregated into OTLP metrics (the GenAI client
// metrics and tokmeter's counters) and encoded as an
// ExportMetricsServiceRequest. The metrics sink (otlp_metrics_sink.cc) and
// `tokmeter export` use it.
#ifndef TOKMETER_SRC_OTLP_METRICS_H_
#define TOKMETER_SRC_OTLP_METRICS_H_

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "tokmeter/otlp.h"
#include "tokmeter/record.h"

namespace tokmeter::otlp {

// Metric names and units (GenAI semantic conventions v1.41.0 for gen_ai.*).
inline constexpr std::string_view kTokenUsageMetric = "gen_ai.client.token.usage";
inline constexpr std::string_view kOperationDurationMetric = "gen_ai.client.operation.duration";

// The advised explicit bucket boundaries: tokens 1, 4, 16, … 4^13; seconds
// 0.01, 0.02, 0.04, … 81.92 (0.01·2^k).
inline constexpr int kNumBounds = 14;
extern const std::array<double, kNumBounds> kTokenBounds;
extern const std::array<double, kNumBounds> kDurationBounds;
// The bucket (0 … kNumBounds) of a value: bucket i holds values v with
// bounds[i-1] < v <= bounds[i] (the last bucket: v > bounds[13]).
int TokenBucket(int64_t tokens);
int DurationBucket(int64_t duration_ns);

// An explicit-bucket histogram.
struct Histogram {
  uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::array<uint64_t, kNumBounds + 1> buckets{};
  void Add(double v, int bucket) {
    ++count;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    ++buckets[size_t(bucket)];
  }
  void Merge(const Histogram& o);
};

// Aggregates spans by their allow-listed attributes and encodes them.
// Thread-compatible (a sink calls it from Write/Flush, one thread at a time).
class MetricsAggregator {
 public:
  // InvalidArgument naming an attribute key that is not allowed
  // (OtlpMetricsOptions::attributes lists what is).
  static absl::StatusOr<MetricsAggregator> Make(const std::vector<std::string>& attributes,
                                                OtlpTemporality temporality, size_t max_series,
                                                int64_t start_unix_ns);

  // Adds one span. `trace_key` as for AppendOtlpSpan; `cost_usd` the span's
  // cost, NaN when unknown (tokmeter.cost then gets no point from it).
  void Record(const SpanRecord& s, std::string_view trace_key,
              double cost_usd = std::numeric_limits<double>::quiet_NaN());
  // Adds records lost to full rings (tokmeter.records.dropped).
  void RecordDrops(uint64_t n);
  // Adds everything `o` holds (same attribute list): `tokmeter export`
  // builds one aggregator per time window and merges them in time order for
  // cumulative points.
  void Merge(const MetricsAggregator& o);

  // Appends one ExportMetricsServiceRequest (`resource` from
  // EncodeOtlpResource) with a point per series and metric: what was
  // recorded since the start (cumulative) or since the previous Collect
  // (delta; the series are then cleared), up to `time_unix_ns`. Returns the
  // number of data points; 0 (and nothing appended) when there is nothing to
  // export.
  size_t Collect(std::string_view resource, int64_t time_unix_ns, std::string& out);
  // Delta only: the start of the next Collect's points.
  void set_start(int64_t start_unix_ns) { start_ns_ = start_unix_ns; }
  // Whether anything was recorded since the previous Collect.
  bool dirty() const { return dirty_; }

  size_t series() const { return series_.size(); }
  uint64_t spans_recorded() const { return spans_recorded_; }
  uint64_t spans_overflowed() const { return spans_overflowed_; }

  // Where an attribute's value comes from.
  enum class Source : uint8_t {
    kOperation,
    kProvider,
    kRequestModel,
    kResponseModel,
    kErrorType,
    kAgentName,
    kAgentId,
    kToolName,
    kWorkflowName,
    kConversationId,
    kTag,  // tokmeter.<tag>: the span's tag, else the trace's
  };
  struct Attribute {
    std::string key;
    Source source;
    std::string tag;  // kTag: the tag's key
  };

 private:
  // Counters of a series, in emission order (kCounterMetrics in metrics.cc).
  static constexpr int kNumCounters = 6;
  struct Series {
    std::vector<std::string> values;  // one per attribute ("" = absent)
    bool overflow = false;
    Histogram input, output, duration;
    std::array<int64_t, kNumCounters> counters{};
    uint32_t counters_seen = 0;  // bit i: counters[i] was recorded
    double cost = 0;
    bool has_cost = false;
  };

  MetricsAggregator() = default;
  Series& Find(std::string_view* values, int n);
  void AppendAttributes(std::string& out, uint32_t field, const Series& s) const;

  std::vector<Attribute> attrs_;
  OtlpTemporality temporality_ = OtlpTemporality::kCumulative;
  size_t max_series_ = 2000;
  int64_t start_ns_ = 0;
  std::vector<Series> series_;
  absl::flat_hash_map<std::string, uint32_t> index_;  // joined values → series_
  int overflow_ = -1;                                 // index of the overflow series
  // The previous span's values and series: the common case of a run of
  // spans with the same attributes skips the hash lookup.
  std::vector<std::string_view> last_values_;
  int last_ = -1;
  std::string key_scratch_;
  uint64_t dropped_ = 0;
  bool dropped_seen_ = false;
  bool dirty_ = false;
  uint64_t spans_recorded_ = 0, spans_overflowed_ = 0;
};

}  // namespace tokmeter::otlp

#endif  // TOKMETER_SRC_OTLP_METRICS_H_
