#include "src/otlp/metrics.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/model/proto_wire.h"
#include "src/otlp/metrics_simd.h"
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

void Histogram::Merge(const Histogram& o) {
  count += o.count;
  sum = WrappingAdd(sum, o.sum);
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
  if (attributes.size() > size_t(kMaxAttrs)) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxAttrs, " metric attributes (got ", attributes.size(), ")"));
  }
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
  m.simd_ = simd::Available();
  m.max_series_ = std::max<size_t>(max_series, 1);
  m.start_ns_ = start_unix_ns;
  for (const Attribute& a : m.attrs_) {
    m.uses_trace_key_ |= a.source == Source::kConversationId;
    m.name_matters_ |= a.source == Source::kToolName || a.source == Source::kAgentName ||
                       a.source == Source::kWorkflowName || a.source == Source::kConversationId;
    m.tag_attrs_ += a.source == Source::kTag;
  }
  if (m.tag_attrs_ > Shape::kMaxTagAttrs) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", Shape::kMaxTagAttrs, " tokmeter.<tag> metric attributes"));
  }
  return m;
}

MetricsAggregator::Series& MetricsAggregator::Find(const std::string_view* values, int n,
                                                   bool stable) {
  if (!cache_) return Insert(values, n);
  std::array<Recent, kRecent>& recent_ = cache_->recent;
  // 1. The same strings (by address) as a recent span of this batch.
  if (stable) {
    for (int r = 0; r < recent_n_; ++r) {
      const Recent& e = recent_[size_t(r)];
      if (!e.views_valid) continue;
      bool same = true;
      for (int i = 0; i < n && same; ++i) {
        same = e.views[size_t(i)].data() == values[i].data() &&
               e.views[size_t(i)].size() == values[i].size();
      }
      if (same) return series_[size_t(e.series)];
    }
  }
  // 2. The same contents as a recent series (views of earlier batches may
  // point at reused memory, so those are compared by content).
  for (Recent& e : recent_) {
    if (e.series < 0 || series_[size_t(e.series)].overflow) continue;
    const Series& s = series_[size_t(e.series)];
    bool same = true;
    for (int i = 0; i < n && same; ++i) same = s.values[size_t(i)] == values[i];
    if (!same) continue;
    Remember(e, values, n, stable);
    return series_[size_t(e.series)];
  }
  // 3. The hash index, or a new series.
  Series& s = Insert(values, n);
  Recent& e = recent_[size_t(recent_next_)];
  recent_next_ = (recent_next_ + 1) % kRecent;
  e.series = int(&s - series_.data());
  Remember(e, values, n, stable);
  return s;
}

void MetricsAggregator::Remember(Recent& e, const std::string_view* values, int n, bool stable) {
  std::array<Recent, kRecent>& recent_ = cache_->recent;
  e.views_valid = stable;
  if (stable) {
    for (int i = 0; i < n; ++i) e.views[size_t(i)] = values[i];
    // Valid from this batch on: make sure it is among the first recent_n_.
    int index = int(&e - recent_.data());
    if (index >= recent_n_) {
      std::swap(recent_[size_t(recent_n_)], e);
      ++recent_n_;
    }
  }
}

MetricsAggregator::Series& MetricsAggregator::Insert(const std::string_view* values, int n) {
  key_scratch_.clear();
  for (int i = 0; i < n; ++i) {
    key_scratch_.append(values[i].data(), values[i].size());
    key_scratch_.push_back('\0');
  }
  if (auto it = index_.find(key_scratch_); it != index_.end()) return series_[it->second];
  if (series_.size() >= max_series_ - (overflow_ >= 0 ? 0 : 1) && n > 0) {
    // Full: the overflow series (created once, counted toward the limit).
    ++spans_overflowed_;
    if (overflow_ < 0) {
      overflow_ = int(series_.size());
      Series& o = series_.emplace_back();
      o.overflow = true;
      o.values.assign(size_t(n), "");
    }
    return series_[size_t(overflow_)];
  }
  index_.emplace(key_scratch_, uint32_t(series_.size()));
  Series& s = series_.emplace_back();
  s.values.reserve(size_t(n));
  for (int i = 0; i < n; ++i) s.values.emplace_back(values[i]);
  return s;
}

