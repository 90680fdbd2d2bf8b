// OTLP/HTTP exporter against a receiver started on 127.0.0.1: attributes,
// gzip, retries (503, 429 + Retry-After), hanging and refusing collectors,
// bounded Close, and wire compatibility checked by `protoc --decode_raw`.
#include "tokmeter/otlp.h"

#include <sys/socket.h>
#include <zlib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/otlp/otlp_encoder.h"
#include "tests/otlp/receiver.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/tokmeter.h"
#include "tokmeter/version.h"

namespace tokmeter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using otlp_request = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using Clock = std::chrono::steady_clock;

using testing::Attrs;
using testing::AttrValue;
using testing::Received;
using testing::Receiver;
using testing::Reply;

using testing::Bytes;
using testing::FastOptions;

std::unique_ptr<OtlpHttpSink> Make(OtlpOptions o) {
  auto sink = MakeOtlpHttpSink(std::move(o));
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? std::move(*sink) : nullptr;
}

TEST(OtlpExportTest, EveryAttributeArrives) {
  Receiver rx;
  OtlpOptions o = FastOptions(rx.endpoint() + "/");
  o.service_name = "agent-svc";
  o.resource_attributes = {{"deployment.environment.name", "test"}};
  o.headers = {{"x-api-key", "secret"}};
  auto sink = Make(o);
  testing::SampleBatch b(1);
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  ASSERT_TRUE(sink->Close().ok());
  OtlpStats st = sink->stats();
  EXPECT_EQ(st.spans_exported, 4u);  // llm, tool, root + the span of the drop record
  EXPECT_EQ(st.requests, 1u);

  auto got = rx.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/v1/traces");
  EXPECT_EQ(got[0].headers["Content-Type"], "application/x-protobuf");
  EXPECT_EQ(got[0].headers["x-api-key"], "secret");
  otlp_request req;
  ASSERT_TRUE(req.ParseFromString(got[0].body));
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  auto res = Attrs(rs.resource().attributes());
  EXPECT_EQ(std::get<std::string>(res["service.name"]), "agent-svc");
  EXPECT_EQ(std::get<std::string>(res["deployment.environment.name"]), "test");
  EXPECT_EQ(std::get<std::string>(res["telemetry.sdk.name"]), "tokmeter");
  ASSERT_EQ(rs.scope_spans_size(), 1);
  EXPECT_EQ(rs.scope_spans(0).scope().name(), "tokmeter");
  EXPECT_EQ(rs.scope_spans(0).scope().version(), TOKMETER_VERSION_STRING);
  EXPECT_EQ(rs.scope_spans(0).schema_url(), "https://opentelemetry.io/schemas/1.41.0");
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 4);

  const auto& llm = rs.scope_spans(0).spans(0);
  EXPECT_EQ(llm.trace_id(), Bytes({0x4bf92f3577b34da6, 0xa3ce929d0e0e4736}));
  EXPECT_EQ(llm.span_id(), Bytes({b.batch.spans[0].span_id}));
  EXPECT_EQ(llm.parent_span_id(), Bytes({0x00f067aa0ba902b7}));
  EXPECT_EQ(llm.start_time_unix_nano(), uint64_t(b.batch.spans[0].start_unix_ns));
  EXPECT_EQ(llm.end_time_unix_nano(), uint64_t(b.batch.spans[0].end_unix_ns));
  EXPECT_EQ(llm.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(llm.name(), "chat claude-sonnet-4-5");
  EXPECT_EQ(llm.status().code(), opentelemetry::proto::trace::v1::Status::STATUS_CODE_UNSET);
  std::map<std::string, AttrValue> want = {
      {"gen_ai.operation.name", std::string("chat")},
      {"gen_ai.provider.name", std::string("anthropic")},
      {"gen_ai.request.model", std::string("claude-sonnet-4-5")},
      {"gen_ai.response.model", std::string("claude-sonnet-4-5")},
      {"gen_ai.usage.input_tokens", int64_t(12 + 40000 + 1500)},
      {"gen_ai.usage.output_tokens", int64_t(230)},
      {"gen_ai.usage.cache_read.input_tokens", int64_t(40000)},
      {"gen_ai.usage.cache_creation.input_tokens", int64_t(1500)},
      {"gen_ai.usage.reasoning.output_tokens", int64_t(100)},
      {"gen_ai.conversation.id", std::string("s-42")},
      {"gen_ai.agent.id", std::string("planner")},
      {"tokmeter.kind", std::string("llm")},
      {"tokmeter.name", std::string("messages")},
      {"tokmeter.thread", int64_t(4242)},
      {"tokmeter.fingerprint", std::string("9f3a0c2b1d4e5f60")},
      {"tokmeter.input_tokens", int64_t(12)},
      {"tokmeter.requests", int64_t(1)},
      {"tokmeter.web_search_requests", int64_t(1)},
      {"tokmeter.neg", int64_t(-5)},
      {"tokmeter.attempt", int64_t(2)},
      {"tokmeter.status", int64_t(200)},
      {"tokmeter.streaming", true},
      {"tokmeter.request_id", std::string("req_011CV\"q\\x\n")},
      {"tokmeter.bad_utf8", std::string("a\xef\xbf\xbd\xef\xbf\xbd"
                                        "b")},
      {"tokmeter.channel", std::string("discord")},
      {"tokmeter.heartbeat", false},
      {"tokmeter.priority", int64_t(-3)},
  };
  EXPECT_EQ(Attrs(llm.attributes()), want);

  const auto& tool = rs.scope_spans(0).spans(1);
  EXPECT_EQ(tool.name(), "execute_tool web_search");
  EXPECT_EQ(tool.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_INTERNAL);
  EXPECT_EQ(tool.status().code(), opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(tool.status().message(), "HTTP 503");
  std::map<std::string, AttrValue> want_tool = {
      {"gen_ai.operation.name", std::string("execute_tool")},
      {"gen_ai.tool.name", std::string("web_search")},
      {"gen_ai.conversation.id", std::string("s-42")},
      {"gen_ai.agent.id", std::string("planner")},
      {"error.type", std::string("503")},
      {"tokmeter.kind", std::string("tool")},
      {"tokmeter.name", std::string("web_search")},
      {"tokmeter.thread", int64_t(4243)},
      {"tokmeter.tool_calls", int64_t(1)},
      {"tokmeter.errors", int64_t(1)},
      {"tokmeter.rate_limited", int64_t(2)},
      {"tokmeter.status", int64_t(503)},
      {"tokmeter.channel", std::string("discord")},
      {"tokmeter.heartbeat", false},
      {"tokmeter.priority", int64_t(-3)},
  };
  EXPECT_EQ(Attrs(tool.attributes()), want_tool);

  // The session's root: an agent invocation (GenAI agent spans: name
  // "invoke_agent {gen_ai.agent.name}", kind INTERNAL), the agent named by
  // the trace tag.
  const auto& root = rs.scope_spans(0).spans(2);
  EXPECT_EQ(root.parent_span_id(), "");
  EXPECT_EQ(root.name(), "invoke_agent planner");
  EXPECT_EQ(root.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_INTERNAL);
  auto root_attrs = Attrs(root.attributes());
  EXPECT_EQ(std::get<std::string>(root_attrs["gen_ai.operation.name"]), "invoke_agent");
  EXPECT_EQ(std::get<std::string>(root_attrs["gen_ai.agent.name"]), "planner");
  EXPECT_EQ(std::get<std::string>(root_attrs["gen_ai.agent.id"]), "planner");
  EXPECT_EQ(std::get<std::string>(root_attrs["gen_ai.conversation.id"]), "s-42");
  EXPECT_EQ(std::get<bool>(root_attrs["tokmeter.root"]), true);

  // The drop record: a span of its own with one event per record, and no
  // usage attributes (readers must not count it as a call).
  const auto& drop = rs.scope_spans(0).spans(3);
  EXPECT_EQ(drop.name(), "tokmeter.records_dropped");
  EXPECT_EQ(drop.attributes_size(), 0);
  EXPECT_EQ(drop.trace_id().size(), 16u);
  EXPECT_EQ(drop.span_id().size(), 8u);
  EXPECT_EQ(drop.status().code(), opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(drop.status().message(), "17 records dropped: a thread's ring was full");
  ASSERT_EQ(drop.events_size(), 1);
  EXPECT_EQ(drop.events(0).name(), "tokmeter.records_dropped");
  EXPECT_EQ(drop.events(0).time_unix_nano(), uint64_t(b.batch.drops[0].time_unix_ns));
  std::map<std::string, AttrValue> want_drop = {
      {"thread.id", int64_t(4243)},
      {"tokmeter.dropped", int64_t(17)},
      {"tokmeter.total_dropped", int64_t(17)},
  };
  EXPECT_EQ(Attrs(drop.events(0).attributes()), want_drop);
}

// gen_ai.conversation.id is the trace's session tag, else its key (the id
// given to tokmeter::Trace, from the trace record), on every span of the
// trace; spans of a trace the sink has no record of carry none.
TEST(OtlpExportTest, ConversationIdFromTheTraceKey) {
  Receiver rx;
  auto sink = Make(FastOptions(rx.endpoint()));
  TraceId tid{1, 2};
  std::vector<Tag> trace_tags = {{"channel", TagType::kString, "cli", 0}};  // no session
  Batch batch;
  batch.traces.push_back(TraceRecord{tid, 77, 1000, "cron", "nightly-digest", trace_tags});
  SpanRecord llm;
  llm.trace_id = tid;
  llm.span_id = 78;
  llm.parent_id = 77;
  llm.start_unix_ns = 1000;
  llm.end_unix_ns = 2000;
  llm.kind = "llm";
  llm.name = "messages";
  llm.trace_tags = trace_tags;
  SpanRecord other = llm;  // a trace the sink never saw a record of
  other.trace_id = TraceId{3, 4};
  other.span_id = 79;
  batch.spans = {llm, other};
  ASSERT_TRUE(sink->Write(batch).ok());
  // The next batch: the trace's root closes, and its roll-up retires the key.
  Batch second;
  SpanRecord root = llm;
  root.span_id = 77;
  root.parent_id = 0;
  root.kind = "cron";
  root.name = "nightly-digest";
  root.is_trace_root = true;
  second.spans = {root};
  ASSERT_TRUE(sink->Write(second).ok());
  ASSERT_TRUE(sink->Close().ok());
  std::map<std::string, std::string> conversation;  // span name → id
  for (const auto& r : rx.received()) {
    otlp_request req;
    ASSERT_TRUE(req.ParseFromString(r.body));
    for (const auto& s : req.resource_spans(0).scope_spans(0).spans()) {
      auto a = Attrs(s.attributes());
      std::string key = s.name() + "/" + std::string(1, s.span_id().back());
      conversation[key] = a.count("gen_ai.conversation.id")
                              ? std::get<std::string>(a["gen_ai.conversation.id"])
                              : "(none)";
    }
  }
  std::map<std::string, std::string> want = {
      {"chat/N", "nightly-digest"},          // span id 78 = 'N'
      {"chat/O", "(none)"},                  // 79 = 'O'
      {"invoke_agent/M", "nightly-digest"},  // the root (77 = 'M'): its own name is the key
  };
  EXPECT_EQ(conversation, want);
}

TEST(OtlpExportTest, GzipBody) {
  Receiver rx;
  OtlpOptions o = FastOptions(rx.endpoint());
  o.gzip = true;
  auto sink = Make(o);
  testing::SampleBatch b(50);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->Close().ok());
  auto got = rx.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers["Content-Encoding"], "gzip");
  otlp_request req;
  ASSERT_TRUE(req.ParseFromString(got[0].body));
  ASSERT_EQ(req.resource_spans_size(), 1);
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).spans_size(), 101);
  EXPECT_LT(sink->stats().bytes_sent, got[0].body.size() / 3);
}

