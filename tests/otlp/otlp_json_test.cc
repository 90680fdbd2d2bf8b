// OTLP JSON transcoding (src/otlp/otlp_json.h) checked against the official
// classes: the JSON of a trace and a metrics request, parsed by protobuf's
// own JSON parser, is the message the protobuf bytes decode to (ids aside:
// OTLP JSON writes them as hex where protobuf's JSON uses base64, so they
// are compared as hex).
#include "src/otlp/otlp_json.h"

#include <string>

#include "boost/json.hpp"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/model/proto_wire.h"
#include "src/otlp/metrics.h"
#include "src/otlp/otlp_encoder.h"
#include "tests/proto/sample_batch.h"

namespace tokmeter {
namespace {

using TraceRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kHex[uint8_t(c) >> 4]);
    out.push_back(kHex[uint8_t(c) & 15]);
  }
  return out;
}

template <typename M>
M FromJson(const std::string& json) {
  M m;
  google::protobuf::util::JsonParseOptions o;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m, o);
  EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << json;
  return m;
}

TEST(OtlpJsonTest, TraceRequestMatchesTheProtobuf) {
  testing::SampleBatch b(2);
  std::string spans, body;
  for (const SpanRecord& s : b.batch.spans) otlp::AppendOtlpSpan(s, spans);
  otlp::AppendOtlpDropSpan(b.batch.drops, 1, spans);
  otlp::AppendExportRequest(otlp::EncodeOtlpResource("svc", {{"k", "v"}}), spans, body);
  std::string json;
  ASSERT_TRUE(otlp::AppendOtlpJson(otlp::OtlpSignal::kTraces, body, json).ok());
  EXPECT_EQ(json.find('\n'), std::string::npos);  // one line

  TraceRequest want;
  ASSERT_TRUE(want.ParseFromString(body));
  TraceRequest got = FromJson<TraceRequest>(json);
  // Ids: hex in OTLP JSON.
  auto doc = boost::json::parse(json).as_object();
  auto& json_spans = doc["resourceSpans"]
                         .as_array()[0]
                         .as_object()["scopeSpans"]
                         .as_array()[0]
                         .as_object()["spans"]
                         .as_array();
  auto* proto_spans = want.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
  ASSERT_EQ(int(json_spans.size()), proto_spans->size());
  for (int i = 0; i < proto_spans->size(); ++i) {
    auto& js = json_spans[size_t(i)].as_object();
    auto* ps = proto_spans->Mutable(i);
    EXPECT_EQ(js["traceId"].as_string(), Hex(ps->trace_id()));
    EXPECT_EQ(js["spanId"].as_string(), Hex(ps->span_id()));
    EXPECT_EQ(js.contains("parentSpanId"), !ps->parent_span_id().empty());
    if (!ps->parent_span_id().empty()) {
      EXPECT_EQ(js["parentSpanId"].as_string(), Hex(ps->parent_span_id()));
    }
    // 64-bit integers are strings, enums integers.
    EXPECT_TRUE(js["startTimeUnixNano"].is_string());
    EXPECT_TRUE(js["kind"].is_int64());
    ps->clear_trace_id();
    ps->clear_span_id();
    ps->clear_parent_span_id();
    auto* gs = got.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(i);
    gs->clear_trace_id();
    gs->clear_span_id();
    gs->clear_parent_span_id();
  }
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(want, got)) << diff;
}

TEST(OtlpJsonTest, MetricsRequestMatchesTheProtobuf) {
  testing::SampleBatch b(3);
  auto agg = otlp::MetricsAggregator::Make(OtlpMetricsOptions{}.attributes,
                                           OtlpTemporality::kCumulative, 100, 1000);
  ASSERT_TRUE(agg.ok());
  for (const SpanRecord& s : b.batch.spans) agg->Record(s, "", 0.25);
  agg->RecordDrops(17);
  std::string body, json;
  ASSERT_GT(agg->Collect(otlp::EncodeOtlpResource("svc", {}), 5000, body), 0u);
  ASSERT_TRUE(otlp::AppendOtlpJson(otlp::OtlpSignal::kMetrics, body, json).ok());
  MetricsRequest want;
  ASSERT_TRUE(want.ParseFromString(body));
  MetricsRequest got = FromJson<MetricsRequest>(json);
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(want, got)) << diff;
}

// JSON is UTF-8: a string field with invalid bytes (which tokmeter's
// encoders never write) comes out repaired, U+FFFD for each bad byte.
TEST(OtlpJsonTest, InvalidUtf8IsRepaired) {
  using model::wire::PutBytesField;
  std::string any, kv, resource, resource_spans, request;
  PutBytesField(any, 1,
                "a\xff"
                "b");              // AnyValue.string_value
  PutBytesField(kv, 1, "k");       // KeyValue.key
  PutBytesField(kv, 2, any);       // KeyValue.value
  PutBytesField(resource, 1, kv);  // Resource.attributes
  PutBytesField(resource_spans, 1, resource);
  PutBytesField(request, 1, resource_spans);
  std::string json;
  ASSERT_TRUE(otlp::AppendOtlpJson(otlp::OtlpSignal::kTraces, request, json).ok());
  EXPECT_EQ(json,
            "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":"
            "{\"stringValue\":\"a\xef\xbf\xbd"
            "b\"}}]}}]}");
  EXPECT_TRUE(boost::json::parse(json).is_object());
}

TEST(OtlpJsonTest, MalformedBytesAreRefused) {
  std::string json = "kept";
  EXPECT_EQ(otlp::AppendOtlpJson(otlp::OtlpSignal::kTraces, "\x0a\x05\x01", json).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(json, "kept");  // nothing appended
}

}  // namespace
}  // namespace tokmeter
