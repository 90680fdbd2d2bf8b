// The monitor's alerts in OTLP, against a receiver on 127.0.0.1 and decoded
// with the official opentelemetry-proto classes: each alert a span
// "tokmeter.alert {rule}" under the span that made it fire, with one event
// carrying rule, severity, subject, scope, message and tokens; the metrics
// exporter's tokmeter.alerts counter by rule and severity; and a live
// monitor's budget alert arriving from a running runtime.
#include <chrono>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/otlp/receiver.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/monitor.h"
#include "tokmeter/otlp.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

using namespace std::chrono_literals;
using testing::Attrs;
using testing::Receiver;
using TraceRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
namespace pt = opentelemetry::proto::trace::v1;

using testing::Bytes;
using testing::FastOptions;

std::vector<pt::Span> Spans(Receiver& rx) {
  std::vector<pt::Span> out;
  for (const auto& r : rx.received()) {
    if (r.target != "/v1/traces") continue;
    TraceRequest req;
    EXPECT_TRUE(req.ParseFromString(r.body));
    for (const auto& rs : req.resource_spans())
      for (const auto& ss : rs.scope_spans())
        for (const auto& s : ss.spans()) out.push_back(s);
  }
  return out;
}

// A budget alert caused by the sample batch's first llm span, and a spike
// raised by time passing (no cause).
AlertRecord BudgetAlert(const SpanRecord& cause) {
  AlertRecord a;
  a.time_unix_ns = cause.end_unix_ns;
  a.trace_id = cause.trace_id;
  a.span_id = cause.span_id;
  a.finding.kind = "budget";
  a.finding.severity = Severity::kWarning;
  a.finding.subject = "session s-42";
  a.finding.keys = {{"session", "s-42"}, {"budget", "session=50k"}};
  a.finding.evidence = {{"share", 0.8}};
  a.finding.rule = "budget session=50k: alerts at 50/80/100 %";
  a.finding.recommendation = "Budget rule: session s-42 has used 80 % of session=50k.";
  a.finding.tokens = 41742;
  return a;
}

AlertRecord SpikeAlert() {
  AlertRecord a;
  a.time_unix_ns = 1795424460000000000;
  a.finding.kind = "spike";
  a.finding.severity = Severity::kCritical;
  a.finding.subject = "window 10:00–10:05 UTC";
  a.finding.recommendation = "Look at what ran in the window.";
  a.finding.tokens = 900000;
  return a;
}

