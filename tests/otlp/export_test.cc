// `tokmeter export`: a Claude Code transcript and a token-usage log replayed
// into a receiver on 127.0.0.1 and decoded with the official
// opentelemetry-proto classes; OTLP JSON files read back by the readers;
// bad flags named.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/cli/cli.h"
#include "tests/otlp/receiver.h"

namespace tokmeter {
namespace {

namespace fs = std::filesystem;
namespace pm = opentelemetry::proto::metrics::v1;
using testing::Attrs;
using testing::AttrValue;
using testing::Receiver;
using TraceRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;

int64_t Ns(int y, int mo, int d, int h, int mi, int s, int ms = 0) {
  return absl::ToUnixNanos(
             absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone())) +
         int64_t(ms) * 1'000'000;
}

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tokmeter_export_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "claude");
    // Claude Code: two messages of session sess-a (in minute 09:16).
    std::ofstream(dir_ / "claude" / "sess-a.jsonl")
        << R"({"parentUuid":null,"isSidechain":false,"type":"assistant","uuid":"u1","timestamp":"2026-08-18T09:16:41.000Z","sessionId":"sess-a","cwd":"/home/dev/api","requestId":"req_1","message":{"model":"claude-sonnet-4-5","id":"msg_1","type":"message","role":"assistant","usage":{"input_tokens":4,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":9}}})"
           "\n"
        << R"({"parentUuid":"u1","isSidechain":false,"type":"assistant","uuid":"u2","timestamp":"2026-08-18T09:16:50.000Z","sessionId":"sess-a","cwd":"/home/dev/api","requestId":"req_2","message":{"model":"claude-sonnet-4-5","id":"msg_2","type":"message","role":"assistant","usage":{"input_tokens":6,"cache_creation_input_tokens":0,"cache_read_input_tokens":2100,"output_tokens":40}}})"
           "\n";
    // token-usage: one call at 10:00:01 (Anthropic: input exclusive of the
    // cache) and one at 10:01:30 (OpenAI: input inclusive).
    std::ofstream(dir_ / "token-usage.jsonl")
        << R"({"_schema":"token-usage/1","timestamp":"2026-08-20T10:00:01.000Z","event":"token_usage","request_id":"r1","provider":"anthropic","model":"claude-haiku-4-5","path":"/v1/messages","status":200,"input_tokens":120,"output_tokens":35,"cache_read_tokens":0,"cache_write_tokens":0,"duration_ms":800})"
           "\n"
        << R"({"_schema":"token-usage/1","timestamp":"2026-08-20T10:01:30.000Z","event":"token_usage","request_id":"r2","provider":"openai","model":"gpt-5","path":"/v1/chat/completions","status":200,"input_tokens":1000,"output_tokens":50,"cache_read_tokens":600,"cache_write_tokens":0,"duration_ms":2500})"
           "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  int Export(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"export", (dir_ / "claude").string(), (dir_ / "token-usage.jsonl").string()});
    out_.str("");
    err_.str("");
    return cli::Run(args, out_, err_);
  }

  fs::path dir_;
  std::ostringstream out_, err_;
};

std::map<std::string, const opentelemetry::proto::trace::v1::Span*> SpansByName(
    const std::vector<TraceRequest>& reqs) {
  std::map<std::string, const opentelemetry::proto::trace::v1::Span*> out;
  for (const auto& r : reqs)
    for (const auto& rs : r.resource_spans())
      for (const auto& ss : rs.scope_spans())
        for (const auto& s : ss.spans()) {
          // The request id / message id tells the spans apart.
          auto a = Attrs(s.attributes());
          std::string id = a.count("tokmeter.request_id")
                               ? std::get<std::string>(a["tokmeter.request_id"])
                               : "?";
          out[id] = &s;
        }
  return out;
}

