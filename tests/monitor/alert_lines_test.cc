// Alert records in the JSONL file: the sink writes one `alert` line per alert
// of the monitor, and the analysis reader reads such files without counting
// the alert lines as usage or as malformed.
#include <cstdio>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "src/analysis/detect.h"
#include "src/analysis/reader.h"
#include "src/analysis/store.h"
#include "tests/core/json_lines.h"
#include "tokmeter/monitor.h"
#include "tokmeter/proto_sink.h"
#include "tokmeter/runtime.h"
#include "tokmeter/sinks.h"
#include "tokmeter/span.h"

namespace tokmeter {
namespace {

namespace json = boost::json;

struct Read {
  analysis::InputSummary input;
  int64_t tokens = 0, events = 0;
  std::vector<Finding> findings;
};

Read ReadBack(const std::string& path) {
  Read r;
  analysis::EventStore store;
  absl::StatusOr<analysis::ReadResult> res =
      analysis::ReadInputs({path}, {}, [&](const analysis::UsageEvent& e) {
        if (e.kind != kTurnSummaryRollupKind) {
          r.tokens += e.tokens.total();
          ++r.events;
        }
        store.Add(e);
      });
  EXPECT_TRUE(res.ok()) << res.status();
  if (!res.ok() || res->inputs.empty()) return r;
  r.input = res->inputs[0];
  store.Finish();
  analysis::DetectInput in;
  in.store = &store;
  in.recs = store.records();
  in.inputs = &res->inputs;
  r.findings = analysis::Detect(in);
  return r;
}

TEST(AlertLinesTest, BudgetAlertsAreWrittenAndSkippedByTheReader) {
  const std::string path = ::testing::TempDir() + "/alert_lines.jsonl";
  const std::string pb = ::testing::TempDir() + "/alert_lines.tmpb";
  std::remove(path.c_str());
  std::remove(pb.c_str());
  absl::StatusOr<std::shared_ptr<Monitor>> m =
      Monitor::Create({.budgets = {"session=1000,hard"}, .rules = false});
  ASSERT_TRUE(m.ok()) << m.status();
  {
    Options o;
    o.monitor = *m;
    absl::StatusOr<std::unique_ptr<Sink>> sink = MakeJsonlSink({.path = path});
    ASSERT_TRUE(sink.ok()) << sink.status();
    o.sinks.push_back(*std::move(sink));
    absl::StatusOr<std::unique_ptr<Sink>> proto_sink = MakeProtobufSink({.path = pb});
    ASSERT_TRUE(proto_sink.ok()) << proto_sink.status();
    o.sinks.push_back(*std::move(proto_sink));
    auto rt = Runtime::Start(std::move(o));
    ASSERT_TRUE(rt.ok()) << rt.status();
    // 600 + 600 tokens in s1: 50 % at the first, 80 % and 100 % at the second.
    for (int i = 0; i < 2; ++i) {
      Span s("llm", "chat");
      s.Tag("session", "s1").Tag("model", "gpt-5").Add(Counter::kInputTokens, 600);
    }
    ASSERT_TRUE((*rt)->Shutdown().ok());
  }
  std::vector<json::object> alerts;
  int spans = 0;
  for (const json::object& l : testing::ReadJsonLines(path)) {
    if (l.at("type").as_string() == "alert") alerts.push_back(l);
    if (l.at("type").as_string() == "span") ++spans;
  }
  EXPECT_EQ(spans, 2);
  ASSERT_EQ(alerts.size(), 3u);
  const double thresholds[] = {0.5, 0.8, 1.0};
  const double consumed[] = {600, 1200, 1200};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(alerts[i].at("rule").as_string(), "budget");
    EXPECT_EQ(alerts[i].at("subject").as_string(), "session s1");
    EXPECT_EQ(alerts[i].at("budget").as_string(), "session=1000,hard");
    EXPECT_EQ(alerts[i].at("keys").at("session").as_string(), "s1");
    EXPECT_EQ(alerts[i].at("threshold").to_number<double>(), thresholds[i]);
    EXPECT_EQ(alerts[i].at("evidence").at("consumed").to_number<double>(), consumed[i]);
    EXPECT_EQ(alerts[i].at("tokens").as_int64(), int64_t(consumed[i]));
    EXPECT_TRUE(alerts[i].contains("trace_id"));
    EXPECT_FALSE(alerts[i].at("message").as_string().empty());
  }
  EXPECT_EQ(alerts[2].at("severity").as_string(), "critical");

  const Read r = ReadBack(path);
  EXPECT_EQ(r.input.skipped_lines, 0);
  EXPECT_EQ(r.events, 2);
  EXPECT_EQ(r.tokens, 1200);
  for (const Finding& f : r.findings) EXPECT_NE(f.kind, "data_gap") << f.recommendation;

  // The protobuf file of the same run reads the same.
  const Read p = ReadBack(pb);
  EXPECT_EQ(p.input.format, "tokmeter-proto");
  EXPECT_EQ(p.input.skipped_lines, 0);
  EXPECT_EQ(p.events, 2);
  EXPECT_EQ(p.tokens, 1200);
}

TEST(AlertLinesTest, FileThatStartsWithAnAlertLineIsStillTokmeterJsonl) {
  const std::string path = ::testing::TempDir() + "/alert_first.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    out << R"({"type":"alert","timestamp":"2026-11-23T10:00:00.000000000Z","rule":"loop",)"
           R"("severity":"warning","subject":"session a","keys":{"session":"a"},"tokens":5,)"
           R"("evidence":{"repeats":5},"condition":"c","message":"m"})"
        << "\n"
        << R"({"type":"span","timestamp":"2026-11-23T10:00:01.000000000Z","duration_ms":1,)"
           R"("trace_id":"0123456789abcdef0123456789abcdef","span_id":"0000000000000001",)"
           R"("kind":"llm","name":"chat","session":"a","input_tokens":70,"output_tokens":30})"
        << "\n";
  }
  const Read r = ReadBack(path);
  EXPECT_EQ(r.input.format, "tokmeter");
  EXPECT_EQ(r.input.skipped_lines, 0);
  EXPECT_EQ(r.input.records, 1);
  EXPECT_EQ(r.tokens, 100);
}

}  // namespace
}  // namespace tokmeter