TEST(OtlpAlertsTest, EachAlertIsASpanWithAnEvent) {
  Receiver rx;
  auto made = MakeOtlpHttpSink(FastOptions(rx.endpoint()));
  ASSERT_TRUE(made.ok()) << made.status();
  auto& sink = *made;
  testing::SampleBatch b(1);  // llm, tool, the session root; 17 drops
  const SpanRecord& llm = b.batch.spans[0];
  b.batch.alerts.push_back(BudgetAlert(llm));
  b.batch.alerts.push_back(SpikeAlert());
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  ASSERT_TRUE(sink->Close().ok());
  // Three spans, the drop span and the two alerts, in one request.
  EXPECT_EQ(rx.count(), 1);
  EXPECT_EQ(sink->stats().spans_exported, 3u + 1u + 2u);

  std::map<std::string, pt::Span> by_name;
  for (const auto& s : Spans(rx)) by_name[s.name()] = s;
  ASSERT_EQ(by_name.count("tokmeter.alert budget"), 1u);
  ASSERT_EQ(by_name.count("tokmeter.alert spike"), 1u);

  const pt::Span& budget = by_name["tokmeter.alert budget"];
  // In the llm span's trace, its child, at the llm span's end.
  EXPECT_EQ(budget.trace_id(), Bytes({0x4bf92f3577b34da6, 0xa3ce929d0e0e4736}));
  EXPECT_EQ(budget.parent_span_id(), Bytes({0xa3ce929d0e0e0000}));
  EXPECT_EQ(budget.span_id().size(), 8u);
  EXPECT_NE(budget.span_id(), budget.parent_span_id());
  EXPECT_EQ(budget.start_time_unix_nano(), uint64_t(1795424400000000000 + 1250000123));
  EXPECT_EQ(budget.end_time_unix_nano(), budget.start_time_unix_nano());
  EXPECT_EQ(budget.kind(), pt::Span::SPAN_KIND_INTERNAL);
  EXPECT_EQ(budget.attributes_size(), 0);  // nothing a reader could take for usage
  ASSERT_EQ(budget.events_size(), 1);
  const auto& ev = budget.events(0);
  EXPECT_EQ(ev.name(), "tokmeter.alert");
  EXPECT_EQ(ev.time_unix_nano(), budget.start_time_unix_nano());
  auto a = Attrs(ev.attributes());
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.rule"]), "budget");
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.severity"]), "warning");
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.subject"]), "session s-42");
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.scope"]), "session=s-42,budget=session=50k");
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.message"]),
            "Budget rule: session s-42 has used 80 % of session=50k.");
  EXPECT_EQ(std::get<int64_t>(a["tokmeter.alert.tokens"]), 41742);
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.condition"]),
            "budget session=50k: alerts at 50/80/100 %");
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.key.session"]), "s-42");
  EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.key.budget"]), "session=50k");
  EXPECT_EQ(std::get<double>(a["tokmeter.alert.evidence.share"]), 0.8);
  EXPECT_EQ(a.size(), 10u);

  const pt::Span& spike = by_name["tokmeter.alert spike"];
  // No cause: a trace of its own, a root.
  EXPECT_EQ(spike.trace_id().size(), 16u);
  EXPECT_NE(spike.trace_id(), budget.trace_id());
  EXPECT_EQ(spike.parent_span_id(), "");
  EXPECT_EQ(spike.start_time_unix_nano(), 1795424460000000000u);
  ASSERT_EQ(spike.events_size(), 1);
  auto s = Attrs(spike.events(0).attributes());
  EXPECT_EQ(std::get<std::string>(s["tokmeter.alert.rule"]), "spike");
  EXPECT_EQ(std::get<std::string>(s["tokmeter.alert.severity"]), "critical");
  EXPECT_EQ(std::get<std::string>(s["tokmeter.alert.subject"]), "window 10:00–10:05 UTC");
  EXPECT_EQ(std::get<std::string>(s["tokmeter.alert.scope"]), "");
  EXPECT_EQ(std::get<std::string>(s["tokmeter.alert.message"]), "Look at what ran in the window.");
  EXPECT_EQ(std::get<int64_t>(s["tokmeter.alert.tokens"]), 900000);
  EXPECT_EQ(s.size(), 6u);  // no condition, keys or evidence
}

TEST(OtlpAlertsTest, AlertsAloneMakeARequest) {
  Receiver rx;
  auto made = MakeOtlpHttpSink(FastOptions(rx.endpoint()));
  ASSERT_TRUE(made.ok());
  Batch batch;
  batch.alerts.push_back(SpikeAlert());
  ASSERT_TRUE((*made)->Write(batch).ok());
  ASSERT_TRUE((*made)->WaitIdle(3000ms));
  ASSERT_TRUE((*made)->Close().ok());
  auto spans = Spans(rx);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name(), "tokmeter.alert spike");
}

// tokmeter.alerts points by "rule/severity".
std::map<std::string, int64_t> AlertPoints(const MetricsRequest& req) {
  std::map<std::string, int64_t> out;
  for (const auto& sm : req.resource_metrics(0).scope_metrics()) {
    for (const auto& m : sm.metrics()) {
      if (m.name() != "tokmeter.alerts") continue;
      EXPECT_EQ(m.unit(), "{alert}");
      EXPECT_TRUE(m.sum().is_monotonic());
      for (const auto& p : m.sum().data_points()) {
        auto a = Attrs(p.attributes());
        EXPECT_EQ(a.size(), 2u);
        out[std::get<std::string>(a["tokmeter.alert.rule"]) + "/" +
            std::get<std::string>(a["tokmeter.alert.severity"])] = p.as_int();
      }
    }
  }
  return out;
}

