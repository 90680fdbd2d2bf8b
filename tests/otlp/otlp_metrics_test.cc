// The OTLP metrics exporter against a receiver on 127.0.0.1, decoded with
// the official opentelemetry-proto classes (third_party/opentelemetry-proto,
// v1.11.0): the GenAI client metrics and tokmeter's counters, bucket boundaries,
// temporality, the attribute allow-list and the cardinality bound.
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "src/otlp/metrics.h"
#include "src/otlp/metrics_simd.h"
#include "tests/otlp/receiver.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/otlp.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

using namespace std::chrono_literals;
using testing::Attrs;
using testing::AttrValue;
using testing::Receiver;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
namespace pm = opentelemetry::proto::metrics::v1;

OtlpMetricsOptions FastOptions(const std::string& endpoint) {
  OtlpMetricsOptions o;
  o.otlp.endpoint = endpoint;
  o.otlp.timeout = 500ms;
  o.otlp.initial_backoff = 10ms;
  o.otlp.close_timeout = 2000ms;
  o.export_interval = 3600s;  // exports only on Flush and Close
  return o;
}

std::unique_ptr<OtlpMetricsSink> Make(OtlpMetricsOptions o) {
  auto sink = MakeOtlpMetricsSink(std::move(o));
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? std::move(*sink) : nullptr;
}

// Every request received, decoded.
std::vector<MetricsRequest> Requests(Receiver& rx) {
  std::vector<MetricsRequest> out;
  for (auto& r : rx.received()) {
    EXPECT_EQ(r.target, "/v1/metrics");
    EXPECT_EQ(r.headers["Content-Type"], "application/x-protobuf");
    MetricsRequest req;
    EXPECT_TRUE(req.ParseFromString(r.body));
    out.push_back(std::move(req));
  }
  return out;
}

// The metrics of one request by name.
std::map<std::string, pm::Metric> ByName(const MetricsRequest& req) {
  std::map<std::string, pm::Metric> out;
  EXPECT_EQ(req.resource_metrics_size(), 1);
  for (const auto& sm : req.resource_metrics(0).scope_metrics()) {
    EXPECT_EQ(sm.scope().name(), "tokmeter");
    EXPECT_EQ(sm.schema_url(), "https://opentelemetry.io/schemas/1.41.0");
    for (const auto& m : sm.metrics()) {
      EXPECT_EQ(out.count(m.name()), 0u) << "metric twice: " << m.name();
      out[m.name()] = m;
    }
  }
  return out;
}

// A data point's attributes as "k=v,k2=v2" (sorted), for lookups.
template <typename Point>
std::string Key(const Point& p) {
  std::string k;
  for (const auto& [name, v] : Attrs(p.attributes())) {
    if (!k.empty()) k += ",";
    k += name + "=";
    if (auto* s = std::get_if<std::string>(&v)) k += *s;
    if (auto* b = std::get_if<bool>(&v)) k += *b ? "true" : "false";
    if (auto* i = std::get_if<int64_t>(&v)) k += std::to_string(*i);
  }
  return k;
}

template <typename Point, typename Container>
std::map<std::string, Point> Points(const Container& points) {
  std::map<std::string, Point> out;
  for (const auto& p : points) {
    EXPECT_EQ(out.count(Key(p)), 0u) << "two points with " << Key(p);
    out[Key(p)] = p;
  }
  return out;
}

std::vector<uint64_t> Buckets(const pm::HistogramDataPoint& p) {
  return std::vector<uint64_t>(p.bucket_counts().begin(), p.bucket_counts().end());
}
// Writes `b`, exports, and returns the metrics of the one request sent, by
// name (none when not exactly one request came).
std::map<std::string, pm::Metric> WriteAndExport(OtlpMetricsSink& sink, const Batch& b,
                                                 Receiver& rx) {
  EXPECT_TRUE(sink.Write(b).ok());
  EXPECT_TRUE(sink.Flush().ok());
  EXPECT_TRUE(sink.WaitIdle(3000ms));
  auto reqs = Requests(rx);
  EXPECT_EQ(reqs.size(), 1u);
  return reqs.size() == 1 ? ByName(reqs[0]) : std::map<std::string, pm::Metric>{};
}

// 15 buckets, `count` in bucket `i`.
std::vector<uint64_t> One(int i, uint64_t count) {
  std::vector<uint64_t> b(15, 0);
  b[size_t(i)] = count;
  return b;
}

// The llm spans' attributes (no error.type: they did not fail).
constexpr char kChat[] =
    "gen_ai.operation.name=chat,gen_ai.provider.name=anthropic,"
    "gen_ai.request.model=claude-sonnet-4-5,gen_ai.response.model=claude-sonnet-4-5";