TEST(OtlpExportTest, BatchesLargeWrites) {
  Receiver rx;
  OtlpOptions o = FastOptions(rx.endpoint());
  o.max_batch_spans = 40;
  auto sink = Make(o);
  testing::SampleBatch b(50);  // 101 spans -> 3 requests
  b.batch.drops.clear();       // spans only: the counts below are of spans
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(sink->stats().spans_exported, 101u);
  int spans = 0;
  for (const auto& r : rx.received()) {
    otlp_request req;
    ASSERT_TRUE(req.ParseFromString(r.body));
    EXPECT_LE(req.resource_spans(0).scope_spans(0).spans_size(), 40);
    spans += req.resource_spans(0).scope_spans(0).spans_size();
  }
  EXPECT_EQ(spans, 101);
  EXPECT_EQ(rx.count(), 3);
}

TEST(OtlpExportTest, Retries503Then200) {
  Receiver rx([](int i) { return Reply{i == 0 ? 503 : 200}; });
  auto sink = Make(FastOptions(rx.endpoint()));
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  ASSERT_TRUE(sink->Close().ok());
  OtlpStats st = sink->stats();
  EXPECT_EQ(st.spans_exported, 3u);
  EXPECT_EQ(st.spans_failed, 0u);
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.retries, 1u);
  auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, got[1].body);  // the same request again
}

