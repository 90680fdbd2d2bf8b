// The webhook sink against an HTTP server on 127.0.0.1 (tests/otlp/
// receiver.h): the JSON and Slack bodies field by field, a 500 retried, a
// server that is down or never answers counted as failed and reported
// through the runtime's error callback, and Write and Close bounded.
#include "tokmeter/webhook.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "tests/otlp/receiver.h"
#include "tokmeter/monitor.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

using namespace std::chrono_literals;
using testing::Receiver;
using testing::Reply;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;

WebhookOptions Fast(const std::string& url) {
  WebhookOptions o;
  o.url = url;
  o.timeout = 500ms;
  o.initial_backoff = 10ms;
  o.max_backoff = 40ms;
  o.close_timeout = 2000ms;
  return o;
}

std::unique_ptr<WebhookSink> Make(WebhookOptions o) {
  auto sink = MakeWebhookSink(std::move(o));
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? std::move(*sink) : nullptr;
}

// 80 % of a 50k session budget, caused by a span at 2026-11-23 09:00:01.25 UTC.
AlertRecord BudgetAlert() {
  AlertRecord a;
  a.time_unix_ns = 1795424401250000123;
  a.trace_id = TraceId{0x4bf92f3577b34da6, 0xa3ce929d0e0e4736};
  a.span_id = 0x00f067aa0ba902b7;
  a.finding.kind = "budget";
  a.finding.severity = Severity::kWarning;
  a.finding.subject = "session s-42";
  a.finding.keys = {{"session", "s-42"}, {"budget", "session=50k"}};
  a.finding.evidence = {{"consumed", 41742}, {"share", 0.75}};
  a.finding.rule = "budget session=50k: alerts at 50/80/100 %";
  a.finding.recommendation = "Budget rule: session s-42 has used 83 % of session=50k.";
  a.finding.tokens = 41742;
  return a;
}

// Raised by time passing: no trace; a message with a line break and markup.
AlertRecord LoopAlert() {
  AlertRecord a;
  a.time_unix_ns = 1795424460000000000;  // 09:01:00 UTC
  a.finding.kind = "loop";
  a.finding.severity = Severity::kCritical;
  a.finding.subject = "session s-7";
  a.finding.recommendation = "Stop the agent <now>\nand look at R&D's tool.";
  return a;
}

Batch Alerts(std::vector<AlertRecord> alerts) {
  Batch b;
  b.alerts = std::move(alerts);
  return b;
}

TEST(WebhookTest, JsonBodyArrivesWithEveryField) {
  Receiver rx;
  auto sink = Make(Fast(rx.endpoint() + "/hooks/tokmeter"));
  ASSERT_TRUE(sink->Write(Alerts({BudgetAlert(), LoopAlert()})).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  ASSERT_TRUE(sink->Close().ok());
  auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);  // one request per alert, in order
  EXPECT_EQ(got[0].target, "/hooks/tokmeter");
  EXPECT_EQ(got[0].headers["Content-Type"], "application/json");
  json::object b = json::parse(got[0].body).as_object();
  EXPECT_EQ(b.at("rule").as_string(), "budget");
  EXPECT_EQ(b.at("severity").as_string(), "warning");
  EXPECT_EQ(b.at("subject").as_string(), "session s-42");
  EXPECT_EQ(b.at("scope").as_string(), "session=s-42,budget=session=50k");
  EXPECT_EQ(b.at("message").as_string(), "Budget rule: session s-42 has used 83 % of session=50k.");
  EXPECT_EQ(b.at("tokens").as_int64(), 41742);
  EXPECT_EQ(b.at("condition").as_string(), "budget session=50k: alerts at 50/80/100 %");
  EXPECT_EQ(b.at("keys"), (json::object{{"session", "s-42"}, {"budget", "session=50k"}}));
  EXPECT_EQ(b.at("evidence").at("consumed").as_double(), 41742.0);
  EXPECT_EQ(b.at("evidence").at("share").as_double(), 0.75);
  EXPECT_EQ(b.at("time").as_string(), "2026-11-23T09:00:01.250Z");
  EXPECT_EQ(b.at("time_unix_nano").as_int64(), 1795424401250000123);
  EXPECT_EQ(b.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(b.at("span_id").as_string(), "00f067aa0ba902b7");
  EXPECT_EQ(b.size(), 13u);

  json::object l = json::parse(got[1].body).as_object();
  EXPECT_EQ(l.at("rule").as_string(), "loop");
  EXPECT_EQ(l.at("severity").as_string(), "critical");
  EXPECT_EQ(l.at("scope").as_string(), "");
  EXPECT_EQ(l.at("tokens").as_int64(), 0);
  EXPECT_EQ(l.at("time").as_string(), "2026-11-23T09:01:00.000Z");
  EXPECT_FALSE(l.contains("trace_id"));  // no record caused it
  EXPECT_FALSE(l.contains("condition"));

  WebhookStats st = sink->stats();
  EXPECT_EQ(st.queued, 2u);
  EXPECT_EQ(st.sent, 2u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.dropped, 0u);
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.retries, 0u);
}