namespace {
// The same string: by address, else by content.
inline bool SameString(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         (a.data() == b.data() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}
}  // namespace

bool MetricsAggregator::TagValue::Same(const Tag* t) const {
  if (t == nullptr) return !present;
  return present && type == t->type && num == t->num && SameString(str, t->str);
}

bool MetricsAggregator::Matches(const Shape& m, const SpanRecord& s, const SpanTags& t,
                                const Tag* const* tag_attrs, std::string_view trace_key) const {
  if (!SameString(m.kind, s.kind) || m.is_trace_root != s.is_trace_root ||
      m.error != (s.counters[Counter::kErrors] > 0) || m.trace_tags != s.trace_tags.data() ||
      m.ntrace_tags != s.trace_tags.size() || !SameString(m.trace_key, trace_key) ||
      (name_matters_ && !SameString(m.name, s.name))) {
    return false;
  }
  if (!m.tags[0].Same(t.provider) || !m.tags[1].Same(t.model) ||
      !m.tags[2].Same(t.response_model) || !m.tags[3].Same(t.status) ||
      !m.tags[4].Same(t.error_type) || !m.tags[5].Same(t.tool)) {
    return false;
  }
  for (int i = 0; i < tag_attrs_; ++i) {
    if (!m.tag_attrs[i].Same(tag_attrs[i])) return false;
  }
  return true;
}

namespace {
// The counters the metrics read; a span with none of them and no GenAI
// operation adds nothing.
constexpr uint32_t kUsedCounters =
    (1u << int(Counter::kInputTokens)) | (1u << int(Counter::kOutputTokens)) |
    (1u << int(Counter::kCacheReadTokens)) | (1u << int(Counter::kCacheWriteTokens)) |
    (1u << int(Counter::kRateLimited)) | (1u << int(Counter::kRetries)) |
    (1u << int(Counter::kToolCalls)) | (1u << int(Counter::kErrors));

inline bool Relevant(const SpanRecord& s) { return (s.counters.mask & kUsedCounters) != 0; }

inline bool SameView(std::string_view a, std::string_view b) {
  return a.data() == b.data() && a.size() == b.size();
}
}  // namespace

bool MetricsAggregator::set_simd(bool on) {
  simd_ = on && simd::Available();
  return simd_;
}

void MetricsAggregator::set_batch_cache(bool on) {
  if (!on) {
    cache_.reset();
  } else if (!cache_) {
    cache_ = std::make_unique<BatchCache>();
  }
  recent_n_ = 0;
  shapes_n_ = 0;
}

namespace {
// Whether two spans of a batch have the same tags, compared by address
// without a branch per field (spans whose tags the flusher decoded once, the
// same item bytes, share them and never get here).
bool SameTagViews(std::span<const Tag> a, std::span<const Tag> b) {
  uint64_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const Tag& x = a[i];
    const Tag& y = b[i];
    diff |= (uintptr_t(x.key.data()) ^ uintptr_t(y.key.data())) | (x.key.size() ^ y.key.size()) |
            (uintptr_t(x.str.data()) ^ uintptr_t(y.str.data())) | (x.str.size() ^ y.str.size()) |
            uint64_t(x.num ^ y.num) | uint64_t(uint8_t(x.type) ^ uint8_t(y.type));
  }
  return diff == 0;
}

// The spans Accumulate adds: a run of the batch, or a group's list of spans
// from short runs, read alike (and as the AVX-512 pass takes them: view()).
struct RunOfSpans {
  std::span<const SpanRecord> v;
  size_t size() const { return v.size(); }
  const SpanRecord& operator[](size_t i) const { return v[i]; }
  RunOfSpans first(size_t n) const { return {v.first(n)}; }
  RunOfSpans subspan(size_t k) const { return {v.subspan(k)}; }
  std::span<const SpanRecord> view() const { return v; }
};
struct ListOfSpans {
  std::span<const SpanRecord* const> v;
  size_t size() const { return v.size(); }
  const SpanRecord& operator[](size_t i) const { return *v[i]; }
  ListOfSpans first(size_t n) const { return {v.first(n)}; }
  ListOfSpans subspan(size_t k) const { return {v.subspan(k)}; }
  std::span<const SpanRecord* const> view() const { return v; }
};

// Whether a span failed (a counter is set only with its bit, so a span
// without the errors bit reads no further).
inline bool Failed(const SpanRecord& s) {
  return s.counters.has(Counter::kErrors) && s.counters[Counter::kErrors] > 0;
}

// What of a span its outcome depends on, compared by address (spans from
// one call site share their strings): kind, name, tags, trace tags, the
// root flag and whether it failed.
struct Identity {
  std::string_view kind, name;
  std::span<const Tag> tags, trace_tags;
  bool root, failed;
  explicit Identity(const SpanRecord& s)
      : kind(s.kind),
        name(s.name),
        tags(s.tags),
        trace_tags(s.trace_tags),
        root(s.is_trace_root),
        failed(Failed(s)) {}
};

// Whether span `s` shares the outcome of `first`, a span of the same batch:
// alike in its identity (the name only when an attribute reads it) and,
// when `first` adds nothing (`adds_nothing`), with nothing to add either.
// Tags the flusher decoded once (the same item bytes) are the same span of
// Tags, others are compared by their fields' addresses.
inline bool Alike(const Identity& first, const SpanRecord& s, bool name_matters,
                  bool adds_nothing) {
  if (!SameView(s.kind, first.kind) || s.tags.size() != first.tags.size() ||
      s.trace_tags.data() != first.trace_tags.data() ||
      s.trace_tags.size() != first.trace_tags.size() || s.is_trace_root != first.root ||
      Failed(s) != first.failed || (name_matters && !SameView(s.name, first.name))) {
    return false;
  }
  if (s.tags.data() != first.tags.data() && !SameTagViews(first.tags, s.tags)) return false;
  return !adds_nothing || !Relevant(s);
}

// The end of the spans in [from, limit) alike `first`, reading ahead.
[[gnu::noinline]] const SpanRecord* RunEnd(const SpanRecord& first, bool name_matters,
                                           bool adds_nothing, const SpanRecord* from,
                                           const SpanRecord* limit) {
  const Identity id(first);  // in registers
  for (; from != limit; ++from) {
    aggregation::ReadAhead(from);
    if (!Alike(id, *from, name_matters, adds_nothing)) break;
  }
  return from;
}
}  // namespace