TEST(OtlpExportTest, Honours429RetryAfterSeconds) {
  Receiver rx([](int i) { return i == 0 ? Reply{429, {{"Retry-After", "1"}}} : Reply{200}; });
  auto sink = Make(FastOptions(rx.endpoint()));  // backoff alone would wait ~10 ms
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->WaitIdle(4000ms));
  ASSERT_TRUE(sink->Close().ok());
  auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[1].at - got[0].at, 950ms);
  EXPECT_EQ(sink->stats().spans_exported, 3u);
}

TEST(OtlpExportTest, Honours503RetryAfterHttpDate) {
  Receiver rx([](int i) {
    if (i > 0) return Reply{200};
    absl::Time t = absl::Now() + absl::Seconds(2);
    return Reply{
        503,
        {{"Retry-After", absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", t, absl::UTCTimeZone())}}};
  });
  auto sink = Make(FastOptions(rx.endpoint()));
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->WaitIdle(5000ms));
  ASSERT_TRUE(sink->Close().ok());
  auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[1].at - got[0].at, 900ms);  // the date has one-second resolution
}

TEST(OtlpExportTest, DoesNotRetry400) {
  Receiver rx([](int) { return Reply{400}; });
  std::atomic<int> errors{0};
  OtlpOptions o = FastOptions(rx.endpoint());
  o.on_error = [&](const absl::Status&) { errors++; };
  auto sink = Make(o);
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE(sink->Write(b.batch).ok());
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  EXPECT_EQ(rx.count(), 1);
  EXPECT_EQ(sink->stats().spans_failed, 3u);
  EXPECT_EQ(errors.load(), 1);
  // The failure is reported by the next Write.
  absl::Status next = sink->Write(Batch{});
  EXPECT_FALSE(next.ok());
  EXPECT_NE(next.message().find("HTTP 400"), absl::string_view::npos) << next;
  sink->Close().IgnoreError();
}

TEST(OtlpExportTest, HangingCollectorTimesOut) {
  Receiver rx([](int) { return Reply{.hang = true}; });
  OtlpOptions o = FastOptions(rx.endpoint());
  o.timeout = 200ms;
  o.max_retries = 1;
  auto sink = Make(o);
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  auto t0 = Clock::now();
  ASSERT_TRUE(sink->Write(b.batch).ok());
  EXPECT_LT(Clock::now() - t0, 100ms);  // Write never waits for the network
  ASSERT_TRUE(sink->WaitIdle(3000ms));
  EXPECT_LT(Clock::now() - t0, 1500ms);
  OtlpStats st = sink->stats();
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.spans_failed, 3u);
  EXPECT_EQ(st.spans_exported, 0u);
  EXPECT_TRUE(sink->Close().ok());
}

