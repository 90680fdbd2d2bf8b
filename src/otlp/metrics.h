// src/otlp/metrics.h — spans aggregated into OTLP metrics (the GenAI client
// metrics and tokmeter's counters) and encoded as an
// ExportMetricsServiceRequest. The metrics sink (otlp_metrics_sink.cc) and
// `tokmeter export` use it.
#ifndef TOKMETER_SRC_OTLP_METRICS_H_
#define TOKMETER_SRC_OTLP_METRICS_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "src/otlp/otlp_encoder.h"
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
// bounds[i-1] < v <= bounds[i] (the last bucket: v > bounds[13]). Both are
// a table indexed by a bit width, without a branch.
namespace bucket_tables {
// Token bounds 4^k: v in (4^(i-1), 4^i] is bucket i, i = ceil(log4(v)) =
// ceil(bit_width(v - 1) / 2) for v > 1.
inline constexpr std::array<uint8_t, 65> kTokenBucketOfWidth = [] {
  std::array<uint8_t, 65> t{};
  for (int w = 0; w <= 64; ++w) t[size_t(w)] = uint8_t(std::min((w + 1) / 2, kNumBounds));
  return t;
}();
// Duration bounds 10 ms · 2^k: v in (10 ms · 2^(i-1), 10 ms · 2^i] is
// bucket i, i = bit_width(ceil(v / 10 ms) - 1) for v > 10 ms.
inline constexpr std::array<uint8_t, 65> kDurationBucketOfWidth = [] {
  std::array<uint8_t, 65> t{};
  for (int w = 0; w <= 64; ++w) t[size_t(w)] = uint8_t(std::min(w, kNumBounds));
  return t;
}();
// bit_width(x) for x < 2^63, without a branch for 0 (2x + 1 is never 0).
inline size_t BitWidth63(uint64_t x) { return size_t(63 ^ std::countl_zero(2 * x + 1)); }
// The index into the tables: the bit width of tokens - 1, of the 10 ms steps
// in duration - 1 (0 for values <= 1).
inline size_t TokenWidth(int64_t tokens) {
  return BitWidth63(uint64_t(std::max<int64_t>(tokens, 1)) - 1);
}
inline constexpr int64_t kDurationStepNs = 10'000'000;  // 10 ms, the first bound
inline size_t DurationWidth(int64_t duration_ns) {
  return BitWidth63((uint64_t(std::max<int64_t>(duration_ns, 1)) - 1) / kDurationStepNs);
}
}  // namespace bucket_tables
inline int TokenBucket(int64_t tokens) {
  return bucket_tables::kTokenBucketOfWidth[bucket_tables::TokenWidth(tokens)];
}
inline int DurationBucket(int64_t duration_ns) {
  return bucket_tables::kDurationBucketOfWidth[bucket_tables::DurationWidth(duration_ns)];
}

// What the aggregation's scalar and AVX-512 code (metrics_simd.h) share.
namespace aggregation {
// The counters gen_ai.client.token.usage's input sums.
inline constexpr uint32_t kInputCounters = (1u << int(Counter::kInputTokens)) |
                                           (1u << int(Counter::kCacheReadTokens)) |
                                           (1u << int(Counter::kCacheWriteTokens));
// Reads into the cache the lines of the span kAhead after `s` that the run
// detection and the histograms read (after the other sinks, a large pass is
// out of the cache). A prefetch does not fault, past the batch's end either.
inline void ReadAhead(const SpanRecord* s) {
  constexpr size_t kAhead = 16;
  const uintptr_t ahead = reinterpret_cast<uintptr_t>(s) + kAhead * sizeof(SpanRecord);
  for (size_t line : {offsetof(SpanRecord, start_unix_ns), offsetof(SpanRecord, counters),
                      offsetof(SpanRecord, tags)}) {
    __builtin_prefetch(reinterpret_cast<const void*>(ahead + line));
  }
}
}  // namespace aggregation

// Sums of spans' integers wrap (two's complement) rather than overflow:
// only values no agent reports (token counts or durations near 2^63) get
// there, and they must not be undefined behaviour.
inline int64_t WrappingAdd(int64_t a, int64_t b) { return int64_t(uint64_t(a) + uint64_t(b)); }