bool MetricsAggregator::Joins(const Group& g, const SpanRecord& s) const {
  return Alike(Identity(*g.first), s, name_matters_, g.outcome.series < 0);
}

const SpanRecord* MetricsAggregator::GroupEnd(const Group& g, const SpanRecord* from,
                                              const SpanRecord* limit) const {
  const bool adds_nothing = g.outcome.series < 0;
  if (!simd_) return RunEnd(*g.first, name_matters_, adds_nothing, from, limit);
  // Eight at a time where the CPU can, the rest one at a time; when the
  // group's last run was short (the spans of a few threads take turns), the
  // first kRunSpans one at a time too, sparing the vectors' set-up.
  const SpanRecord* end = from;
  if (g.last_run < kRunSpans) {
    const ptrdiff_t first = std::min<ptrdiff_t>(kRunSpans, limit - from);
    end = RunEnd(*g.first, name_matters_, adds_nothing, from, from + first);
    if (end != from + kRunSpans) return end;
  }
  end = simd::AlikeEnd(*g.first, name_matters_, adds_nothing ? kUsedCounters : 0, end, limit);
  return RunEnd(*g.first, name_matters_, adds_nothing, end, limit);
}

void MetricsAggregator::RecordSpans(std::span<const SpanRecord> spans) {
  BeginBatch();
  if (uses_trace_key_) {
    // With the conversation as an attribute no two spans are alike.
    for (const SpanRecord& s : spans) {
      const Outcome o = Lookup(s, {}, Relevant(s));
      if (o.series >= 0) Accumulate(RunOfSpans{{&s, 1}}, o);
    }
    return;
  }
  // Spans alike (Alike) share the outcome of the first of them, which alone
  // is looked up. They come in runs (one call site's spans, one thread's),
  // which interleave in a batch sorted by time: a run joins the group of
  // the last run like it, or starts a group in place of the least recently
  // used. Runs are cut at kGroupSpans spans, so that they are still in the
  // L1 cache when added; a run of kRunSpans or more is added where it is,
  // shorter ones are listed in their group and added kGroupSpans at a time.
  if (!groups_) groups_ = std::make_unique<std::array<Group, kGroups>>();
  std::array<Group, kGroups>& groups = *groups_;
  auto add = [&](Group& g) {
    if (g.n != 0) Accumulate(ListOfSpans{{g.spans.data(), g.n}}, g.outcome);
    g.n = 0;
  };
  int live = 0;
  uint64_t tick = 0;
  // The group a run joined, by a hash of its span's kind, tags and trace
  // tags: the group to try first (threads take turns, so the group of the
  // run before is seldom the one).
  std::array<int8_t, 64> hint;
  hint.fill(-1);
  const SpanRecord* const end = spans.data() + spans.size();
  for (const SpanRecord* s = spans.data(); s != end;) {
    const size_t h =
        (uintptr_t(s->kind.data()) ^ (uintptr_t(s->tags.data()) >> 4) ^
         (uintptr_t(s->trace_tags.data()) >> 4) ^ (uintptr_t(s->trace_tags.data()) >> 10)) %
        hint.size();
    int g = hint[h] >= 0 && Joins(groups[size_t(hint[h])], *s) ? hint[h] : -1;
    for (int k = 0; g < 0 && k < live; ++k) {
      if (Joins(groups[size_t(k)], *s)) g = k;
    }
    if (g < 0) {
      if (live < kGroups) {
        g = live++;
      } else {
        g = 0;
        for (int k = 1; k < kGroups; ++k) {
          if (groups[size_t(k)].used < groups[size_t(g)].used) g = k;
        }
        add(groups[size_t(g)]);
      }
      groups[size_t(g)].first = s;
      groups[size_t(g)].outcome = Lookup(*s, {}, Relevant(*s));
      groups[size_t(g)].last_run = 0;
    }
    hint[h] = int8_t(g);
    Group& group = groups[size_t(g)];
    group.used = ++tick;
    const SpanRecord* const limit = size_t(end - s) > kGroupSpans ? s + kGroupSpans : end;
    const SpanRecord* const run_end = GroupEnd(group, s + 1, limit);
    const size_t length = size_t(run_end - s);
    group.last_run = length;
    if (group.outcome.series < 0) {
      // adds nothing
    } else if (length >= kRunSpans) {
      Accumulate(RunOfSpans{{s, length}}, group.outcome);  // where it is
    } else {
      if (group.n + length > kGroupSpans) add(group);
      for (size_t k = 0; k < length; ++k) group.spans[group.n + k] = s + k;
      group.n += length;
    }
    s = run_end;
  }
  for (int k = 0; k < live; ++k) add(groups[size_t(k)]);
}