TEST(OtlpAlertsTest, MetricsCountAlertsByRuleAndSeverity) {
  Receiver rx;
  OtlpMetricsOptions o;
  o.otlp = FastOptions(rx.endpoint());
  o.export_interval = 3600s;  // exports on Flush only
  auto made = MakeOtlpMetricsSink(o);
  ASSERT_TRUE(made.ok()) << made.status();
  auto& sink = *made;
  testing::SampleBatch b(1);
  b.batch.alerts.push_back(BudgetAlert(b.batch.spans[0]));
  b.batch.alerts.push_back(BudgetAlert(b.batch.spans[0]));
  b.batch.alerts.push_back(SpikeAlert());
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->Flush().ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  // One more budget warning: cumulative points add up.
  Batch more;
  more.alerts.push_back(BudgetAlert(b.batch.spans[0]));
  ASSERT_TRUE(sink->Write(more).ok());
  ASSERT_TRUE(sink->Flush().ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  ASSERT_TRUE(sink->Close().ok());
  auto rec = rx.received();
  ASSERT_EQ(rec.size(), 2u);
  MetricsRequest first, second;
  ASSERT_TRUE(first.ParseFromString(rec[0].body));
  ASSERT_TRUE(second.ParseFromString(rec[1].body));
  EXPECT_EQ(AlertPoints(first),
            (std::map<std::string, int64_t>{{"budget/warning", 2}, {"spike/critical", 1}}));
  EXPECT_EQ(AlertPoints(second),
            (std::map<std::string, int64_t>{{"budget/warning", 3}, {"spike/critical", 1}}));
}

TEST(OtlpAlertsTest, LiveMonitorBudgetAlertArrives) {
  Receiver rx;
  auto made = MakeOtlpHttpSink(FastOptions(rx.endpoint()));
  ASSERT_TRUE(made.ok());
  OtlpHttpSink* raw = made->get();
  auto monitor = Monitor::Create({.budgets = {"session=1000,hard"}, .rules = false});
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  Options opts;
  opts.sinks.push_back(std::move(*made));
  opts.monitor = *monitor;
  auto rt = Runtime::Start(std::move(opts));
  ASSERT_TRUE(rt.ok()) << rt.status();
  {
    Trace trace("session", "s-9");
    trace.Tag("session", "s-9");
    Span llm("llm", "messages");
    llm.Tag("model", "claude-sonnet-4-5");
    llm.Add(Counter::kInputTokens, 1200);  // 120 % of 1,000: 50, 80 and 100 % crossed
  }
  ASSERT_TRUE((*rt)->Flush().ok());
  ASSERT_TRUE(raw->WaitIdle(3000ms));
  ASSERT_TRUE((*rt)->Shutdown().ok());
  std::string llm_span_id;
  std::vector<pt::Span> alerts;
  for (const auto& s : Spans(rx)) {
    if (s.name() == "tokmeter.alert budget") alerts.push_back(s);
    if (s.name() == "chat claude-sonnet-4-5") llm_span_id = s.span_id();
  }
  ASSERT_FALSE(alerts.empty());
  ASSERT_FALSE(llm_span_id.empty());
  bool critical = false;
  for (const auto& s : alerts) {
    EXPECT_EQ(s.parent_span_id(), llm_span_id);
    auto a = Attrs(s.events(0).attributes());
    EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.rule"]), "budget");
    EXPECT_EQ(std::get<std::string>(a["tokmeter.alert.subject"]), "session s-9");
    EXPECT_EQ(std::get<int64_t>(a["tokmeter.alert.tokens"]), 1200);
    critical |= std::get<std::string>(a["tokmeter.alert.severity"]) == "critical";
  }
  EXPECT_TRUE(critical);  // the 100 % crossing
}

}  // namespace
}  // namespace tokmeter