TEST(OtlpExportTest, CloseIsBoundedWhileARequestHangs) {
  Receiver rx([](int) { return Reply{.hang = true}; });
  OtlpOptions o = FastOptions(rx.endpoint());
  o.timeout = 30000ms;  // far longer than the close budget
  o.close_timeout = 300ms;
  auto sink = Make(o);
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE(sink->Write(b.batch).ok());
  while (rx.count() == 0) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(sink->Write(b.batch).ok());  // queued behind the hanging request
  auto t0 = Clock::now();
  absl::Status st = sink->Close();
  auto took = Clock::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1000ms);
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_EQ(sink->stats().spans_failed, 6u);
}

TEST(OtlpExportTest, RefusedConnectionsAreCountedAndBounded) {
  uint16_t port;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: connections to it are refused
  OtlpOptions o = FastOptions("http://127.0.0.1:" + std::to_string(port));
  o.max_retries = 2;
  o.max_queue_spans = 6;
  o.close_timeout = 500ms;
  auto sink = Make(o);
  testing::SampleBatch b(1);  // 3 spans
  b.batch.drops.clear();      // spans only: the counts below are of spans
  uint64_t dropped_by_write = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < 20; ++i) {
    absl::Status st = sink->Write(b.batch);
    if (!st.ok() && st.code() == absl::StatusCode::kResourceExhausted) dropped_by_write += 3;
  }
  EXPECT_LT(Clock::now() - t0, 300ms);  // producers never wait
  EXPECT_GT(dropped_by_write, 0u);
  auto t1 = Clock::now();
  sink->Close().IgnoreError();
  EXPECT_LT(Clock::now() - t1, 1000ms);
  OtlpStats st = sink->stats();
  EXPECT_EQ(st.spans_dropped, dropped_by_write);
  EXPECT_EQ(st.spans_exported, 0u);
  EXPECT_EQ(st.spans_queued + st.spans_dropped, 60u);
  EXPECT_EQ(st.spans_failed, st.spans_queued);  // every queued span accounted for
  EXPECT_GE(st.retries, 2u);
}