void MetricsAggregator::Record(const SpanRecord& s, std::string_view trace_key, double cost_usd) {
  const bool relevant = Relevant(s) || !std::isnan(cost_usd);
  Outcome o = Lookup(s, trace_key, relevant);
  if (o.series < 0) return;
  Accumulate(RunOfSpans{{&s, 1}}, o);
  if (!std::isnan(cost_usd)) {
    Series& series = series_[size_t(o.series)];
    series.cost += cost_usd;
    series.has_cost = true;
  }
}

MetricsAggregator::Outcome MetricsAggregator::Lookup(const SpanRecord& s,
                                                     std::string_view trace_key, bool relevant) {
  const Counters& c = s.counters;
  if (!uses_trace_key_) trace_key = {};
  SpanTags tags;
  ScanTags(s, tags);
  const Tag* tag_attrs[Shape::kMaxTagAttrs];
  for (int i = 0, k = 0; k < tag_attrs_; ++i) {
    const Attribute& a = attrs_[size_t(i)];
    if (a.source != Source::kTag) continue;
    const Tag* found = FindTag(s.tags, a.tag);
    tag_attrs[k++] = found != nullptr ? found : FindTag(s.trace_tags, a.tag);
  }
  // A span like a recent one of this batch (typically from the same call
  // site) has its outcome: skip working it out.
  const Shape* shape = nullptr;
  for (int i = 0; cache_ && i < shapes_n_; ++i) {
    if (Matches(cache_->shapes[size_t(i)], s, tags, tag_attrs, trace_key)) {
      shape = &cache_->shapes[size_t(i)];
      break;
    }
  }
  Outcome o;
  if (shape != nullptr) o = shape->outcome;
  if (shape == nullptr || (o.series < 0 && relevant)) {
    bool stable;
    o = Resolve(s, tags, trace_key, relevant, &stable);
    if (stable && cache_) {
      Shape& m = cache_->shapes[size_t(shapes_next_)];
      shapes_next_ = (shapes_next_ + 1) % kShapes;
      if (shapes_n_ < kShapes) ++shapes_n_;
      m.kind = s.kind;
      m.name = s.name;
      m.trace_key = trace_key;
      m.is_trace_root = s.is_trace_root;
      m.error = c[Counter::kErrors] > 0;
      m.trace_tags = s.trace_tags.data();
      m.ntrace_tags = s.trace_tags.size();
      m.tags[0].Set(tags.provider);
      m.tags[1].Set(tags.model);
      m.tags[2].Set(tags.response_model);
      m.tags[3].Set(tags.status);
      m.tags[4].Set(tags.error_type);
      m.tags[5].Set(tags.tool);
      for (int i = 0; i < tag_attrs_; ++i) m.tag_attrs[i].Set(tag_attrs[i]);
      m.outcome = o;
    }
  }
  return o;
}

