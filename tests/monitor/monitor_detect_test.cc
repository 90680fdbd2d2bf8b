// The live monitor and `tokmeter detect` agree: a simulated day (interactive
// sessions, a tool loop, a retry storm, a heartbeat job through the night) is
// recorded with a monitor and written as JSONL; the rules run again over the
// file through the analysis reader. Both must name the same (rule, subject)
// findings.
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "src/analysis/detect.h"
#include "src/analysis/reader.h"
#include "src/analysis/store.h"
#include "tests/monitor/monitor_times.h"
#include "tokmeter/monitor.h"
#include "tokmeter/runtime.h"
#include "tokmeter/sinks.h"
#include "tokmeter/span.h"

namespace tokmeter {
namespace {

using testing::At;
using testing::kHour;
using testing::kMinute;
using testing::kSecond;

void Call(std::string_view kind, std::string_view name, int64_t end_ns,
          std::vector<std::pair<std::string, std::string>> tags, int64_t in, int64_t out,
          int status = 0, std::string_view fingerprint = {}) {
  Span s(kind, name);
  for (const auto& [k, v] : tags) s.Tag(k, v);
  s.Tag("model", "claude-sonnet-4-5");
  s.Add(Counter::kInputTokens, in).Add(Counter::kOutputTokens, out);
  if (status != 0) s.Tag("status", status);
  if (!fingerprint.empty()) s.Fingerprint(fingerprint);
  s.SetTimes(end_ns - 2 * kSecond, end_ns);
}

// The day, in time order.
void SimulateDay(int64_t day) {
  for (int64_t t = day; t < day + 24 * kHour; t += 10 * kMinute) {
    const int h = int((t - day) / kHour);
    // The heartbeat session runs all day; nobody else works at night: 12
    // idle hours of 6 x 15,500 tokens, 1.1M, ~13 % of the day's ~8.5M.
    Call("llm", "heartbeat", t + kMinute, {{"session", "hb"}, {"heartbeat", "true"}}, 15000, 500);
    if (h < 8 || h >= 20) continue;
    for (int s = 0; s < 4; ++s) {
      const std::string session = "s" + std::to_string(s);
      Call("llm", "chat", t + (2 + s) * kMinute,
           {{"session", session}, {"user", "u" + std::to_string(s % 2)}},
           20000 + 1000 * s + 100 * h, 800 + 10 * h);
      Call("tool", "grep", t + (2 + s) * kMinute + 5 * kSecond, {{"session", session}}, 0, 0, 0,
           session + std::to_string(t));
    }
  }
  // 10:00-10:08: session "looper" calls the same tool with the same
  // arguments 8 times.
  for (int i = 0; i < 8; ++i)
    Call("tool", "read_file", day + 10 * kHour + i * kMinute + 30 * kSecond,
         {{"session", "looper"}}, 3000, 100, 0, "read_file src/main.cc");
  // 14:00-14:02: twelve 429s.
  for (int i = 0; i < 12; ++i)
    Call("llm", "chat", day + 14 * kHour + i * 10 * kSecond + 45 * kSecond, {{"session", "stormy"}},
         0, 0, 429);
}

std::set<std::pair<std::string, std::string>> Names(const std::vector<Finding>& fs) {
  std::set<std::pair<std::string, std::string>> out;
  for (const Finding& f : fs)
    if (f.kind != "data_gap") out.emplace(f.kind, f.subject);
  return out;
}

TEST(MonitorDetectTest, LiveFindingsEqualDetectOverTheJsonl) {
  const std::string path = ::testing::TempDir() + "/monitor_detect_day.jsonl";
  std::remove(path.c_str());
  absl::StatusOr<std::shared_ptr<Monitor>> m = Monitor::Create({});
  ASSERT_TRUE(m.ok()) << m.status();
  {
    Options o;
    o.flush_interval = std::chrono::minutes(30);
    o.monitor = *m;
    absl::StatusOr<std::unique_ptr<Sink>> sink = MakeJsonlSink({.path = path});
    ASSERT_TRUE(sink.ok()) << sink.status();
    o.sinks.push_back(*std::move(sink));
    absl::StatusOr<std::unique_ptr<Runtime>> rt = Runtime::Start(std::move(o));
    ASSERT_TRUE(rt.ok()) << rt.status();
    SimulateDay(At("2026-11-22T00:00:00Z"));
    ASSERT_TRUE((*rt)->Shutdown().ok());
  }
  const std::vector<Finding> live = (*m)->Findings();

  analysis::EventStore store;
  absl::StatusOr<analysis::ReadResult> read =
      analysis::ReadInputs({path}, {}, [&](const analysis::UsageEvent& e) { store.Add(e); });
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->inputs.size(), 1u);
  EXPECT_EQ(read->inputs[0].skipped_lines, 0);
  store.Finish();
  analysis::DetectInput in;
  in.store = &store;
  in.recs = store.records();
  const std::vector<Finding> offline = analysis::Detect(in);

  const auto a = Names(live), b = Names(offline);
  EXPECT_EQ(a, b);
  // The day's three incidents are among them.
  bool loop = false, storm = false, background = false;
  for (const auto& [kind, subject] : a) {
    loop |= kind == "loop" && subject.starts_with("session looper");
    storm |= kind == "retry_storm";
    background |= kind == "background";
  }
  EXPECT_TRUE(loop) << ::testing::PrintToString(a);
  EXPECT_TRUE(storm) << ::testing::PrintToString(a);
  EXPECT_TRUE(background) << ::testing::PrintToString(a);
}

}  // namespace
}  // namespace tokmeter