TEST(OtlpExportTest, WireFormatCheckedByProtocDecodeRaw) {
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  std::string spans, body;
  otlp::AppendOtlpSpan(b.batch.spans[0], spans);
  otlp::AppendExportRequest(otlp::EncodeOtlpResource("svc", {}), spans, body);
  std::string path =
      std::filesystem::temp_directory_path() / ("otlp_body_" + std::to_string(::getpid()) + ".bin");
  std::ofstream(path, std::ios::binary) << body;
  std::string cmd = std::string(TOKMETER_PROTOC) + " --decode_raw < " + path;
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ASSERT_EQ(::pclose(p), 0) << out;
  std::filesystem::remove(path);
  auto has = [&](const std::string& s) {
    EXPECT_NE(out.find(s), std::string::npos) << "missing `" << s << "` in\n" << out;
  };
  // ExportTraceServiceRequest.resource_spans(1) > ResourceSpans.resource(1)
  //   > Resource.attributes(1) > KeyValue.key(1) / value(2) > AnyValue.string_value(1)
  has("1 {\n  1 {\n    1 {\n      1: \"service.name\"\n      2 {\n        1: \"svc\"\n");
  // ResourceSpans.scope_spans(2) > ScopeSpans.scope(1) > name(1), version(2)
  has("  2 {\n    1 {\n      1: \"tokmeter\"\n      2: \"" TOKMETER_VERSION_STRING "\"\n    }\n");
  // ScopeSpans.spans(2) > Span.trace_id(1), span_id(2), parent_span_id(4)
  has("    2 {\n      1: \"K\\371/5w\\263M\\246\\243\\316\\222\\235\\016\\016G6\"\n");
  has("      4: \"\\000\\360g\\252\\013\\251\\002\\267\"\n");
  has("      5: \"chat claude-sonnet-4-5\"\n");  // name
  has("      6: 3\n");                           // kind CLIENT
  char start[64];
  std::snprintf(start, sizeof(start), "      7: 0x%016llx\n",
                (unsigned long long)b.batch.spans[0].start_unix_ns);
  has(start);  // start_time_unix_nano, fixed64
  // attributes(9) > key(1), value(2) > int_value(3)
  has("      9 {\n        1: \"gen_ai.usage.input_tokens\"\n        2 {\n          3: 41512\n");
  has("      16: 0x00000101\n");  // flags, fixed32
}