namespace {
// A histogram's sums over a part of a group's spans, kept in registers and stored
// once per part: the histogram's fields could alias the spans' counters
// (both 64-bit integers), and an increment in memory per span makes a chain
// of store-to-load waits when spans fall in the same bucket (they mostly
// do). Bucket counts are the nibbles of one register (15 buckets, 4 bits
// each), so a part is at most kPart spans; the count is their sum.
constexpr size_t kPart = 15;
// A span's increment of the nibbles, by the bit width the bucket tables are
// indexed by.
constexpr std::array<uint64_t, 65> NibbleOfWidth(const std::array<uint8_t, 65>& bucket) {
  std::array<uint64_t, 65> t{};
  for (size_t w = 0; w < t.size(); ++w) t[w] = uint64_t{1} << (4 * bucket[w]);
  return t;
}
constexpr std::array<uint64_t, 65> kTokenNibble = NibbleOfWidth(bucket_tables::kTokenBucketOfWidth);
constexpr std::array<uint64_t, 65> kDurationNibble =
    NibbleOfWidth(bucket_tables::kDurationBucketOfWidth);
struct PartSums {
  uint64_t nibbles = 0;
  int64_t sum = 0, min, max;
  explicit PartSums(const Histogram& h) : min(h.min), max(h.max) {}
  void Add(int64_t v, uint64_t nibble) {
    sum = WrappingAdd(sum, v);
    min = v < min ? v : min;
    max = v > max ? v : max;
    nibbles += nibble;
  }
  void AddTokens(int64_t v) { Add(v, kTokenNibble[bucket_tables::TokenWidth(v)]); }
  void AddDuration(int64_t v) { Add(v, kDurationNibble[bucket_tables::DurationWidth(v)]); }
  void StoreInto(Histogram& h) const {
    // Only the buckets counted in (mostly one).
    for (uint64_t n = nibbles; n != 0;) {
      const int shift = std::countr_zero(n) & ~3;
      const uint64_t c = (n >> shift) & 0xf;
      h.buckets[size_t(shift / 4)] += c;
      h.count += c;
      n &= ~(uint64_t{0xf} << shift);
    }
    h.sum = WrappingAdd(h.sum, sum);
    h.min = min;
    h.max = max;
  }
};

// The sum of counter `k` over spans whose counter masks OR to
// `seen` (a counter is set only with its mask bit, so an unset one is 0 in
// every span and costs nothing). With `implied`, a span whose counter is 0
// counts one: as the OTLP JSON reader reads spans back, a 429 is one
// rate-limited request, a tool span one tool call and a failed span one
// error when the counters do not say.
template <typename Spans>
int64_t SumCounter(const Spans& spans, uint32_t seen, Counter k, bool implied) {
  if (((seen >> int(k)) & 1u) == 0) return implied ? int64_t(spans.size()) : 0;
  int64_t t = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    const int64_t v = spans[i].counters[k];
    t = WrappingAdd(t, implied && v == 0 ? 1 : v);
  }
  return t;
}