TEST(WebhookTest, SlackBodyIsOneLineOfText) {
  Receiver rx;
  WebhookOptions o = Fast(rx.endpoint() + "/services/T0/B0/secret");
  o.slack = true;
  auto sink = Make(o);
  ASSERT_TRUE(sink->Write(Alerts({BudgetAlert(), LoopAlert()})).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(json::parse(got[0].body),
            (json::object{{"text",
                           "[warning] budget: session s-42 - Budget rule: session s-42 has used 83 "
                           "% of session=50k. (41742 tokens)"}}));
  // The line break became a space; &, < and > are escaped as Slack asks.
  EXPECT_EQ(json::parse(got[1].body),
            (json::object{{"text",
                           "[critical] loop: session s-7 - Stop the agent &lt;now&gt; and look at "
                           "R&amp;D's tool."}}));
  EXPECT_EQ(WebhookSummary(LoopAlert()),
            "[critical] loop: session s-7 - Stop the agent <now> and look at R&D's tool.");
}

TEST(WebhookTest, A500IsRetriedThenDelivered) {
  Receiver rx([](int i) { return Reply{i == 0 ? 500 : 200}; });
  auto sink = Make(Fast(rx.endpoint()));
  ASSERT_TRUE(sink->Write(Alerts({BudgetAlert()})).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  ASSERT_TRUE(sink->Close().ok());  // nothing to report
  auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, got[1].body);  // the same alert again
  WebhookStats st = sink->stats();
  EXPECT_EQ(st.sent, 1u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.retries, 1u);
}

TEST(WebhookTest, RetriesAreBoundedAndA400IsNotRetried) {
  Receiver rx([](int i) { return Reply{i < 3 ? 500 : 400}; });
  WebhookOptions o = Fast(rx.endpoint() + "/secret-path");
  o.max_retries = 2;
  auto sink = Make(o);
  ASSERT_TRUE(sink->Write(Alerts({BudgetAlert()})).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  // 1 try + 2 retries, all 500: given up on, and told by the next Write.
  absl::Status st = sink->Write(Alerts({LoopAlert()}));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(st.message().find(": 1 alert not delivered (last: "), std::string::npos) << st;
  EXPECT_NE(st.message().find("HTTP 500"), std::string::npos) << st;
  // The next alert gets a 400: failed at once, told by Close.
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  absl::Status closed = sink->Close();
  EXPECT_EQ(closed.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(closed.message().find("1 alert not delivered"), std::string::npos) << closed;
  EXPECT_NE(closed.message().find("HTTP 400"), std::string::npos) << closed;
  // The receiver named by scheme, host and port: the path may be a secret.
  EXPECT_EQ(closed.message().rfind("webhook:" + rx.endpoint() + ": ", 0), 0u) << closed;
  EXPECT_EQ(st.message().find("secret-path"), std::string::npos) << st;
  EXPECT_EQ(closed.message().find("secret-path"), std::string::npos) << closed;
  EXPECT_EQ(rx.count(), 4);
  WebhookStats s = sink->stats();
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.requests, 4u);
  EXPECT_EQ(s.retries, 2u);
}

// A port nothing listens on.
std::string DeadUrl() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const int port = a.local_endpoint().port();
  a.close();
  return "http://127.0.0.1:" + std::to_string(port) + "/hook";
}

TEST(WebhookTest, ServerDownIsCountedAndReportedToTheRuntime) {
  WebhookOptions o = Fast(DeadUrl());
  o.max_retries = 1;
  auto made = MakeWebhookSink(o);
  ASSERT_TRUE(made.ok());
  WebhookSink* sink = made->get();
  std::mutex mu;
  std::vector<std::string> errors;
  auto monitor = Monitor::Create({.budgets = {"session=1000"}, .rules = false});
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  Options opts;
  opts.sinks.push_back(std::move(*made));
  opts.monitor = *monitor;
  opts.on_error = [&](std::string_view name, const absl::Status& e) {
    std::lock_guard<std::mutex> l(mu);
    errors.push_back(std::string(name) + " | " + std::string(e.message()));
  };
  auto rt = Runtime::Start(std::move(opts));
  ASSERT_TRUE(rt.ok()) << rt.status();
  {
    Trace trace("session", "s-1");
    trace.Tag("session", "s-1");
    Span llm("llm", "messages");
    llm.Add(Counter::kInputTokens, 600);  // 60 %: the 50 % alert
  }
  ASSERT_TRUE((*rt)->Flush().ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  const uint64_t alerts = (*monitor)->stats().alerts;
  ASSERT_EQ(alerts, 1u);
  // The failure is reported once: by the Flush, a later pass's Write or the
  // Close in Shutdown (which then returns it too).
  (*rt)->Shutdown().IgnoreError();
  WebhookStats s = sink->stats();
  EXPECT_EQ(s.queued, 1u);
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.requests, 2u);  // refused twice: the try and one retry
  EXPECT_EQ(s.retries, 1u);
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("webhook:http://127.0.0.1:"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("1 alert not delivered"), std::string::npos) << errors[0];
}

TEST(WebhookTest, SlowServerNeverHoldsTheWriterAndCloseIsBounded) {
  Receiver rx([](int) { return Reply{.hang = true}; });
  WebhookOptions o = Fast(rx.endpoint());
  o.timeout = 200ms;
  o.max_retries = 1;
  o.close_timeout = 300ms;
  auto sink = Make(o);
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->Write(Alerts({BudgetAlert()})).ok());
  EXPECT_LT(Clock::now() - t0, 100ms);  // Write only queues
  t0 = Clock::now();
  absl::Status closed = sink->Close();
  const auto took = Clock::now() - t0;
  EXPECT_LT(took, 1500ms);  // close_timeout, plus the request in flight cancelled
  EXPECT_FALSE(closed.ok());
  WebhookStats s = sink->stats();
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.failed, 5u);  // every alert accounted for
  EXPECT_EQ(s.queued, 5u);
  EXPECT_NE(closed.message().find("5 alerts not delivered"), std::string::npos) << closed;
}

TEST(WebhookTest, FullQueueDropsAreCountedAndReported) {
  Receiver rx([](int) { return Reply{.hang = true}; });
  WebhookOptions o = Fast(rx.endpoint());
  o.max_queue = 2;
  o.close_timeout = 200ms;
  auto sink = Make(o);
  // The sender may take the first alert out of the queue at any moment, so
  // 2 or 3 are held and the rest of 6 dropped.
  absl::Status st = sink->Write(Alerts(
      {BudgetAlert(), BudgetAlert(), BudgetAlert(), BudgetAlert(), BudgetAlert(), BudgetAlert()}));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_NE(st.message().find("dropped: the queue was full (2 alerts)"), std::string::npos) << st;
  sink->Close().IgnoreError();
  WebhookStats s = sink->stats();
  EXPECT_GE(s.dropped, 3u);
  EXPECT_LE(s.dropped, 4u);
  EXPECT_EQ(s.queued + s.dropped, 6u);
  EXPECT_EQ(s.sent + s.failed, s.queued);
}

TEST(WebhookTest, BadUrlIsRefused) {
  EXPECT_EQ(MakeWebhookSink({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeWebhookSink({.url = "ftp://example.com/x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tokmeter