TEST(OtlpMetricsTest, GenAiClientMetricsAndCountersDecode) {
  Receiver rx;
  auto sink = Make(FastOptions(rx.endpoint()));
  testing::SampleBatch b(2);  // 2 llm + 2 tool spans, the session root, 17 drops
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->Flush().ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  ASSERT_TRUE(sink->Close().ok());  // nothing new: no second request
  auto reqs = Requests(rx);
  ASSERT_EQ(reqs.size(), 1u);
  auto res = Attrs(reqs[0].resource_metrics(0).resource().attributes());
  EXPECT_EQ(std::get<std::string>(res["service.name"]), "tokmeter");
  auto m = ByName(reqs[0]);
  std::vector<std::string> names;
  for (const auto& [name, metric] : m) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "gen_ai.client.operation.duration", "gen_ai.client.token.usage",
                       "tokmeter.cache_read.tokens", "tokmeter.cache_write.tokens",
                       "tokmeter.errors", "tokmeter.rate_limited.requests",
                       "tokmeter.records.dropped", "tokmeter.retries", "tokmeter.tool.calls"}));

  // gen_ai.client.token.usage: the two llm spans, input 12 + 40,000 cache
  // read + 1,500 cache write = 41,512 each (bucket 8: 16,384 < v <= 65,536),
  // output 230 each (bucket 4: 64 < v <= 256).
  const pm::Metric& usage = m["gen_ai.client.token.usage"];
  EXPECT_EQ(usage.unit(), "{token}");
  ASSERT_TRUE(usage.has_histogram());
  EXPECT_EQ(usage.histogram().aggregation_temporality(), pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto up = Points<pm::HistogramDataPoint>(usage.histogram().data_points());
  const std::string chat = kChat;
  ASSERT_EQ(up.size(), 2u);
  const auto& in = up[chat + ",gen_ai.token.type=input"];
  EXPECT_EQ(in.count(), 2u);
  EXPECT_EQ(in.sum(), 83024.0);  // 2 × 41,512
  EXPECT_EQ(in.min(), 41512.0);
  EXPECT_EQ(in.max(), 41512.0);
  EXPECT_EQ(Buckets(in), One(8, 2));
  EXPECT_EQ(std::vector<double>(in.explicit_bounds().begin(), in.explicit_bounds().end()),
            (std::vector<double>{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
                                 4194304, 16777216, 67108864}));
  const auto& out = up[chat + ",gen_ai.token.type=output"];
  EXPECT_EQ(out.count(), 2u);
  EXPECT_EQ(out.sum(), 460.0);
  EXPECT_EQ(Buckets(out), One(4, 2));
  EXPECT_GT(in.time_unix_nano(), in.start_time_unix_nano());

  // gen_ai.client.operation.duration: llm 1.250000123 s (bucket 7: 0.64 <
  // v <= 1.28), tool 5 µs (bucket 0, with error.type 503: status 503), the
  // root 9 s (bucket 10: 5.12 < v <= 10.24).
  const pm::Metric& dur = m["gen_ai.client.operation.duration"];
  EXPECT_EQ(dur.unit(), "s");
  auto dp = Points<pm::HistogramDataPoint>(dur.histogram().data_points());
  ASSERT_EQ(dp.size(), 3u);
  EXPECT_EQ(Buckets(dp[chat]), One(7, 2));
  EXPECT_DOUBLE_EQ(dp[chat].sum(), 2 * 1.250000123);
  const std::string tool = "error.type=503,gen_ai.operation.name=execute_tool";
  EXPECT_EQ(Buckets(dp[tool]), One(0, 2));
  EXPECT_EQ(Buckets(dp["gen_ai.operation.name=invoke_agent"]), One(10, 1));
  EXPECT_EQ(
      std::vector<double>(dp[chat].explicit_bounds().begin(), dp[chat].explicit_bounds().end()),
      (std::vector<double>{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                           40.96, 81.92}));

  // tokmeter's counters: monotonic cumulative sums.
  auto sum = [&](const std::string& name) {
    const pm::Metric& metric = m[name];
    EXPECT_TRUE(metric.has_sum()) << name;
    EXPECT_TRUE(metric.sum().is_monotonic()) << name;
    EXPECT_EQ(metric.sum().aggregation_temporality(), pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
    std::map<std::string, int64_t> out;
    for (const auto& p : metric.sum().data_points()) out[Key(p)] = p.as_int();
    return out;
  };
  using Ints = std::map<std::string, int64_t>;
  EXPECT_EQ(sum("tokmeter.cache_read.tokens"), (Ints{{chat, 80000}}));  // 2 × 40,000
  EXPECT_EQ(sum("tokmeter.cache_write.tokens"), (Ints{{chat, 3000}}));  // 2 × 1,500
  EXPECT_EQ(sum("tokmeter.retries"), (Ints{{chat, 0}}));                // set to 0 on each llm span
  EXPECT_EQ(sum("tokmeter.rate_limited.requests"), (Ints{{tool, 4}}));  // 2 × 2
  EXPECT_EQ(sum("tokmeter.tool.calls"), (Ints{{tool, 2}}));
  EXPECT_EQ(sum("tokmeter.errors"), (Ints{{tool, 2}}));
  EXPECT_EQ(sum("tokmeter.records.dropped"), (Ints{{"", 17}}));
  EXPECT_EQ(m["tokmeter.records.dropped"].unit(), "{record}");

  OtlpMetricsStats st = sink->stats();
  EXPECT_EQ(st.spans_recorded, 5u);
  EXPECT_EQ(st.series, 3u);  // chat, tool, invoke_agent
  EXPECT_EQ(st.exports, 1u);
  EXPECT_EQ(st.requests, 1u);
  // 2 token usage + 3 duration + 6 counter points + 1 dropped = 12.
  EXPECT_EQ(st.points_exported, 12u);
}

TEST(OtlpMetricsTest, DeltaPointsHoldWhatHappenedSinceTheLastExport) {
  Receiver rx;
  OtlpMetricsOptions o = FastOptions(rx.endpoint());
  o.temporality = OtlpTemporality::kDelta;
  o.attributes = {"gen_ai.operation.name"};
  auto sink = Make(o);
  testing::SampleBatch b(1);
  b.batch.drops.clear();
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->Flush().ok());
  ASSERT_TRUE(sink->Flush().ok());  // nothing new: nothing sent
  testing::SampleBatch c(3);
  c.batch.drops.clear();
  ASSERT_TRUE(sink->Write(c.batch).ok());
  ASSERT_TRUE(sink->Close().ok());
  auto reqs = Requests(rx);
  ASSERT_EQ(reqs.size(), 2u);
  auto input = [](const MetricsRequest& r) {
    auto m = ByName(r);
    EXPECT_EQ(m["gen_ai.client.token.usage"].histogram().aggregation_temporality(),
              pm::AGGREGATION_TEMPORALITY_DELTA);
    auto p =
        Points<pm::HistogramDataPoint>(m["gen_ai.client.token.usage"].histogram().data_points());
    return p["gen_ai.operation.name=chat,gen_ai.token.type=input"];
  };
  auto first = input(reqs[0]);
  auto second = input(reqs[1]);
  EXPECT_EQ(first.count(), 1u);   // SampleBatch(1): one llm span
  EXPECT_EQ(second.count(), 3u);  // SampleBatch(3): three, not four
  EXPECT_EQ(second.start_time_unix_nano(), first.time_unix_nano());
}