// A span's duration in ns, 0 for an end before the start (timestamps so
// far apart that the difference wraps count as such).
inline int64_t DurationOf(const SpanRecord& s) {
  return std::max<int64_t>(int64_t(uint64_t(s.end_unix_ns) - uint64_t(s.start_unix_ns)), 0);
}

// gen_ai.client.token.usage (input counts cached input too, the GenAI
// convention; output is output tokens, reasoning included) and, with
// kDuration, gen_ai.client.operation.duration, in one pass over spans in
// the L1 cache, each histogram's sums in registers. Returns the OR of the
// spans' counter masks.
template <bool kDuration, typename Spans>
uint32_t AddHistograms(const Spans& spans, Histogram& input, Histogram& output,
                       Histogram& duration) {
  uint32_t seen = 0;
  for (size_t at = 0; at < spans.size(); at += kPart) {
    PartSums in(input), out(output), d(duration);
    for (size_t i = at; i < std::min(at + kPart, spans.size()); ++i) {
      const SpanRecord& s = spans[i];
      const Counters& c = s.counters;
      seen |= c.mask;
      if ((c.mask & aggregation::kInputCounters) != 0) {
        in.AddTokens(
            WrappingAdd(WrappingAdd(c[Counter::kInputTokens], c[Counter::kCacheReadTokens]),
                        c[Counter::kCacheWriteTokens]));
      }
      if (c.has(Counter::kOutputTokens)) out.AddTokens(c[Counter::kOutputTokens]);
      if constexpr (kDuration) d.AddDuration(DurationOf(s));
    }
    in.StoreInto(input);
    out.StoreInto(output);
    if constexpr (kDuration) d.StoreInto(duration);
  }
  return seen;
}
}  // namespace

template <typename Spans>
void MetricsAggregator::Accumulate(const Spans& spans, const Outcome& o) {
  Series& series = series_[size_t(o.series)];
  spans_recorded_ += spans.size();
  dirty_ = true;
  // Eight spans at a time where the CPU can, the rest (and every span where
  // it cannot) one at a time.
  const size_t eights = simd_ ? spans.size() & ~size_t{7} : 0;
  uint32_t seen = eights == 0 ? 0
                              : simd::AddHistograms(spans.first(eights).view(), o.genai,
                                                    series.input, series.output, series.duration);
  if (eights != spans.size()) {
    const auto rest = spans.subspan(eights);
    seen |= o.genai ? AddHistograms<true>(rest, series.input, series.output, series.duration)
                    : AddHistograms<false>(rest, series.input, series.output, series.duration);
  }
  const bool limited_429 = o.http_status == 429;
  auto add = [&](int i, Counter k, bool implied) {
    int64_t& total = series.counters[size_t(i)];
    total = WrappingAdd(total, SumCounter(spans, seen, k, implied));
  };
  add(kCacheRead, Counter::kCacheReadTokens, false);
  add(kCacheWrite, Counter::kCacheWriteTokens, false);
  add(kRateLimited, Counter::kRateLimited, limited_429);
  add(kRetries, Counter::kRetries, false);
  add(kToolCalls, Counter::kToolCalls, o.tool);
  add(kErrors, Counter::kErrors, o.error);
  // A counter is seen when a span set it, or when the outcome counts one.
  auto bit = [&](Counter k, int i) { return ((seen >> int(k)) & 1u) << i; };
  series.counters_seen |=
      bit(Counter::kCacheReadTokens, kCacheRead) | bit(Counter::kCacheWriteTokens, kCacheWrite) |
      bit(Counter::kRateLimited, kRateLimited) | (uint32_t(limited_429) << kRateLimited) |
      bit(Counter::kRetries, kRetries) | bit(Counter::kToolCalls, kToolCalls) |
      (uint32_t(o.tool) << kToolCalls) | bit(Counter::kErrors, kErrors) |
      (uint32_t(o.error) << kErrors);
}