TEST_F(ExportTest, TranscriptAndTokenUsageReachTheReceiver) {
  Receiver rx;
  ASSERT_EQ(Export({"--endpoint", rx.endpoint(), "--quiet", "--format", "json"}), 0) << err_.str();
  std::vector<TraceRequest> traces;
  std::vector<MetricsRequest> metrics;
  for (auto& r : rx.received()) {
    if (r.target == "/v1/traces") {
      ASSERT_TRUE(traces.emplace_back().ParseFromString(r.body));
    } else {
      ASSERT_EQ(r.target, "/v1/metrics");
      ASSERT_TRUE(metrics.emplace_back().ParseFromString(r.body));
    }
  }
  ASSERT_EQ(traces.size(), 1u);  // 4 spans: one request
  auto spans = SpansByName(traces);
  ASSERT_EQ(spans.size(), 4u);

  // Claude Code msg_1: input 4 + cache read 2,000 + cache write 100 = 2,104
  // (the GenAI convention counts cached input in input_tokens); the session
  // is the conversation.
  const auto& m1 = *spans["req_1"];
  auto a = Attrs(m1.attributes());
  EXPECT_EQ(m1.name(), "chat claude-sonnet-4-5");
  EXPECT_EQ(m1.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(m1.end_time_unix_nano(), uint64_t(Ns(2026, 8, 18, 9, 16, 41)));
  EXPECT_EQ(m1.start_time_unix_nano(), m1.end_time_unix_nano());  // no duration in transcripts
  EXPECT_EQ(std::get<std::string>(a["gen_ai.operation.name"]), "chat");
  EXPECT_EQ(std::get<std::string>(a["gen_ai.provider.name"]), "anthropic");
  EXPECT_EQ(std::get<std::string>(a["gen_ai.conversation.id"]), "sess-a");
  EXPECT_EQ(std::get<int64_t>(a["gen_ai.usage.input_tokens"]), 2104);
  EXPECT_EQ(std::get<int64_t>(a["gen_ai.usage.cache_read.input_tokens"]), 2000);
  EXPECT_EQ(std::get<int64_t>(a["gen_ai.usage.cache_creation.input_tokens"]), 100);
  EXPECT_EQ(std::get<int64_t>(a["gen_ai.usage.output_tokens"]), 9);
  EXPECT_EQ(std::get<std::string>(a["tokmeter.project"]), "/home/dev/api");
  // Both messages are in the session's trace.
  EXPECT_EQ(spans["req_2"]->trace_id(), m1.trace_id());

  // token-usage r2 (OpenAI): input 1,000 inclusive of the 600 cached; its
  // 2.5 s duration ends at the logged time; no session, no conversation.
  const auto& r2 = *spans["r2"];
  a = Attrs(r2.attributes());
  EXPECT_EQ(r2.name(), "chat gpt-5");
  EXPECT_EQ(r2.end_time_unix_nano(), uint64_t(Ns(2026, 8, 20, 10, 1, 30)));
  EXPECT_EQ(r2.start_time_unix_nano(), uint64_t(Ns(2026, 8, 20, 10, 1, 27, 500)));
  EXPECT_EQ(std::get<int64_t>(a["gen_ai.usage.input_tokens"]), 1000);
  EXPECT_EQ(std::get<int64_t>(a["gen_ai.usage.cache_read.input_tokens"]), 600);
  EXPECT_EQ(a.count("gen_ai.conversation.id"), 0u);
  EXPECT_NE(r2.trace_id(), spans["r1"]->trace_id());

  // Metrics: cumulative points at the end of each 1-minute window with
  // data (09:17, 10:01, 10:02), all starting at the first window (09:16).
  // Input token points: window 1 the Sonnet series; window 2 + Haiku;
  // window 3 + gpt-5: 1 + 2 + 3 = 6.
  std::map<std::pair<uint64_t, std::string>, pm::HistogramDataPoint> input;
  bool cost = false;
  for (const auto& r : metrics)
    for (const auto& rm : r.resource_metrics())
      for (const auto& sm : rm.scope_metrics())
        for (const auto& m : sm.metrics()) {
          if (m.name() == "tokmeter.cost") cost = true;
          if (m.name() != "gen_ai.client.token.usage") continue;
          EXPECT_EQ(m.histogram().aggregation_temporality(),
                    pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
          for (const auto& p : m.histogram().data_points()) {
            auto pa = Attrs(p.attributes());
            if (std::get<std::string>(pa["gen_ai.token.type"]) != "input") continue;
            EXPECT_EQ(p.start_time_unix_nano(), uint64_t(Ns(2026, 8, 18, 9, 16, 0)));
            input[{p.time_unix_nano(), std::get<std::string>(pa["gen_ai.request.model"])}] = p;
          }
        }
  ASSERT_EQ(input.size(), 6u);
  const uint64_t w1 = Ns(2026, 8, 18, 9, 17, 0), w3 = Ns(2026, 8, 20, 10, 2, 0);
  auto point = [&](uint64_t window_end, const std::string& model) {
    return input[std::make_pair(window_end, model)];
  };
  EXPECT_EQ(point(w1, "claude-sonnet-4-5").count(), 2u);
  EXPECT_EQ(point(w1, "claude-sonnet-4-5").sum(), 2104.0 + 2106.0);  // msg_2: 6 + 2,100
  EXPECT_EQ(point(w3, "claude-sonnet-4-5").count(), 2u);             // cumulative: still there
  EXPECT_EQ(point(w3, "gpt-5").sum(), 1000.0);
  EXPECT_EQ(point(w3, "claude-haiku-4-5").sum(), 120.0);
  EXPECT_TRUE(cost);  // the models are in the built-in price table

  // The summary on stdout.
  auto doc = boost::json::parse(out_.str()).as_object();
  EXPECT_EQ(doc["events"].as_int64(), 4);
  EXPECT_EQ(doc["spans"].as_object()["accepted"].as_int64(), 4);
  EXPECT_EQ(doc["spans"].as_object()["lost"].as_int64(), 0);
}

TEST_F(ExportTest, DeltaPointsCoverTheirWindowOnly) {
  Receiver rx;
  ASSERT_EQ(Export({"--endpoint", rx.endpoint(), "--quiet", "--signals", "metrics", "--temporality",
                    "delta", "--metric-attributes", "gen_ai.request.model"}),
            0)
      << err_.str();
  std::map<std::string, std::pair<uint64_t, uint64_t>> windows;  // model → (start, end)
  for (auto& r : rx.received()) {
    ASSERT_EQ(r.target, "/v1/metrics");  // no spans asked for
    MetricsRequest req;
    ASSERT_TRUE(req.ParseFromString(r.body));
    for (const auto& rm : req.resource_metrics())
      for (const auto& m : rm.scope_metrics(0).metrics()) {
        if (m.name() != "gen_ai.client.token.usage") continue;
        for (const auto& p : m.histogram().data_points()) {
          auto pa = Attrs(p.attributes());
          windows[std::get<std::string>(pa["gen_ai.request.model"])] = {p.start_time_unix_nano(),
                                                                        p.time_unix_nano()};
        }
      }
  }
  using W = std::pair<uint64_t, uint64_t>;
  EXPECT_EQ(windows,
            (std::map<std::string, W>{
                {"claude-sonnet-4-5", {Ns(2026, 8, 18, 9, 16, 0), Ns(2026, 8, 18, 9, 17, 0)}},
                {"claude-haiku-4-5", {Ns(2026, 8, 20, 10, 0, 0), Ns(2026, 8, 20, 10, 1, 0)}},
                {"gpt-5", {Ns(2026, 8, 20, 10, 1, 0), Ns(2026, 8, 20, 10, 2, 0)}}}));
}

// OTLP JSON files (the Collector file exporter's format) read back by
// tokmeter's own readers give the totals of the original logs.
TEST_F(ExportTest, OtlpJsonFilesReadBackToTheSameTotals) {
  std::string traces = (dir_ / "traces.jsonl").string(),
              metrics = (dir_ / "metrics.jsonl").string();
  ASSERT_EQ(Export({"--traces-file", traces, "--metrics-file", metrics, "--quiet"}), 0)
      << err_.str();
  auto totals = [](std::vector<std::string> inputs) {
    std::vector<std::string> args = {"daily", "--format", "json"};  // totals of every day
    args.insert(args.end(), inputs.begin(), inputs.end());
    std::ostringstream out, err;
    EXPECT_EQ(cli::Run(args, out, err), 0) << err.str();
    auto doc = boost::json::parse(out.str()).as_object();
    auto t = doc["totals"].as_object();
    std::map<std::string, int64_t> m;
    for (const char* k : {"input_tokens", "output_tokens", "cache_read_tokens",
                          "cache_write_tokens", "requests", "events"}) {
      m[k] = t[k].as_int64();
    }
    return m;
  };
  auto original = totals({(dir_ / "claude").string(), (dir_ / "token-usage.jsonl").string()});
  // By hand: input 4 + 6 + 120 + (1,000 − 600) = 530; cache read 2,000 +
  // 2,100 + 600 = 4,700; cache write 100; output 9 + 40 + 35 + 50 = 134.
  EXPECT_EQ(original, (std::map<std::string, int64_t>{{"input_tokens", 530},
                                                      {"output_tokens", 134},
                                                      {"cache_read_tokens", 4700},
                                                      {"cache_write_tokens", 100},
                                                      {"requests", 4},
                                                      {"events", 4}}));
  EXPECT_EQ(totals({traces}), original);
  // The metrics file: one OTLP JSON request per line, one per window.
  std::ifstream m(metrics);
  std::string line;
  int lines = 0;
  while (std::getline(m, line)) {
    auto doc = boost::json::parse(line).as_object();
    EXPECT_TRUE(doc.contains("resourceMetrics"));
    ++lines;
  }
  EXPECT_EQ(lines, 3);
}

TEST_F(ExportTest, BadFlagsAndEndpointsAreNamed) {
  auto fails = [&](std::vector<std::string> args, const std::string& want, int code = 2) {
    EXPECT_EQ(Export(args), code);
    EXPECT_NE(err_.str().find(want), std::string::npos) << "want `" << want << "` in\n"
                                                        << err_.str();
  };
  fails({}, "nowhere to export to: give --endpoint URL");
  fails({"--endpoint", "ftp://collector:4318"},
        "--endpoint: endpoint must start with http:// or https://: "
        "\"ftp://collector:4318/v1/traces\"");
  fails({"--endpoint", "http://127.0.0.1:1", "--signals", "logs"},
        "--signals: 'logs' is not traces or metrics");
  fails({"--endpoint", "http://127.0.0.1:1", "--temporality", "sometimes"},
        "--temporality: 'sometimes' is not cumulative or delta");
  fails({"--endpoint", "http://127.0.0.1:1", "--metric-attributes", "user.email"},
        "metric attribute \"user.email\" is not allowed");
  fails({"--traces-file", "/nonexistent-dir/x.jsonl"},
        "--traces-file: cannot write '/nonexistent-dir/x.jsonl'");
  fails({"--endpoint", "http://127.0.0.1:1", "--header", "novalue"},
        "--header: 'novalue' is not KEY=VALUE");
}

TEST_F(ExportTest, RefusedEndpointIsAFailure) {
  uint16_t port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(
        ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: connections are refused
  EXPECT_EQ(Export({"--endpoint", "http://127.0.0.1:" + std::to_string(port), "--max-retries", "0",
                    "--quiet"}),
            1);
  EXPECT_NE(err_.str().find("4 spans and"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("were not accepted"), std::string::npos) << err_.str();
}

}  // namespace
}  // namespace tokmeter