TEST(OtlpOptionsTest, FromEnv) {
  ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4318", 1);
  ::setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D,x-tenant = t1", 1);
  ::setenv("OTEL_SERVICE_NAME", "my-agent", 1);
  OtlpOptions base;
  base.gzip = true;
  OtlpOptions o = OtlpOptions::FromEnv(base);
  ::unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  ::unsetenv("OTEL_EXPORTER_OTLP_HEADERS");
  ::unsetenv("OTEL_SERVICE_NAME");
  EXPECT_EQ(o.endpoint, "https://collector.example:4318");
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[0], (std::pair<std::string, std::string>{"api-key", "abc="}));
  EXPECT_EQ(o.headers[1], (std::pair<std::string, std::string>{"x-tenant", "t1"}));
  EXPECT_EQ(o.service_name, "my-agent");
  EXPECT_TRUE(o.gzip);
  // Without the variables, nothing changes.
  EXPECT_EQ(OtlpOptions::FromEnv().endpoint, "http://localhost:4318");
}

TEST(OtlpOptionsTest, BadEndpoint) {
  OtlpOptions o;
  o.endpoint = "ftp://x";
  EXPECT_EQ(MakeOtlpHttpSink(o).status().code(), absl::StatusCode::kInvalidArgument);
}

// The real runtime exporting through the sink.
TEST(OtlpExportTest, RuntimeSpansArrive) {
  Receiver rx;
  auto sink = Make(FastOptions(rx.endpoint()));
  OtlpHttpSink* raw = sink.get();
  Options opts;
  opts.sinks.push_back(std::move(sink));
  auto rt = Runtime::Start(std::move(opts));
  ASSERT_TRUE(rt.ok()) << rt.status();
  {
    Trace trace("session", "s-7");
    trace.Tag("session", "s-7").Tag("agent", "coder");
    Span llm("llm", "messages");
    llm.Tag("provider", "openai").Tag("model", "gpt-5");
    llm.Add(Counter::kInputTokens, 5).Add(Counter::kCacheReadTokens, 7);
  }
  ASSERT_TRUE((*rt)->Flush().ok());
  ASSERT_TRUE(raw->WaitIdle(3000ms));
  ASSERT_TRUE((*rt)->Shutdown().ok());
  bool found = false;
  for (const auto& r : rx.received()) {
    otlp_request req;
    ASSERT_TRUE(req.ParseFromString(r.body));
    for (const auto& s : req.resource_spans(0).scope_spans(0).spans()) {
      auto a = Attrs(s.attributes());
      if (s.name() != "chat gpt-5") continue;
      found = true;
      EXPECT_EQ(std::get<std::string>(a["gen_ai.provider.name"]), "openai");
      EXPECT_EQ(std::get<int64_t>(a["gen_ai.usage.input_tokens"]), 12);
      EXPECT_EQ(std::get<std::string>(a["gen_ai.conversation.id"]), "s-7");
      EXPECT_EQ(std::get<std::string>(a["gen_ai.agent.id"]), "coder");
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace tokmeter