MetricsAggregator::Outcome MetricsAggregator::Resolve(const SpanRecord& s, const SpanTags& tags,
                                                      std::string_view trace_key, bool relevant,
                                                      bool* stable_out) {
  GenAiFacts f;
  Describe(s, tags, trace_key, f);
  Outcome o;
  o.genai = !f.operation.empty();
  o.tool = f.operation == "execute_tool";
  o.error = f.error;
  o.http_status = f.http_status;
  *stable_out = true;
  if (!o.genai && !o.error && !relevant) return o;  // series -1: adds nothing
  // Scratch of this thread: arrays on the stack would be zeroed on every
  // call (a third of the time per span).
  static thread_local std::array<std::string_view, kMaxAttrs> values_scratch;
  static thread_local char bufs[kMaxAttrs][24];
  std::string_view* values = values_scratch.data();
  bool stable = true;  // no value formatted into bufs
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
    // A value formatted into a scratch buffer is not the span's own string.
    if (!v.empty() && (v.data() == bufs[i] || v.data() == f.error_buf)) stable = false;
    values[i] = v;
  }
  *stable_out = stable;
  o.series = int(&Find(values, n, stable) - series_.data());
  return o;
}

void MetricsAggregator::RecordDrops(uint64_t n) {
  dropped_ += n;
  dropped_seen_ = true;
  dirty_ = true;
}

void MetricsAggregator::RecordAlert(std::string_view rule, Severity severity) {
  ++alerts_[{std::string(rule), std::string(SeverityName(severity))}];
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
      dst = &Find(values.data(), int(values.size()), /*stable=*/false);
    }
    dst->input.Merge(src.input);
    dst->output.Merge(src.output);
    dst->duration.Merge(src.duration);
    for (int i = 0; i < kNumCounters; ++i) {
      dst->counters[size_t(i)] = WrappingAdd(dst->counters[size_t(i)], src.counters[size_t(i)]);
    }
    dst->counters_seen |= src.counters_seen;
    dst->cost += src.cost;
    dst->has_cost |= src.has_cost;
  }
  dropped_ += o.dropped_;
  dropped_seen_ |= o.dropped_seen_;
  for (const auto& [k, n] : o.alerts_) alerts_[k] += n;
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
  if (series_.empty() && !dropped_seen_ && alerts_.empty()) return 0;
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
                              double scale, auto&& each) {
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
      PutDouble(out, kHistSum, double(h.sum) * scale);
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
      PutDouble(out, kHistMin, double(h.min) * scale);
      PutDouble(out, kHistMax, double(h.max) * scale);
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
                   kTokenBounds, 1.0, [](const Series& s, auto& point) {
                     point(s, s.input, "input");
                     point(s, s.output, "output");
                   });
  histogram_metric(kOperationDurationMetric, "s", "GenAI operation duration.", kDurationBounds,
                   1e-9, [](const Series& s, auto& point) { point(s, s.duration, ""); });

  // Monotonic sums: one metric per counter, a point per series that has it.
  auto sum_metric = [&](std::string_view name, std::string_view unit, std::string_view description,
                        auto&& each) {
    size_t metric_pos = std::string::npos, sum_pos = 0;
    auto point = [&](const Series* s, bool is_double, int64_t iv, double dv,
                     const std::pair<std::string, std::string>* alert = nullptr) {
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
      if (alert != nullptr) {
        PutStringAttribute(out, kNumberAttributes, "tokmeter.alert.rule", alert->first);
        PutStringAttribute(out, kNumberAttributes, "tokmeter.alert.severity", alert->second);
      }
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
  sum_metric("tokmeter.alerts", "{alert}",
             "Alerts the live monitor raised (budget thresholds, rules), by rule and severity.",
             [&](auto& point) {
               for (const auto& [k, n] : alerts_) point(nullptr, false, n, 0, &k);
             });

  EndLength(out, scope_pos);
  EndLength(out, request_pos);
  if (points == 0) out.resize(out_size);
  if (delta) {
    series_.clear();
    index_.clear();
    overflow_ = -1;
    if (cache_) cache_->recent = {};
    recent_n_ = 0;
    shapes_n_ = 0;
    dropped_ = 0;
    dropped_seen_ = false;
    alerts_.clear();
    start_ns_ = time_unix_ns;
  }
  dirty_ = false;
  return points;
}

}  // namespace tokmeter::otlp