TEST(OtlpMetricsTest, AllowListedTagsAndTheCardinalityBound) {
  Receiver rx;
  OtlpMetricsOptions o = FastOptions(rx.endpoint());
  o.attributes = {"gen_ai.request.model", "tokmeter.channel"};
  o.max_series = 3;  // two models, then the overflow series
  auto sink = Make(o);
  std::vector<std::string> models = {"m1", "m2", "m3", "m4", "m1"};
  std::vector<std::vector<Tag>> tags;
  for (const auto& model : models) tags.push_back({{"model", TagType::kString, model, 0}});
  std::vector<Tag> trace_tags = {{"channel", TagType::kString, "discord", 0}};
  Batch batch;
  for (size_t i = 0; i < models.size(); ++i) {
    SpanRecord s;
    s.trace_id = TraceId{1, 1};
    s.span_id = 10 + i;
    s.kind = "llm";
    s.start_unix_ns = 0;
    s.end_unix_ns = 1;
    s.counters.Add(Counter::kOutputTokens, 10);
    s.tags = tags[i];
    s.trace_tags = trace_tags;
    batch.spans.push_back(s);
  }
  ASSERT_TRUE(sink->Write(batch).ok());
  ASSERT_TRUE(sink->Close().ok());
  auto reqs = Requests(rx);
  ASSERT_EQ(reqs.size(), 1u);
  auto m = ByName(reqs[0]);
  auto p = Points<pm::HistogramDataPoint>(m["gen_ai.client.token.usage"].histogram().data_points());
  std::map<std::string, uint64_t> counts;
  for (const auto& [key, point] : p) counts[key] = point.count();
  // m1 (twice), m2 in their own series; m3 and m4 in the overflow series.
  EXPECT_EQ(counts,
            (std::map<std::string, uint64_t>{
                {"gen_ai.request.model=m1,gen_ai.token.type=output,tokmeter.channel=discord", 2},
                {"gen_ai.request.model=m2,gen_ai.token.type=output,tokmeter.channel=discord", 1},
                {"gen_ai.token.type=output,otel.metric.overflow=true", 2}}));
  EXPECT_EQ(sink->stats().spans_overflowed, 2u);
  EXPECT_EQ(sink->stats().series, 3u);
}

TEST(OtlpMetricsTest, BadOptionsAreRefusedByName) {
  OtlpMetricsOptions o;
  o.attributes = {"gen_ai.operation.name", "user.id"};
  auto sink = MakeOtlpMetricsSink(o);
  ASSERT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(sink.status().message().find("\"user.id\" is not allowed"), std::string::npos)
      << sink.status();
  o.attributes = {};
  o.otlp.endpoint = "localhost:4318";
  sink = MakeOtlpMetricsSink(o);
  ASSERT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(sink.status().message().find("OTLP metrics endpoint must start with http://"),
            std::string::npos)
      << sink.status();
  o.otlp.endpoint = "http://localhost:99999";
  EXPECT_NE(MakeOtlpMetricsSink(o).status().message().find("bad port \"99999\""),
            std::string::npos);
}

