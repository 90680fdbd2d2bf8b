#include "src/otlp/metrics.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/model/proto_wire.h"
#include "src/otlp/otlp_encoder.h"

namespace tokmeter::otlp {

using model::wire::BeginMessage;
using model::wire::EndLength;
using model::wire::PutBytesField;
using model::wire::PutFixed64Field;
using model::wire::PutVarintField;

const std::array<double, kNumBounds> kTokenBounds = {
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
const std::array<double, kNumBounds> kDurationBounds = {
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};

int TokenBucket(int64_t tokens) {
  // Bounds 4^k: v in (4^(i-1), 4^i] is bucket i, i.e. i = ceil(log4(v)) =
  // ceil(bit_width(v - 1) / 2) for v > 1.
  if (tokens <= 1) return 0;
  int i = (std::bit_width(uint64_t(tokens - 1)) + 1) / 2;
  return i > kNumBounds ? kNumBounds : i;
}

int DurationBucket(int64_t duration_ns) {
  // Bounds 10 ms · 2^k: v in (10 ms · 2^(i-1), 10 ms · 2^i] is bucket i,
  // i = bit_width(ceil(v / 10 ms) - 1) for v > 10 ms.
  constexpr int64_t kTenMs = 10'000'000;
  if (duration_ns <= kTenMs) return 0;
  int i = std::bit_width(uint64_t((duration_ns - 1) / kTenMs));
  return i > kNumBounds ? kNumBounds : i;
}

void Histogram::Merge(const Histogram& o) {
  count += o.count;
  sum += o.sum;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
}

namespace {

// OTLP metrics field numbers (opentelemetry/proto/metrics/v1/metrics.proto).
constexpr uint32_t kRequestResourceMetrics = 1;
constexpr uint32_t kResourceMetricsResource = 1, kResourceMetricsScope = 2;
constexpr uint32_t kScopeMetricsScope = 1, kScopeMetricsMetrics = 2, kScopeMetricsSchemaUrl = 3;
constexpr uint32_t kMetricName = 1, kMetricDescription = 2, kMetricUnit = 3, kMetricSum = 7,
                   kMetricHistogram = 9;
constexpr uint32_t kDataPoints = 1, kTemporality = 2, kSumIsMonotonic = 3;
constexpr uint32_t kNumberAttributes = 7, kNumberStart = 2, kNumberTime = 3, kNumberAsDouble = 4,
                   kNumberAsInt = 6;
constexpr uint32_t kHistAttributes = 9, kHistStart = 2, kHistTime = 3, kHistCount = 4, kHistSum = 5,
                   kHistBucketCounts = 6, kHistBounds = 7, kHistMin = 11, kHistMax = 12;
constexpr uint64_t kTemporalityDelta = 1, kTemporalityCumulative = 2;

// tokmeter's counters: name, unit, description, in Series::counters order.
struct CounterMetric {
  std::string_view name, unit, description;
};
constexpr std::array<CounterMetric, 6> kCounterMetrics = {{
    {"tokmeter.cache_read.tokens", "{token}",
     "Input tokens read from the provider's prompt cache (included in gen_ai.client.token.usage "
     "input)."},
    {"tokmeter.cache_write.tokens", "{token}",
     "Input tokens written to the provider's prompt cache (included in "
     "gen_ai.client.token.usage input)."},
    {"tokmeter.rate_limited.requests", "{request}", "Requests refused with HTTP 429."},
    {"tokmeter.retries", "{retry}", "Retried requests."},
    {"tokmeter.tool.calls", "{call}", "Tool calls."},
    {"tokmeter.errors", "{error}", "Operations that ended in an error."},
}};
enum CounterIndex { kCacheRead, kCacheWrite, kRateLimited, kRetries, kToolCalls, kErrors };

void PutDouble(std::string& out, uint32_t field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  PutFixed64Field(out, field, bits);
}

std::string_view TagText(const Tag* t, char* buf, size_t size) {
  if (t == nullptr) return {};
  switch (t->type) {
    case TagType::kString:
      return t->str;
    case TagType::kBool:
      return t->num != 0 ? "true" : "false";
    case TagType::kInt: {
      auto r = std::to_chars(buf, buf + size, t->num);
      return std::string_view(buf, r.ptr - buf);
    }
  }
  return {};
}

const Tag* FindTag(std::span<const Tag> tags, std::string_view key) {
  const Tag* found = nullptr;
  for (const Tag& t : tags) {
    if (t.key == key) found = &t;  // last value wins
  }
  return found;
}

}  // namespace

absl::StatusOr<MetricsAggregator> MetricsAggregator::Make(
    const std::vector<std::string>& attributes, OtlpTemporality temporality, size_t max_series,
    int64_t start_unix_ns) {
  static const std::pair<std::string_view, Source> kKnown[] = {
      {"gen_ai.operation.name", Source::kOperation},
      {"gen_ai.provider.name", Source::kProvider},
      {"gen_ai.request.model", Source::kRequestModel},
      {"gen_ai.response.model", Source::kResponseModel},
      {"error.type", Source::kErrorType},
      {"gen_ai.agent.name", Source::kAgentName},
      {"gen_ai.agent.id", Source::kAgentId},
      {"gen_ai.tool.name", Source::kToolName},
      {"gen_ai.workflow.name", Source::kWorkflowName},
      {"gen_ai.conversation.id", Source::kConversationId},
  };
  MetricsAggregator m;
  for (const std::string& key : attributes) {
    Attribute a{key, Source::kTag, ""};
    bool known = false;
    for (const auto& [k, src] : kKnown) {
      if (k == key) {
        a.source = src;
        known = true;
      }
    }
    if (!known) {
      if (absl::StartsWith(key, "tokmeter.") && key.size() > 9) {
        a.tag = key.substr(9);
      } else {
        std::string allowed;
        for (const auto& [k, src] : kKnown)
          absl::StrAppend(&allowed, absl::string_view(k.data(), k.size()), ", ");
        return absl::InvalidArgumentError(
            absl::StrCat("metric attribute \"", key, "\" is not allowed; allowed: ", allowed,
                         "and tokmeter.<tag> for a span or trace tag"));
      }
    }
    for (const Attribute& b : m.attrs_) {
      if (b.key == key) {
        return absl::InvalidArgumentError(
            absl::StrCat("metric attribute \"", key, "\" is listed twice"));
      }
    }
    m.attrs_.push_back(std::move(a));
  }
  m.temporality_ = temporality;
  m.max_series_ = std::max<size_t>(max_series, 1);
  m.start_ns_ = start_unix_ns;
  m.last_values_.resize(m.attrs_.size());
  return m;
}

MetricsAggregator::Series& MetricsAggregator::Find(std::string_view* values, int n) {
  // The previous span's series, compared by content (views of earlier
  // batches may point at reused memory, so never by address).
  if (last_ >= 0 && !series_[size_t(last_)].overflow) {
    const Series& s = series_[size_t(last_)];
    bool same = true;
    for (int i = 0; i < n && same; ++i) same = s.values[size_t(i)] == values[i];
    if (same) return series_[size_t(last_)];
  }
  key_scratch_.clear();
  for (int i = 0; i < n; ++i) {
    key_scratch_.append(values[i].data(), values[i].size());
    key_scratch_.push_back('\0');
  }
  if (auto it = index_.find(key_scratch_); it != index_.end()) {
    last_ = int(it->second);
    return series_[it->second];
  }
  if (series_.size() >= max_series_ - (overflow_ >= 0 ? 0 : 1) && n > 0) {
    // Full: the overflow series (created once, counted toward the limit).
    ++spans_overflowed_;
    if (overflow_ < 0) {
      overflow_ = int(series_.size());
      Series& o = series_.emplace_back();
      o.overflow = true;
      o.values.assign(size_t(n), "");
    }
    last_ = overflow_;
    return series_[size_t(overflow_)];
  }
  last_ = int(series_.size());
  index_.emplace(key_scratch_, uint32_t(series_.size()));
  Series& s = series_.emplace_back();
  s.values.reserve(size_t(n));
  for (int i = 0; i < n; ++i) s.values.emplace_back(values[i]);
  return s;
}

void MetricsAggregator::Record(const SpanRecord& s, std::string_view trace_key, double cost_usd) {
  const Counters& c = s.counters;
  // The counters the metrics read; a span with none of them and no GenAI
  // operation adds nothing.
  constexpr uint32_t kUsed =
      (1u << int(Counter::kInputTokens)) | (1u << int(Counter::kOutputTokens)) |
      (1u << int(Counter::kCacheReadTokens)) | (1u << int(Counter::kCacheWriteTokens)) |
      (1u << int(Counter::kRateLimited)) | (1u << int(Counter::kRetries)) |
      (1u << int(Counter::kToolCalls)) | (1u << int(Counter::kErrors));
  GenAiFacts f;
  Describe(s, trace_key, f);
  if (f.operation.empty() && (c.mask & kUsed) == 0 && std::isnan(cost_usd) && !f.error) return;

  constexpr int kMaxAttrs = 32;
  std::string_view values[kMaxAttrs];
  char bufs[kMaxAttrs][24];
  const int n = std::min<int>(int(attrs_.size()), kMaxAttrs);
  for (int i = 0; i < n; ++i) {
    const Attribute& a = attrs_[size_t(i)];
    std::string_view v;
    switch (a.source) {
      case Source::kOperation:
        v = f.operation;
        break;
      case Source::kProvider:
        v = TagText(f.provider, bufs[i], sizeof bufs[i]);
        break;
      case Source::kRequestModel:
        v = TagText(f.model, bufs[i], sizeof bufs[i]);
        break;
      case Source::kResponseModel:
        v = TagText(f.response_model != nullptr ? f.response_model : f.model, bufs[i],
                    sizeof bufs[i]);
        break;
      case Source::kErrorType:
        v = f.error_type;
        break;
      case Source::kAgentName:
        v = f.agent_name;
        break;
      case Source::kAgentId:
        v = TagText(f.agent, bufs[i], sizeof bufs[i]);
        break;
      case Source::kToolName:
        v = f.tool_name;
        break;
      case Source::kWorkflowName:
        v = f.workflow_name;
        break;
      case Source::kConversationId:
        v = f.session != nullptr ? TagText(f.session, bufs[i], sizeof bufs[i]) : f.conversation_id;
        break;
      case Source::kTag: {
        const Tag* t = FindTag(s.tags, a.tag);
        if (t == nullptr) t = FindTag(s.trace_tags, a.tag);
        v = TagText(t, bufs[i], sizeof bufs[i]);
        break;
      }
    }
    values[i] = v;
  }
  Series& series = Find(values, n);
  ++spans_recorded_;
  dirty_ = true;

  // gen_ai.client.token.usage: input counts cached input too (the GenAI
  // convention), output is output tokens (reasoning included).
  if (c.has(Counter::kInputTokens) || c.has(Counter::kCacheReadTokens) ||
      c.has(Counter::kCacheWriteTokens)) {
    int64_t in =
        c[Counter::kInputTokens] + c[Counter::kCacheReadTokens] + c[Counter::kCacheWriteTokens];
    series.input.Add(double(in), TokenBucket(in));
  }
  if (c.has(Counter::kOutputTokens)) {
    int64_t out = c[Counter::kOutputTokens];
    series.output.Add(double(out), TokenBucket(out));
  }
  if (!f.operation.empty()) {
    int64_t d = std::max<int64_t>(s.end_unix_ns - s.start_unix_ns, 0);
    series.duration.Add(double(d) / 1e9, DurationBucket(d));
  }
  auto count = [&](int i, int64_t v, bool seen) {
    if (!seen) return;
    series.counters[size_t(i)] += v;
    series.counters_seen |= 1u << i;
  };
  count(kCacheRead, c[Counter::kCacheReadTokens], c.has(Counter::kCacheReadTokens));
  count(kCacheWrite, c[Counter::kCacheWriteTokens], c.has(Counter::kCacheWriteTokens));
  // As the OTLP JSON reader reads spans back: a 429 is one rate-limited
  // request and a tool span one tool call when the counters do not say.
  int64_t limited = c[Counter::kRateLimited];
  if (f.http_status == 429 && limited == 0) limited = 1;
  count(kRateLimited, limited, c.has(Counter::kRateLimited) || f.http_status == 429);
  count(kRetries, c[Counter::kRetries], c.has(Counter::kRetries));
  int64_t tools = c[Counter::kToolCalls];
  const bool is_tool = f.operation == "execute_tool";
  if (is_tool && tools == 0) tools = 1;
  count(kToolCalls, tools, c.has(Counter::kToolCalls) || is_tool);
  int64_t errors = c[Counter::kErrors];
  if (f.error && errors == 0) errors = 1;
  count(kErrors, errors, c.has(Counter::kErrors) || f.error);
  if (!std::isnan(cost_usd)) {
    series.cost += cost_usd;
    series.has_cost = true;
  }
}

void MetricsAggregator::RecordDrops(uint64_t n) {
  dropped_ += n;
  dropped_seen_ = true;
  dirty_ = true;
}

void MetricsAggregator::Merge(const MetricsAggregator& o) {
  std::vector<std::string_view> values;
  for (const Series& src : o.series_) {
    Series* dst;
    if (src.overflow) {
      if (overflow_ < 0) {
        overflow_ = int(series_.size());
        Series& s = series_.emplace_back();
        s.overflow = true;
        s.values.assign(attrs_.size(), "");
      }
      dst = &series_[size_t(overflow_)];
    } else {
      values.assign(src.values.begin(), src.values.end());
      dst = &Find(values.data(), int(values.size()));
    }
    dst->input.Merge(src.input);
    dst->output.Merge(src.output);
    dst->duration.Merge(src.duration);
    for (int i = 0; i < kNumCounters; ++i) dst->counters[size_t(i)] += src.counters[size_t(i)];
    dst->counters_seen |= src.counters_seen;
    dst->cost += src.cost;
    dst->has_cost |= src.has_cost;
  }
  dropped_ += o.dropped_;
  dropped_seen_ |= o.dropped_seen_;
  spans_recorded_ += o.spans_recorded_;
  spans_overflowed_ += o.spans_overflowed_;
  dirty_ |= o.dirty_;
}

void MetricsAggregator::AppendAttributes(std::string& out, uint32_t field, const Series& s) const {
  if (s.overflow) {
    PutBoolAttribute(out, field, "otel.metric.overflow", true);
    return;
  }
  for (size_t i = 0; i < attrs_.size() && i < s.values.size(); ++i) {
    if (!s.values[i].empty()) PutStringAttribute(out, field, attrs_[i].key, s.values[i]);
  }
}

size_t MetricsAggregator::Collect(std::string_view resource, int64_t time_unix_ns,
                                  std::string& out) {
  const bool delta = temporality_ == OtlpTemporality::kDelta;
  if (delta && !dirty_) return 0;
  if (series_.empty() && !dropped_seen_) return 0;
  const uint64_t temporality = delta ? kTemporalityDelta : kTemporalityCumulative;
  const uint64_t start = uint64_t(start_ns_), time = uint64_t(time_unix_ns);
  const size_t out_size = out.size();
  size_t points = 0;

  size_t request_pos = BeginMessage(out, kRequestResourceMetrics);
  PutBytesField(out, kResourceMetricsResource, resource);
  size_t scope_pos = BeginMessage(out, kResourceMetricsScope);
  PutBytesField(out, kScopeMetricsScope, EncodeOtlpScope());
  PutBytesField(out, kScopeMetricsSchemaUrl, kSemconvSchemaUrl);

  auto histogram_metric = [&](std::string_view name, std::string_view unit,
                              std::string_view description, const std::array<double, 14>& bounds,
                              auto&& each) {
    size_t metric_pos = std::string::npos, hist_pos = 0;
    auto point = [&](const Series& s, const Histogram& h, std::string_view token_type) {
      if (h.count == 0) return;
      if (metric_pos == std::string::npos) {
        metric_pos = BeginMessage(out, kScopeMetricsMetrics);
        PutBytesField(out, kMetricName, name);
        PutBytesField(out, kMetricDescription, description);
        PutBytesField(out, kMetricUnit, unit);
        hist_pos = BeginMessage(out, kMetricHistogram);
      }
      size_t p = BeginMessage(out, kDataPoints);
      PutFixed64Field(out, kHistStart, start);
      PutFixed64Field(out, kHistTime, time);
      PutFixed64Field(out, kHistCount, h.count);
      PutDouble(out, kHistSum, h.sum);
      size_t packed = BeginMessage(out, kHistBucketCounts);
      for (uint64_t b : h.buckets) {
        char le[8];
        for (int i = 0; i < 8; ++i) le[i] = char(b >> (8 * i));
        out.append(le, 8);
      }
      EndLength(out, packed);
      packed = BeginMessage(out, kHistBounds);
      for (double b : bounds) {
        uint64_t bits;
        std::memcpy(&bits, &b, 8);
        char le[8];
        for (int i = 0; i < 8; ++i) le[i] = char(bits >> (8 * i));
        out.append(le, 8);
      }
      EndLength(out, packed);
      AppendAttributes(out, kHistAttributes, s);
      if (!token_type.empty())
        PutStringAttribute(out, kHistAttributes, "gen_ai.token.type", token_type);
      PutDouble(out, kHistMin, h.min);
      PutDouble(out, kHistMax, h.max);
      EndLength(out, p);
      ++points;
    };
    for (const Series& s : series_) each(s, point);
    if (metric_pos != std::string::npos) {
      PutVarintField(out, kTemporality, temporality);
      EndLength(out, hist_pos);
      EndLength(out, metric_pos);
    }
  };
  histogram_metric(kTokenUsageMetric, "{token}", "Number of input and output tokens used.",
                   kTokenBounds, [](const Series& s, auto& point) {
                     point(s, s.input, "input");
                     point(s, s.output, "output");
                   });
  histogram_metric(kOperationDurationMetric, "s", "GenAI operation duration.", kDurationBounds,
                   [](const Series& s, auto& point) { point(s, s.duration, ""); });

  // Monotonic sums: one metric per counter, a point per series that has it.
  auto sum_metric = [&](std::string_view name, std::string_view unit, std::string_view description,
                        auto&& each) {
    size_t metric_pos = std::string::npos, sum_pos = 0;
    auto point = [&](const Series* s, bool is_double, int64_t iv, double dv) {
      if (metric_pos == std::string::npos) {
        metric_pos = BeginMessage(out, kScopeMetricsMetrics);
        PutBytesField(out, kMetricName, name);
        PutBytesField(out, kMetricDescription, description);
        PutBytesField(out, kMetricUnit, unit);
        sum_pos = BeginMessage(out, kMetricSum);
      }
      size_t p = BeginMessage(out, kDataPoints);
      PutFixed64Field(out, kNumberStart, start);
      PutFixed64Field(out, kNumberTime, time);
      if (is_double) {
        PutDouble(out, kNumberAsDouble, dv);
      } else {
        PutFixed64Field(out, kNumberAsInt, uint64_t(iv));  // sfixed64
      }
      if (s != nullptr) AppendAttributes(out, kNumberAttributes, *s);
      EndLength(out, p);
      ++points;
    };
    each(point);
    if (metric_pos != std::string::npos) {
      PutVarintField(out, kTemporality, temporality);
      PutVarintField(out, kSumIsMonotonic, 1);
      EndLength(out, sum_pos);
      EndLength(out, metric_pos);
    }
  };
  for (int i = 0; i < kNumCounters; ++i) {
    const CounterMetric& m = kCounterMetrics[size_t(i)];
    sum_metric(m.name, m.unit, m.description, [&](auto& point) {
      for (const Series& s : series_) {
        if (s.counters_seen & (1u << i)) point(&s, false, s.counters[size_t(i)], 0);
      }
    });
  }
  sum_metric("tokmeter.cost", "USD",
             "Cost at the price table's list prices (tokmeter export; the capture library has no "
             "prices).",
             [&](auto& point) {
               for (const Series& s : series_) {
                 if (s.has_cost) point(&s, true, 0, s.cost);
               }
             });
  sum_metric("tokmeter.records.dropped", "{record}",
             "Records a thread could not write because its ring was full.", [&](auto& point) {
               if (dropped_seen_) point(nullptr, false, int64_t(dropped_), 0);
             });

  EndLength(out, scope_pos);
  EndLength(out, request_pos);
  if (points == 0) out.resize(out_size);
  if (delta) {
    series_.clear();
    index_.clear();
    overflow_ = -1;
    last_ = -1;
    dropped_ = 0;
    dropped_seen_ = false;
    start_ns_ = time_unix_ns;
  }
  dirty_ = false;
  return points;
}

}  // namespace tokmeter::otlp
