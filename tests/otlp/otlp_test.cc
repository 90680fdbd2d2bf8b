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

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/otlp/otlp_encoder.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using otlp_request = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using Clock = std::chrono::steady_clock;

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    out.resize(out.size() + in.size() * 4 + 4096);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
    zs.avail_out = uInt(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string("gunzip failed");
}

// What the receiver answers to one request.
struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;  // never answer (until the receiver stops)
};

struct Received {
  std::string target;
  std::map<std::string, std::string> headers;
  std::string body;  // gunzipped if it was gzip
  Clock::time_point at;
};

// An OTLP/HTTP receiver on 127.0.0.1:<ephemeral>, one thread per connection.
class Receiver {
 public:
  using Handler = std::function<Reply(int index)>;
  explicit Receiver(Handler h = nullptr) : handler_(std::move(h)), acceptor_(ioc_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~Receiver() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    // Wake the blocking accept.
    try {
      asio::io_context ioc;
      tcp::socket s(ioc);
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    } catch (...) {
    }
    accept_thread_.join();
    for (auto& t : conn_threads_) t.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return int(received_.size());
  }

 private:
  void AcceptLoop() {
    for (;;) {
      auto sock = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*sock, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      fds_.push_back(sock->native_handle());
      conn_threads_.emplace_back([this, sock] { Serve(*sock); });
    }
  }
  void Serve(tcp::socket& sock) {
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      boost::system::error_code ec;
      http::read(sock, buf, parser, ec);
      if (ec) return;
      auto& req = parser.get();
      Received r;
      r.target = std::string(req.target());
      for (const auto& f : req) r.headers[std::string(f.name_string())] = std::string(f.value());
      r.body = req[http::field::content_encoding] == "gzip" ? Gunzip(req.body()) : req.body();
      r.at = Clock::now();
      int index;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = int(received_.size());
        received_.push_back(std::move(r));
      }
      Reply reply = handler_ ? handler_(index) : Reply{};
      if (reply.hang) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_; });
        return;
      }
      http::response<http::string_body> res{http::status(reply.status), 11};
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      res.set(http::field::content_type, "application/x-protobuf");
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(sock, res, ec);
      if (ec) return;
    }
  }

  Handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> conn_threads_;  // joined in the destructor
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<int> fds_;
  std::vector<Received> received_;
};

using AttrValue = std::variant<std::string, int64_t, bool>;

std::map<std::string, AttrValue> Attrs(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& kvs) {
  std::map<std::string, AttrValue> out;
  for (const auto& kv : kvs) {
    EXPECT_EQ(out.count(kv.key()), 0u) << "duplicate key " << kv.key();
    switch (kv.value().value_case()) {
      case opentelemetry::proto::common::v1::AnyValue::kStringValue:
        out[kv.key()] = kv.value().string_value();
        break;
      case opentelemetry::proto::common::v1::AnyValue::kIntValue:
        out[kv.key()] = kv.value().int_value();
        break;
      case opentelemetry::proto::common::v1::AnyValue::kBoolValue:
        out[kv.key()] = kv.value().bool_value();
        break;
      default:
        ADD_FAILURE() << "unexpected value type for " << kv.key();
    }
  }
  return out;
}

std::string Bytes(std::initializer_list<uint64_t> words) {
  std::string out;
  for (uint64_t w : words) {
    for (int i = 7; i >= 0; --i) out.push_back(char((w >> (8 * i)) & 0xff));
  }
  return out;
}

OtlpOptions FastOptions(const std::string& endpoint) {
  OtlpOptions o;
  o.endpoint = endpoint;
  o.timeout = 500ms;
  o.initial_backoff = 10ms;
  o.max_backoff = 40ms;
  o.close_timeout = 2000ms;
  return o;
}

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
  EXPECT_EQ(st.spans_exported, 3u);
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
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 3);

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

  const auto& root = rs.scope_spans(0).spans(2);
  EXPECT_EQ(root.parent_span_id(), "");
  EXPECT_EQ(root.name(), "invoke_agent s-42");
  auto root_attrs = Attrs(root.attributes());
  EXPECT_EQ(std::get<std::string>(root_attrs["gen_ai.operation.name"]), "invoke_agent");
  EXPECT_EQ(std::get<bool>(root_attrs["tokmeter.root"]), true);
}

TEST(OtlpExportTest, GzipBody) {
  Receiver rx;
  OtlpOptions o = FastOptions(rx.endpoint());
  o.gzip = true;
  auto sink = Make(o);
  testing::SampleBatch b(50);
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
  has("  2 {\n    1 {\n      1: \"tokmeter\"\n      2: \"0.1.0\"\n    }\n");
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