// An explicit-bucket histogram of integers (tokens, nanoseconds): integer
// sums are exact and cost one add; Collect scales them (ns → s).
struct Histogram {
  uint64_t count = 0;
  int64_t sum = 0;
  int64_t min = std::numeric_limits<int64_t>::max();
  int64_t max = std::numeric_limits<int64_t>::min();
  std::array<uint64_t, kNumBounds + 1> buckets{};
  void Add(int64_t v, int bucket) {
    ++count;
    sum = WrappingAdd(sum, v);
    min = v < min ? v : min;
    max = v > max ? v : max;
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

  // Starts a batch: the strings of the spans recorded until the next
  // BeginBatch stay valid and unchanged, so a span whose attribute values
  // are the very strings of a recent span's (literals, as the ring hands
  // them over) finds its series by address. Call it whenever earlier views
  // may have died (every Sink::Write; every event of a reader).
  void BeginBatch() {
    recent_n_ = 0;
    shapes_n_ = 0;
  }
  // Adds one span. `trace_key` as for AppendOtlpSpan; `cost_usd` the span's
  // cost, NaN when unknown (tokmeter.cost then gets no point from it).
  void Record(const SpanRecord& s, std::string_view trace_key,
              double cost_usd = std::numeric_limits<double>::quiet_NaN());
  // Adds a batch's spans (BeginBatch included), without trace keys or
  // costs: what the metrics sink does per Write when no attribute is the
  // conversation. A span like a recent one (the same strings, as spans
  // from one call site are) reuses its outcome.
  void RecordSpans(std::span<const SpanRecord> spans);
  // Without the batch cache, every span's series is looked up by its
  // attribute values: for an aggregator fed one event at a time (each a
  // batch of its own), which then holds no cache memory. Default on.
  void set_batch_cache(bool on);
  // Whether runs of spans are added with AVX-512 (src/otlp/metrics_simd.h),
  // which gives the same metrics as the scalar code: on where the CPU has
  // it. Tests and benchmarks switch it off to run the scalar code; returns
  // whether it is on.
  bool set_simd(bool on);
  // Whether an attribute is the conversation (Record then needs trace_key).
  bool uses_trace_key() const { return uses_trace_key_; }
  // Adds records lost to full rings (tokmeter.records.dropped).
  void RecordDrops(uint64_t n);
  // Adds one of the monitor's alerts (tokmeter.alerts, a point per rule and
  // severity: bounded by the rules there are, not by the attribute list).
  void RecordAlert(std::string_view rule, Severity severity);
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

  static constexpr int kMaxAttrs = 32;
  MetricsAggregator() = default;
  // The series of `values`; `stable`: the views stay valid until the next
  // BeginBatch (not formatted into a scratch buffer).
  Series& Find(const std::string_view* values, int n, bool stable);
  Series& Insert(const std::string_view* values, int n);
  struct Recent;
  void Remember(Recent& e, const std::string_view* values, int n, bool stable);
  // What a span's attributes and tags decide: its series (-1: it adds
  // nothing) and the facts the counts need.
  struct Outcome {
    int series = -1;
    bool genai = false;  // a GenAI operation: recorded in the duration histogram
    bool tool = false;   // execute_tool: one tool call when the counter is unset
    bool error = false;
    int64_t http_status = 0;
  };
  // Works the outcome out (GenAI facts, attribute values, series);
  // `relevant`: the span has counters or a cost to add. *stable: every
  // value is one of the span's own strings.
  Outcome Resolve(const SpanRecord& s, const SpanTags& t, std::string_view trace_key, bool relevant,
                  bool* stable);
  // The outcome of a span: from a recent shape of this batch, or Resolve.
  Outcome Lookup(const SpanRecord& s, std::string_view trace_key, bool relevant);
  // Adds spans that share the outcome `o` to its series (o.series >= 0):
  // a run of the batch, or a list of spans (metrics.cc).
  template <typename Spans>
  void Accumulate(const Spans& spans, const Outcome& o);
  // RecordSpans' groups of spans alike (their outcome is the first's), up
  // to kGroupSpans of them from short runs waiting to be added; kGroups of
  // them at a time.
  static constexpr int kGroups = 8;
  static constexpr size_t kGroupSpans = 64;
  static constexpr size_t kRunSpans = 16;  // a run this long is added where it is
  struct Group {
    const SpanRecord* first = nullptr;
    Outcome outcome;
    uint64_t used = 0;    // when a span last joined (least recently used goes)
    size_t last_run = 0;  // the length of its last run
    size_t n = 0;
    std::array<const SpanRecord*, kGroupSpans> spans;
  };
  // Whether `s` shares g's outcome (is alike its first; see Alike in
  // metrics.cc), and the end of the spans in [from, limit) that do.
  bool Joins(const Group& g, const SpanRecord& s) const;
  const SpanRecord* GroupEnd(const Group& g, const SpanRecord* from, const SpanRecord* limit) const;
  // A tag as the outcome sees it: absent, or its type and value.
  struct TagValue {
    bool present = false;
    TagType type = TagType::kString;
    std::string_view str;
    int64_t num = 0;
    void Set(const Tag* t) {
      present = t != nullptr;
      if (present) {
        type = t->type;
        str = t->str;
        num = t->num;
      }
    }
    bool Same(const Tag* t) const;
  };
  // A recent span of this batch: what decided its outcome. Only what the
  // outcome reads is compared (a request_id tag unique to every span does
  // not make spans different); strings by address first, then by content
  // (the views stay valid within the batch).
  struct Shape {
    static constexpr int kMaxTagAttrs = 8;
    std::string_view kind, name, trace_key;
    bool is_trace_root = false, error = false;
    const Tag* trace_tags = nullptr;
    size_t ntrace_tags = 0;
    TagValue tags[6];                  // SpanTags' slots, in order
    TagValue tag_attrs[kMaxTagAttrs];  // the tokmeter.<tag> attributes' tags
    Outcome outcome;
  };
  bool Matches(const Shape& m, const SpanRecord& s, const SpanTags& t, const Tag* const* tag_attrs,
               std::string_view trace_key) const;
  void AppendAttributes(std::string& out, uint32_t field, const Series& s) const;

  std::vector<Attribute> attrs_;
  OtlpTemporality temporality_ = OtlpTemporality::kCumulative;
  size_t max_series_ = 2000;
  int64_t start_ns_ = 0;
  std::vector<Series> series_;
  absl::flat_hash_map<std::string, uint32_t> index_;  // joined values → series_
  int overflow_ = -1;                                 // index of the overflow series
  // Recently used series with the views they were last found by (valid
  // within the current batch): spans with the same attribute strings skip
  // the comparison of contents and the hash lookup.
  struct Recent {
    std::array<std::string_view, kMaxAttrs> views;
    bool views_valid = false;
    int series = -1;
  };
  static constexpr int kRecent = 4;
  int recent_n_ = 0;     // entries whose views are valid in this batch
  int recent_next_ = 0;  // round-robin slot to replace
  static constexpr int kShapes = 4;
  // The batch caches (a few KiB): on the heap, and not at all for an
  // aggregator whose every span is a batch of its own (set_batch_cache).
  struct BatchCache {
    std::array<Recent, kRecent> recent;
    std::array<Shape, kShapes> shapes;
  };
  std::unique_ptr<BatchCache> cache_ = std::make_unique<BatchCache>();
  std::unique_ptr<std::array<Group, kGroups>> groups_;  // RecordSpans', made on first use
  int shapes_n_ = 0;                                    // valid entries in this batch
  int shapes_next_ = 0;                                 // round-robin slot to replace
  std::string key_scratch_;
  bool uses_trace_key_ = false;
  bool simd_ = false;
  bool name_matters_ = false;  // an attribute reads the span's name
  int tag_attrs_ = 0;          // tokmeter.<tag> attributes
  uint64_t dropped_ = 0;
  bool dropped_seen_ = false;
  std::map<std::pair<std::string, std::string>, int64_t> alerts_;  // (rule, severity) → count
  bool dirty_ = false;
  uint64_t spans_recorded_ = 0, spans_overflowed_ = 0;
};

}  // namespace tokmeter::otlp

#endif  // TOKMETER_SRC_OTLP_METRICS_H_