TEST(OtlpMetricsTest, BucketsFollowTheExplicitBounds) {
  // Token bounds 1, 4, 16, …: bucket i holds (4^(i-1), 4^i].
  EXPECT_EQ(otlp::TokenBucket(0), 0);
  EXPECT_EQ(otlp::TokenBucket(1), 0);
  EXPECT_EQ(otlp::TokenBucket(2), 1);
  EXPECT_EQ(otlp::TokenBucket(4), 1);
  EXPECT_EQ(otlp::TokenBucket(5), 2);
  EXPECT_EQ(otlp::TokenBucket(16), 2);
  EXPECT_EQ(otlp::TokenBucket(17), 3);
  EXPECT_EQ(otlp::TokenBucket(67108864), 13);  // 4^13, the last bound
  EXPECT_EQ(otlp::TokenBucket(67108865), 14);  // above every bound
  // Duration bounds 10 ms · 2^k: bucket i holds (10 ms · 2^(i-1), 10 ms · 2^i].
  EXPECT_EQ(otlp::DurationBucket(0), 0);
  EXPECT_EQ(otlp::DurationBucket(10'000'000), 0);  // 0.01 s
  EXPECT_EQ(otlp::DurationBucket(10'000'001), 1);
  EXPECT_EQ(otlp::DurationBucket(20'000'000), 1);  // 0.02 s
  EXPECT_EQ(otlp::DurationBucket(20'000'001), 2);
  EXPECT_EQ(otlp::DurationBucket(81'920'000'000), 13);  // 81.92 s
  EXPECT_EQ(otlp::DurationBucket(81'920'000'001), 14);
  // Each bucket function agrees with the bounds it stands for.
  for (int64_t v : {1, 3, 4, 1000, 65536, 65537, 1 << 30}) {
    int i = otlp::TokenBucket(v);
    EXPECT_LE(double(v), i < otlp::kNumBounds ? otlp::kTokenBounds[size_t(i)] : INFINITY) << v;
    if (i > 0) EXPECT_GT(double(v), otlp::kTokenBounds[size_t(i - 1)]) << v;
  }
}

// A long batch from one call site (the sink adds such spans as runs) counts
// every span with its own values: the run goes on past its 64-span cut and
// stops at a span of another kind. 200 spans: llm spans 0-99 with 4 input
// tokens, a tool span at 100, llm spans 101-199 with 5; every tenth llm span
// also reads 1,000 cached tokens; all output 2; span 150 was rate limited
// twice, span 160 retried once.
TEST(OtlpMetricsTest, LongRunsOfOneCallSiteCountEverySpan) {
  Receiver rx;
  auto sink = Make(FastOptions(rx.endpoint()));
  const std::vector<Tag> tags = {{"provider", TagType::kString, "anthropic", 0},
                                 {"model", TagType::kString, "claude-sonnet-4-5", 0}};
  Batch b;
  for (int i = 0; i < 200; ++i) {
    SpanRecord& s = b.spans.emplace_back();
    s.trace_id = {1, 2};
    s.span_id = uint64_t(3 + i);
    s.parent_id = 1;
    s.start_unix_ns = int64_t(i) * 1'000'000'000;
    s.end_unix_ns = s.start_unix_ns + 1'000'000'000;  // 1 s: duration bucket 7
    if (i == 100) {
      s.kind = "tool";
      s.name = "search";
      continue;
    }
    s.kind = "llm";
    s.name = "messages";
    s.tags = tags;
    s.counters.Add(Counter::kInputTokens, i < 100 ? 4 : 5);
    if (i % 10 == 0) s.counters.Add(Counter::kCacheReadTokens, 1000);
    s.counters.Add(Counter::kOutputTokens, 2);
    if (i == 150) s.counters.Add(Counter::kRateLimited, 2);
    if (i == 160) s.counters.Add(Counter::kRetries, 1);
  }
  auto m = WriteAndExport(*sink, b, rx);
  auto up =
      Points<pm::HistogramDataPoint>(m["gen_ai.client.token.usage"].histogram().data_points());
  const std::string chat = kChat;
  // Input: 90 spans of 4 (bucket 1), 90 of 5 (bucket 2), 10 of 1,004 and 9
  // of 1,005 (bucket 5: 256 < v <= 1,024): 199 spans, sum 360 + 450 +
  // 10,040 + 9,045 = 19,895.
  const auto& in = up[chat + ",gen_ai.token.type=input"];
  EXPECT_EQ(in.count(), 199u);
  EXPECT_EQ(in.sum(), 19895.0);
  EXPECT_EQ(in.min(), 4.0);
  EXPECT_EQ(in.max(), 1005.0);
  std::vector<uint64_t> want(15, 0);
  want[1] = 90;
  want[2] = 90;
  want[5] = 19;
  EXPECT_EQ(Buckets(in), want);
  const auto& out = up[chat + ",gen_ai.token.type=output"];
  EXPECT_EQ(out.count(), 199u);
  EXPECT_EQ(out.sum(), 398.0);
  EXPECT_EQ(Buckets(out), One(1, 199));
  auto dp = Points<pm::HistogramDataPoint>(
      m["gen_ai.client.operation.duration"].histogram().data_points());
  EXPECT_EQ(Buckets(dp[chat]), One(7, 199));
  EXPECT_EQ(Buckets(dp["gen_ai.operation.name=execute_tool"]), One(7, 1));
  auto sum = [&](const std::string& name) {
    std::map<std::string, int64_t> out;
    for (const auto& p : m[name].sum().data_points()) out[Key(p)] = p.as_int();
    return out;
  };
  using Ints = std::map<std::string, int64_t>;
  EXPECT_EQ(sum("tokmeter.cache_read.tokens"), (Ints{{chat, 19000}}));
  EXPECT_EQ(sum("tokmeter.rate_limited.requests"), (Ints{{chat, 2}}));
  EXPECT_EQ(sum("tokmeter.retries"), (Ints{{chat, 1}}));
  EXPECT_EQ(sum("tokmeter.tool.calls"), (Ints{{"gen_ai.operation.name=execute_tool", 1}}));
  EXPECT_EQ(sink->stats().spans_recorded, 200u);
}

// An aggregator as the metrics sink makes it (default attributes), adding
// runs eight spans at a time with AVX-512 (`simd`) or one at a time; null
// (and the test skipped) when this CPU has no AVX-512.
std::optional<otlp::MetricsAggregator> MakeAggregator(bool simd) {
  auto agg = otlp::MetricsAggregator::Make(OtlpMetricsOptions{}.attributes,
                                           OtlpTemporality::kCumulative, 2000, 0);
  EXPECT_TRUE(agg.ok()) << agg.status();
  if (!agg.ok() || agg->set_simd(simd) != simd) return std::nullopt;
  return std::move(*agg);
}

// What the aggregator collects, encoded as the sink sends it.
std::string CollectBody(otlp::MetricsAggregator& agg) {
  std::string body;
  agg.Collect(otlp::EncodeOtlpResource("svc", {}), 1'000'000'000'000, body);
  return body;
}

// Random runs of spans of four call sites (two models, a tool, and a job
// that reports tokens but is no GenAI operation, so has no duration), with
// values at and beside every bucket bound, against histograms and sums the
// test keeps itself from the bounds (not from the bucket functions). Runs of
// one call site go past the aggregator's parts of 15 spans and its cut at
// 64, a third of them with one value throughout; some runs carry their own
// copy of the tags (alike by content, not by address), and a failed call in a
// run belongs to a series of its own. Run through the sink's aggregation
// (RecordSpans) one span at a time and, where the CPU has AVX-512, eight
// at a time.
class RandomRunsTest : public ::testing::TestWithParam<bool> {};

TEST_P(RandomRunsTest, AgreeWithHistogramsKeptByTheTest) {
  auto agg = MakeAggregator(GetParam());
  if (!agg) GTEST_SKIP() << "this CPU has no AVX-512";
  const std::vector<Tag> tags_a = {{"provider", TagType::kString, "anthropic", 0},
                                   {"model", TagType::kString, "claude-sonnet-4-5", 0}};
  const std::vector<Tag> tags_b = {{"provider", TagType::kString, "openai", 0},
                                   {"model", TagType::kString, "gpt-4o", 0}};
  const std::string key_a = kChat;
  const std::string key_b =
      "gen_ai.operation.name=chat,gen_ai.provider.name=openai,"
      "gen_ai.request.model=gpt-4o,gen_ai.response.model=gpt-4o";
  const std::string key_tool = "gen_ai.operation.name=execute_tool";
  const std::string key_job = "";
  // Token values: every bound 4^k, one above and one below, and a few
  // others; durations: every bound 10 ms · 2^k, one above, and below zero.
  std::vector<int64_t> token_values = {-3, 0, 1, 2, 3, 5, 1'000'000'000'000};
  for (int64_t b = 4; b <= (int64_t{1} << 30); b *= 4) {
    token_values.insert(token_values.end(), {b - 1, b, b + 1});
  }
  std::vector<int64_t> durations = {-5, 0, 1, 999'999'999'999};
  for (int k = 0; k <= 14; ++k) {
    const int64_t b = int64_t{10'000'000} << k;
    durations.insert(durations.end(), {b - 1, b, b + 1});
  }
  struct Hist {
    uint64_t count = 0;
    int64_t sum = 0, min = INT64_MAX, max = INT64_MIN;
    std::vector<uint64_t> buckets = std::vector<uint64_t>(15, 0);
    void Add(int64_t v, int bucket) {
      ++count;
      sum += v;
      min = std::min(min, v);
      max = std::max(max, v);
      ++buckets[size_t(bucket)];
    }
  };
  auto token_bucket = [](int64_t v) {
    int i = 0;
    while (i < 14 && !(double(v) <= std::pow(4.0, i))) ++i;
    return i;
  };
  auto duration_bucket = [](int64_t ns) {
    int i = 0;
    while (i < 14 && !(ns <= (int64_t{10'000'000} << i))) ++i;
    return i;
  };
  std::map<std::string, Hist> in, out, dur;
  std::map<std::string, int64_t> cache_read, retries, limited, tools, errors;

  std::mt19937_64 rng(20261206);
  // A third of the runs repeat one value (as one call site often does): a
  // bucket then fills with every span of the run.
  bool repeat = false;
  auto pick = [&](const std::vector<int64_t>& v) { return v[repeat ? 5 : rng() % v.size()]; };
  // Copies of the tags whose strings are copies too: alike by content, not
  // by address, so each starts a group of its own in the aggregator (more
  // than it keeps at a time).
  std::vector<std::vector<Tag>> copies;
  copies.reserve(64);
  std::deque<std::string> copied_strings;
  auto deep_copy = [&](const std::vector<Tag>& tags) {
    std::vector<Tag> out;
    for (const Tag& t : tags) {
      out.push_back(
          {copied_strings.emplace_back(t.key), t.type, copied_strings.emplace_back(t.str), t.num});
    }
    return out;
  };
  Batch b;
  size_t recorded = 0;  // spans that add something
  while (b.spans.size() < 4000) {
    // 0, 1: llm calls of two models; 2: a tool; 3: a job of the agent's own
    // that reports tokens (no GenAI operation: no duration, no attributes).
    int site = 0;
    const std::vector<Tag>* tags = nullptr;
    const std::string* site_key = nullptr;
    auto pick_site = [&] {
      site = int(rng() % 4);
      const std::vector<Tag>& model = site == 0 ? tags_a : tags_b;
      tags = &model;
      if (site < 2 && rng() % 4 == 0) {
        if (copies.size() < copies.capacity()) {
          tags = &copies.emplace_back(deep_copy(model));
        } else if (const auto& copy = copies[rng() % copies.size()]; copy[1].str == model[1].str) {
          tags = &copy;
        }
      }
      site_key = site == 0 ? &key_a : site == 1 ? &key_b : site == 2 ? &key_tool : &key_job;
    };
    pick_site();
    const size_t run = 1 + rng() % 150;
    repeat = rng() % 3 == 0;
    // A third of the runs interleave every call site span by span (as the
    // spans of several threads sorted by time do), with more distinct tags
    // than the aggregator keeps groups for.
    const bool mixed = rng() % 3 == 0;
    for (size_t i = 0; i < run; ++i, ++recorded) {
      if (mixed) pick_site();
      SpanRecord& s = b.spans.emplace_back();
      s.trace_id = {1, 2};
      s.span_id = b.spans.size();
      s.parent_id = 1;
      s.start_unix_ns = 1'000'000'000'000 + int64_t(b.spans.size()) * 1'000'000;
      // Now and then an llm call fails (one error, no status): a series of
      // its own, in the middle of its call site's run.
      const bool failed = site < 2 && rng() % 13 == 0;
      const std::string key = failed ? "error.type=_OTHER," + *site_key : *site_key;
      if (failed) {
        s.counters.Add(Counter::kErrors, 1);
        ++errors[key];
      }
      const int64_t d = pick(durations);
      s.end_unix_ns = s.start_unix_ns + d;
      if (site != 3)
        dur[key].Add(std::max<int64_t>(d, 0), duration_bucket(std::max<int64_t>(d, 0)));
      if (site == 2) {
        s.kind = "tool";
        s.name = "search";
        ++tools[key];  // a tool span is one tool call
        continue;
      }
      if (site == 3) {
        s.kind = "job";
        s.name = "reindex";
      } else {
        s.kind = "llm";
        s.name = "messages";
        s.tags = *tags;
      }
      // A job span now and then reports nothing (and adds nothing): spans
      // like it that do report must not be taken for it.
      if (site == 3 && rng() % 4 == 0) {
        --recorded;
        continue;
      }
      // Input: any of input, cache read and cache write, or none.
      const int has = int(rng() % 8);
      int64_t input = 0;
      if (has & 1) {
        const int64_t v = pick(token_values);
        s.counters.Add(Counter::kInputTokens, v);
        input += v;
      }
      if (has & 2) {
        const int64_t r = pick(token_values) / 4;
        s.counters.Add(Counter::kCacheReadTokens, r);
        input += r;
        cache_read[key] += r;
      }
      if (has & 4) {
        const int64_t w = pick(token_values) / 4;
        s.counters.Add(Counter::kCacheWriteTokens, w);
        input += w;
      }
      if (has != 0) in[key].Add(input, token_bucket(input));
      if (rng() % 5 != 0) {
        const int64_t o = pick(token_values);
        s.counters.Add(Counter::kOutputTokens, o);
        out[key].Add(o, token_bucket(o));
      }
      if (rng() % 7 == 0) {
        s.counters.Add(Counter::kRetries, 1);
        ++retries[key];
      }
      if (rng() % 11 == 0) {
        s.counters.Add(Counter::kRateLimited, 2);
        limited[key] += 2;
      }
      // A job span that reported nothing adds nothing.
      if (site == 3 && s.counters.mask == 0) --recorded;
    }
  }
  agg->RecordSpans(b.spans);
  MetricsRequest req;
  ASSERT_TRUE(req.ParseFromString(CollectBody(*agg)));
  auto m = ByName(req);
  auto up =
      Points<pm::HistogramDataPoint>(m["gen_ai.client.token.usage"].histogram().data_points());
  auto dp = Points<pm::HistogramDataPoint>(
      m["gen_ai.client.operation.duration"].histogram().data_points());
  auto expect = [](const pm::HistogramDataPoint& got, const Hist& want, double scale,
                   const std::string& what) {
    EXPECT_EQ(got.count(), want.count) << what;
    EXPECT_DOUBLE_EQ(got.sum(), double(want.sum) * scale) << what;
    EXPECT_DOUBLE_EQ(got.min(), double(want.min) * scale) << what;
    EXPECT_DOUBLE_EQ(got.max(), double(want.max) * scale) << what;
    EXPECT_EQ(Buckets(got), want.buckets) << what;
  };
  ASSERT_EQ(in.size(), 5u);  // both models, with and without a failure; the job
  ASSERT_EQ(out.size(), 5u);
  auto with_type = [](const std::string& key, const std::string& type) {
    return (key.empty() ? "" : key + ",") + "gen_ai.token.type=" + type;
  };
  for (const auto& [key, want] : in) {
    ASSERT_EQ(up.count(with_type(key, "input")), 1u) << key;
    expect(up[with_type(key, "input")], want, 1.0, key + " input");
  }
  for (const auto& [key, want] : out) {
    ASSERT_EQ(up.count(with_type(key, "output")), 1u) << key;
    expect(up[with_type(key, "output")], want, 1.0, key + " output");
  }
  EXPECT_EQ(up.size(), 10u);
  ASSERT_EQ(dur.size(), 5u);
  for (const auto& [key, want] : dur) {
    ASSERT_EQ(dp.count(key), 1u) << key;
    expect(dp[key], want, 1e-9, key + " duration");
  }
  EXPECT_EQ(dp.size(), 5u);
  auto sum = [&](const std::string& name) {
    std::map<std::string, int64_t> got;
    for (const auto& p : m[name].sum().data_points()) {
      if (p.as_int() != 0) got[Key(p)] = p.as_int();
    }
    return got;
  };
  auto nonzero = [](std::map<std::string, int64_t> v) {
    std::erase_if(v, [](const auto& e) { return e.second == 0; });
    return v;
  };
  EXPECT_EQ(sum("tokmeter.cache_read.tokens"), nonzero(cache_read));
  EXPECT_EQ(sum("tokmeter.retries"), nonzero(retries));
  EXPECT_EQ(sum("tokmeter.rate_limited.requests"), nonzero(limited));
  EXPECT_EQ(sum("tokmeter.tool.calls"), nonzero(tools));
  EXPECT_EQ(sum("tokmeter.errors"), nonzero(errors));
  // Every span that adds something is counted; a job span that reported
  // nothing is too when it falls in a run of job spans that did.
  EXPECT_GE(agg->spans_recorded(), recorded);
  EXPECT_LE(agg->spans_recorded(), b.spans.size());
}

INSTANTIATE_TEST_SUITE_P(OtlpMetrics, RandomRunsTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Avx512" : "Scalar"; });

// The AVX-512 pass against the scalar one on spans no agent sends: any
// counters set (with values from INT64_MIN to INT64_MAX), timestamps at the
// ends of int64 (durations that wrap), runs of every length from 1 to 130
// (whole eights and the spans after them), some interleaving llm and tool
// spans, several batches. Both
// aggregators must encode the same bytes.
TEST(OtlpMetricsTest, Avx512PassGivesWhatTheScalarPassGives) {
  auto simd = MakeAggregator(true);
  if (!simd) GTEST_SKIP() << "this CPU has no AVX-512";
  auto scalar = MakeAggregator(false);
  ASSERT_TRUE(scalar);
  const std::vector<Tag> tags = {{"provider", TagType::kString, "openai", 0},
                                 {"model", TagType::kString, "gpt-4o", 0}};
  const std::vector<int64_t> values = {INT64_MIN,
                                       INT64_MIN + 1,
                                       -1'000'000,
                                       -1,
                                       0,
                                       1,
                                       2,
                                       4,
                                       5,
                                       9'999'999,
                                       10'000'000,
                                       10'000'001,
                                       67108864,
                                       67108865,
                                       int64_t{1} << 53,
                                       (int64_t{1} << 53) + 1,
                                       INT64_MAX - 1,
                                       INT64_MAX};
  std::mt19937_64 rng(6122026);
  auto value = [&] {
    return rng() % 3 == 0 ? values[rng() % values.size()] : int64_t(rng() % 200'000'000);
  };
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<SpanRecord> spans;
    for (size_t run = 1; run <= 130; run += 1 + rng() % 9) {
      bool tool = rng() % 3 == 0;
      const bool mixed = rng() % 3 == 0;  // llm and tool spans interleaved
      for (size_t i = 0; i < run; ++i) {
        if (mixed) tool = rng() % 2 == 0;
        SpanRecord& s = spans.emplace_back();
        s.kind = tool ? "tool" : "llm";
        s.name = tool ? "search" : "messages";
        if (!tool) s.tags = tags;
        s.start_unix_ns = value();
        s.end_unix_ns =
            rng() % 4 == 0 ? value() : int64_t(uint64_t(s.start_unix_ns) + uint64_t(value()));
        const uint32_t set = uint32_t(rng()) & ((1u << kNumCounters) - 1);
        for (int c = 0; c < kNumCounters; ++c) {
          // Errors stay 0 or 1: a failed span is a series of its own and
          // would end the run.
          if ((set >> c) & 1u) {
            s.counters.Add(Counter(c), Counter(c) == Counter::kErrors ? 0 : value());
          }
        }
      }
    }
    simd->RecordSpans(spans);
    scalar->RecordSpans(spans);
  }
  const std::string a = CollectBody(*simd), b = CollectBody(*scalar);
  EXPECT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << "the AVX-512 pass and the scalar pass differ";
  EXPECT_EQ(simd->spans_recorded(), scalar->spans_recorded());
}

// The AVX-512 pass called on more spans than the aggregator hands it at a
// time (64): 1,600 spans of one bucket each, where a lane's 4-bit counts
// must be folded every 15 steps.
TEST(OtlpMetricsTest, Avx512PassCountsLongRunsOfOneBucket) {
  if (!otlp::simd::Available()) GTEST_SKIP() << "this CPU has no AVX-512";
  std::vector<SpanRecord> spans(1600);
  for (SpanRecord& s : spans) {
    s.counters.Add(Counter::kInputTokens, 100);  // bucket 4: (64, 256]
    s.counters.Add(Counter::kOutputTokens, 3);   // bucket 1: (1, 4]
    s.end_unix_ns = 15'000'000;                  // bucket 1: (10 ms, 20 ms]
  }
  std::vector<const SpanRecord*> pointers;
  for (const SpanRecord& s : spans) pointers.push_back(&s);
  otlp::Histogram in, out, dur;
  const uint32_t seen = otlp::simd::AddHistograms(pointers, true, in, out, dur);
  EXPECT_EQ(seen, (1u << int(Counter::kInputTokens)) | (1u << int(Counter::kOutputTokens)));
  EXPECT_EQ(in.count, 1600u);
  EXPECT_EQ(in.sum, 160000);
  EXPECT_EQ(in.min, 100);
  EXPECT_EQ(in.max, 100);
  EXPECT_EQ(std::vector<uint64_t>(in.buckets.begin(), in.buckets.end()), One(4, 1600));
  EXPECT_EQ(std::vector<uint64_t>(out.buckets.begin(), out.buckets.end()), One(1, 1600));
  EXPECT_EQ(out.sum, 4800);
  EXPECT_EQ(std::vector<uint64_t>(dur.buckets.begin(), dur.buckets.end()), One(1, 1600));
  EXPECT_EQ(dur.sum, 1600 * int64_t{15'000'000});
}

// The flusher feeds the sink: a runtime's spans arrive as metrics when it
// shuts down.
TEST(OtlpMetricsTest, RuntimeSpansBecomeMetrics) {
  Receiver rx;
  Options opts;
  opts.sinks.push_back(Make(FastOptions(rx.endpoint())));
  auto rt = Runtime::Start(std::move(opts));
  ASSERT_TRUE(rt.ok()) << rt.status();
  {
    Trace trace("session", "s-9");
    Span llm("llm", "messages");
    llm.Tag("provider", "openai").Tag("model", "gpt-5");
    llm.Add(Counter::kInputTokens, 5)
        .Add(Counter::kCacheReadTokens, 7)
        .Add(Counter::kOutputTokens, 3);
  }
  ASSERT_TRUE((*rt)->Shutdown().ok());
  auto reqs = Requests(rx);
  ASSERT_FALSE(reqs.empty());
  auto m = ByName(reqs.back());
  auto p = Points<pm::HistogramDataPoint>(m["gen_ai.client.token.usage"].histogram().data_points());
  const std::string key =
      "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.request.model=gpt-5,"
      "gen_ai.response.model=gpt-5,gen_ai.token.type=input";
  ASSERT_EQ(p.count(key), 1u);
  EXPECT_EQ(p[key].sum(), 12.0);  // 5 input + 7 cache read
}

}  // namespace
}  // namespace tokmeter
