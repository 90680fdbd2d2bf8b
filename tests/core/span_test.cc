// Spans, traces, context, roll-ups and the runtime's lifecycle, checked
// through the memory sink.
#include "tokmeter/span.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/test_util.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

using testing::StartMemory;

const OwnedSpan* Find(const std::vector<OwnedSpan>& spans, std::string_view name) {
  for (const auto& s : spans)
    if (s.name == name) return &s;
  return nullptr;
}

TEST(SpanTest, NoOpBeforeStartAndAfterShutdown) {
  ASSERT_FALSE(IsRecording());
  {
    TOK_SPAN_NAMED(s, "llm", "before");
    EXPECT_FALSE(s.recording());
    s.Add(Counter::kInputTokens, 5).Tag("model", "x");
    EXPECT_FALSE(Current().recording());
  }
  auto m = StartMemory();
  ASSERT_TRUE(m.runtime->Shutdown().ok());
  {
    TOK_TRACE_NAMED(t, "session", "after");
    EXPECT_FALSE(t.recording());
    t.Tag("channel", "x");
  }
  EXPECT_TRUE(m.sink->spans().empty());
  EXPECT_TRUE(Flush().ok());  // no runtime: OK, nothing to do
}

TEST(SpanTest, CountersAndTagsRoundTripExactly) {
  auto m = StartMemory();
  {
    TOK_SPAN_NAMED(s, "llm", "messages");
    s.Add(Counter::kInputTokens, 12)
        .Add(Counter::kInputTokens, 30)  // counters add up: 42
        .Add(Counter::kOutputTokens, 230)
        .Add(Counter::kCacheReadTokens, 40000)
        .Add(Counter::kRequests, 1)
        .Add("web_search_requests", 2)
        .Add("web_search_requests", 3)  // user counters sum by name: 5
        .Tag("provider", "anthropic")
        .Tag("model", "claude-old")
        .Tag("model", "claude-sonnet-4-5")  // last value wins
        .Tag("status", 200)
        .Tag("streaming", true)
        .Tag("attempt", uint16_t{2});
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  ASSERT_EQ(spans.size(), 1u);
  const OwnedSpan& s = spans[0];
  EXPECT_EQ(s.kind, "llm");
  EXPECT_EQ(s.name, "messages");
  EXPECT_EQ(s.counters[Counter::kInputTokens], 42);
  EXPECT_EQ(s.counters[Counter::kOutputTokens], 230);
  EXPECT_EQ(s.counters[Counter::kCacheReadTokens], 40000);
  EXPECT_EQ(s.counters[Counter::kRequests], 1);
  EXPECT_FALSE(s.counters.has(Counter::kErrors));
  ASSERT_EQ(s.user_counters.size(), 1u);
  EXPECT_EQ(s.user_counters[0], (std::pair<std::string, int64_t>("web_search_requests", 5)));
  EXPECT_EQ(s.tag("provider"), "anthropic");
  EXPECT_EQ(s.tag("model"), "claude-sonnet-4-5");
  EXPECT_EQ(s.tags.size(), 5u);
  EXPECT_EQ(s.tag("status"), "200");
  EXPECT_EQ(s.tag("streaming"), "true");
  EXPECT_EQ(s.tag("attempt"), "2");
  EXPECT_GT(s.end_unix_ns, s.start_unix_ns);
  EXPECT_EQ(s.thread_id, static_cast<uint32_t>(gettid()));
}

TEST(SpanTest, TimestampsAreWallClock) {
  auto m = StartMemory();
  auto before = std::chrono::system_clock::now().time_since_epoch();
  {
    TOK_SPAN("tool", "sleep");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto after = std::chrono::system_clock::now().time_since_epoch();
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  ASSERT_EQ(spans.size(), 1u);
  int64_t b = std::chrono::duration_cast<std::chrono::nanoseconds>(before).count();
  int64_t a = std::chrono::duration_cast<std::chrono::nanoseconds>(after).count();
  // Converted TSC times fall inside the wall-clock window (1 ms slack for
  // the calibration error), and the duration covers the 20 ms sleep.
  EXPECT_GE(spans[0].start_unix_ns, b - 1000000);
  EXPECT_LE(spans[0].end_unix_ns, a + 1000000);
  EXPECT_GE(spans[0].end_unix_ns - spans[0].start_unix_ns, 19000000);
  EXPECT_LE(spans[0].end_unix_ns - spans[0].start_unix_ns, a - b + 1000000);
}

TEST(SpanTest, LongKeysAndValuesAreCutAtUtf8Boundaries) {
  auto m = StartMemory();
  std::string long_value;
  for (int i = 0; i < 3000; ++i) long_value += "é";  // 6000 bytes, 2 per char
  std::string long_name(300, 'n');
  {
    TOK_SPAN_NAMED(s, "tool", long_name);
    for (int i = 0; i < 40; ++i) s.Tag("k" + std::to_string(i), "value-" + std::to_string(i));
    s.Tag("long", long_value);
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name, long_name);   // names up to 4096 bytes are kept whole
  EXPECT_EQ(spans[0].tags.size(), 41u);  // overflowed the inline buffer: nothing lost
  EXPECT_EQ(spans[0].tag("k39"), "value-39");
  // 4096 bytes is 2048 "é": cut on a character boundary.
  EXPECT_EQ(spans[0].tag("long").size(), 4096u);
  EXPECT_EQ(spans[0].tag("long"), long_value.substr(0, 4096));
}

TEST(SpanTest, NonLiteralStringsAreCopiedWhenPassed) {
  auto m = StartMemory();
  char buf[16] = "first";  // writable array: copied, not kept by address
  std::string dynamic = "dyn";
  {
    // The temporary name dies at the end of this declaration.
    Span s("tool", std::string("temp-") + "name");
    s.Tag("buf", buf).Tag("dyn", dynamic).Tag(std::string("key-") + "1", "literal");
    std::strcpy(buf, "changed");
    dynamic = "changed";
    std::string big(300, 'x');  // reuse the temporaries' memory
  }
  {
    // A runtime kind beside a literal name (literals travel by address).
    Span s(std::string("ll") + "m", "messages");
    std::string big(300, 'y');
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  ASSERT_EQ(m.sink->spans().size(), 2u);
  const OwnedSpan s = m.sink->spans().at(0);  // a copy: spans() returns by value
  EXPECT_EQ(s.kind, "tool");
  EXPECT_EQ(s.name, "temp-name");
  EXPECT_EQ(m.sink->spans().at(1).kind, "llm");
  EXPECT_EQ(m.sink->spans().at(1).name, "messages");
  EXPECT_EQ(s.tag("buf"), "first");
  EXPECT_EQ(s.tag("dyn"), "dyn");
  EXPECT_EQ(s.tag("key-1"), "literal");
}

// Spans whose tags and user counters are the same bytes as the span before
// them share one decoding: each keeps its own kind, name and counters, and
// a sink sees the shared tags at one address.
TEST(SpanTest, SpansWithTheSameItemsShareOneDecoding) {
  std::vector<OwnedSpan> spans;
  std::vector<bool> same_tags_as_previous;
  Options opts;
  opts.sinks.push_back(std::make_unique<CallbackSink>([&](const Batch& b) {
    for (size_t i = 0; i < b.spans.size(); ++i) {
      spans.push_back(ToOwned(b.spans[i]));
      same_tags_as_previous.push_back(i > 0 &&
                                      b.spans[i].tags.data() == b.spans[i - 1].tags.data());
    }
  }));
  auto rt = Runtime::Start(std::move(opts));
  ASSERT_TRUE(rt.ok()) << rt.status();
  {
    Span s("llm", "a");
    s.Tag("provider", "x").Add(Counter::kInputTokens, 1).Add("u", 3);
  }
  {  // the same items under another (literal) kind and name
    Span s("tool", "b");
    s.Tag("provider", "x").Add(Counter::kInputTokens, 2).Add("u", 3);
  }
  for (int i = 0; i < 2; ++i) {  // a kind that is not a literal travels among the items
    Span s(std::string("dy") + "n", "c");
    s.Tag("provider", "x").Add("u", 3);
  }
  {  // the items of the first span again, after spans whose items held a kind
    Span s("llm", "e");
    s.Tag("provider", "x").Add("u", 3);
  }
  {  // another tag value
    Span s("llm", "f");
    s.Tag("provider", "y").Add("u", 3);
  }
  ASSERT_TRUE((*rt)->Shutdown().ok());
  ASSERT_EQ(spans.size(), 6u);
  const char* kinds[] = {"llm", "tool", "dyn", "dyn", "llm", "llm"};
  const char* names[] = {"a", "b", "c", "c", "e", "f"};
  const char* providers[] = {"x", "x", "x", "x", "x", "y"};
  for (size_t i = 0; i < spans.size(); ++i) {
    EXPECT_EQ(spans[i].kind, kinds[i]) << i;
    EXPECT_EQ(spans[i].name, names[i]) << i;
    EXPECT_EQ(spans[i].tag("provider"), providers[i]) << i;
    ASSERT_EQ(spans[i].user_counters.size(), 1u) << i;
    EXPECT_EQ(spans[i].user_counters[0], (std::pair<std::string, int64_t>{"u", 3})) << i;
  }
  EXPECT_EQ(spans[0].counters[Counter::kInputTokens], 1);
  EXPECT_EQ(spans[1].counters[Counter::kInputTokens], 2);
  EXPECT_EQ(same_tags_as_previous, (std::vector<bool>{false, true, false, true, false, false}));
}

TEST(SpanTest, NestingParentsAndCurrent) {
  auto m = StartMemory();
  uint64_t outer_id, inner_id;
  TraceId trace;
  {
    TOK_TRACE_NAMED(t, "session", "s-1");
    trace = t.trace_id();
    TOK_SPAN_NAMED(outer, "tool", "outer");
    outer_id = outer.span_id();
    EXPECT_EQ(Current().span_id(), outer_id);
    {
      TOK_SPAN_NAMED(inner, "llm", "inner");
      inner_id = inner.span_id();
      EXPECT_EQ(Current().span_id(), inner_id);
      // Code that did not open the span adds to it.
      Current().Add(Counter::kOutputTokens, 7);
    }
    EXPECT_EQ(Current().span_id(), outer_id);
  }
  EXPECT_FALSE(Current().recording());
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  ASSERT_EQ(spans.size(), 3u);
  const OwnedSpan* root = Find(spans, "s-1");
  const OwnedSpan* outer = Find(spans, "outer");
  const OwnedSpan* inner = Find(spans, "inner");
  ASSERT_TRUE(root && outer && inner);
  EXPECT_TRUE(root->is_trace_root);
  EXPECT_EQ(root->parent_id, 0u);
  EXPECT_EQ(outer->parent_id, root->span_id);
  EXPECT_EQ(inner->parent_id, outer_id);
  EXPECT_EQ(inner->span_id, inner_id);
  EXPECT_EQ(inner->counters[Counter::kOutputTokens], 7);
  for (const auto& s : spans) EXPECT_EQ(s.trace_id, trace);
}

TEST(SpanTest, TraceTagsAreStoredOnceAndResolvedOnEverySpan) {
  auto m = StartMemory();
  {
    TOK_TRACE_NAMED(t, "session", "s-42");
    t.Tag("channel", "discord").Tag("heartbeat", false).Tag("user", "ann");
    TOK_SPAN("llm", "a");
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  for (const auto& s : m.sink->spans()) {
    EXPECT_EQ(s.trace_tag("channel"), "discord") << s.name;
    EXPECT_EQ(s.trace_tag("heartbeat"), "false");
    EXPECT_EQ(s.trace_tag("user"), "ann");
    EXPECT_TRUE(s.tags.empty());  // not copied into the span's own tags
  }
}

TEST(SpanTest, TraceIdIsTheSessionTagUnlessOneIsGiven) {
  // Trace records as the sinks get them: the latest `session` tag per trace.
  std::vector<std::pair<std::string, std::string>> trace_sessions;  // (trace name, session)
  Options opts;
  opts.sinks.push_back(std::make_unique<CallbackSink>([&](const Batch& b) {
    for (const TraceRecord& t : b.traces) {
      std::string session = "(none)";
      for (const Tag& tag : t.tags)
        if (tag.key == "session") session = std::string(tag.str);
      trace_sessions.emplace_back(std::string(t.name), session);
    }
  }));
  auto m = StartMemory(std::move(opts));
  {
    TOK_TRACE("session", "s-42");  // no session tag: the id is the session
    TOK_SPAN("llm", "in-s-42");
  }
  {
    TOK_TRACE_NAMED(t, "turn", "turn-7");
    t.Tag("session", "s-43");  // given: it wins
    TOK_SPAN("llm", "in-turn-7");
  }
  {
    TOK_TRACE_NAMED(t, "job", "nightly");
    TOK_SPAN_NAMED(s, "llm", "in-nightly");
    s.TraceTag("session", "s-44");  // given later, from a span: it wins too
  }
  ASSERT_TRUE(m.runtime->Shutdown().ok());  // no flusher pass runs after: trace_sessions is ours
  const auto spans = m.sink->spans();
  EXPECT_EQ(Find(spans, "in-s-42")->trace_tag("session"), "s-42");
  EXPECT_EQ(Find(spans, "s-42")->trace_tag("session"), "s-42");  // the root too
  EXPECT_EQ(Find(spans, "in-turn-7")->trace_tag("session"), "s-43");
  EXPECT_EQ(Find(spans, "in-nightly")->trace_tag("session"), "s-44");
  // The last trace record of each trace (what a reader keeps) says the same.
  std::map<std::string, std::string> last;
  for (const auto& [name, session] : trace_sessions) last[name] = session;
  EXPECT_EQ(last["s-42"], "s-42");
  EXPECT_EQ(last["turn-7"], "s-43");
  EXPECT_EQ(last["nightly"], "s-44");
}

TEST(SpanTest, FanOutKeepsTraceAndRollsUpAcrossThreads) {
  auto m = StartMemory();
  TraceId trace;
  {
    TOK_TRACE_NAMED(t, "session", "s-1");
    trace = t.trace_id();
    TOK_SPAN_NAMED(turn, "turn", "turn-1");
    turn.Add(Counter::kInputTokens, 100);
    Context ctx = CurrentContext();
    std::vector<std::thread> workers;
    for (int i = 0; i < 4; ++i) {
      workers.emplace_back([ctx, i] {
        TOK_SPAN_IN_NAMED(tool, ctx, "tool", "search-" + std::to_string(i));
        tool.Add(Counter::kToolCalls, 1);
        TOK_SPAN_NAMED(llm, "llm", "summarize");  // nested on the worker
        llm.Add(Counter::kInputTokens, 10).Add(Counter::kOutputTokens, 3);
        if (i == 0) llm.Add(Counter::kRateLimited, 1).Add(Counter::kRetries, 2);
      });
    }
    for (auto& w : workers) w.join();
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  ASSERT_EQ(spans.size(), 10u);  // root + turn + 4 tools + 4 llm
  const OwnedSpan* turn = Find(spans, "turn-1");
  ASSERT_NE(turn, nullptr);
  int tools = 0;
  for (const auto& s : spans) {
    EXPECT_EQ(s.trace_id, trace);
    if (s.kind == "tool") {
      ++tools;
      EXPECT_EQ(s.parent_id, turn->span_id);
    }
  }
  EXPECT_EQ(tools, 4);
  auto rollups = m.sink->rollups();
  ASSERT_EQ(rollups.size(), 2u);
  const OwnedRollup* turn_sum = nullptr;
  const OwnedRollup* trace_sum = nullptr;
  for (const auto& r : rollups) (r.scope == "turn" ? turn_sum : trace_sum) = &r;
  ASSERT_TRUE(turn_sum && trace_sum);
  // Turn: itself (100 in) + 4 tools (1 call each) + 4 llm (10 in, 3 out).
  EXPECT_EQ(turn_sum->span_id, turn->span_id);
  EXPECT_EQ(turn_sum->spans, 9);
  EXPECT_EQ(turn_sum->totals[Counter::kInputTokens], 140);
  EXPECT_EQ(turn_sum->totals[Counter::kOutputTokens], 12);
  EXPECT_EQ(turn_sum->totals[Counter::kToolCalls], 4);
  EXPECT_EQ(turn_sum->totals[Counter::kRateLimited], 1);
  EXPECT_EQ(turn_sum->totals[Counter::kRetries], 2);
  // Trace: the same plus the root span itself.
  EXPECT_EQ(trace_sum->spans, 10);
  EXPECT_EQ(trace_sum->totals[Counter::kInputTokens], 140);
  EXPECT_EQ(trace_sum->name, "s-1");
  EXPECT_EQ(trace_sum->end_unix_ns - trace_sum->start_unix_ns,
            Find(spans, "s-1")->end_unix_ns - Find(spans, "s-1")->start_unix_ns);
}

TEST(SpanTest, NestedTurnsRollUpIntoTheOuterTurn) {
  auto m = StartMemory();
  {
    TOK_TRACE("session", "s");
    TOK_SPAN_NAMED(outer, "turn", "outer");
    outer.Add(Counter::kOutputTokens, 1);
    {
      TOK_SPAN_NAMED(inner, "turn", "inner");
      TOK_SPAN_NAMED(llm, "llm", "x");
      llm.Add(Counter::kOutputTokens, 10);
    }
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  int64_t inner = -1, outer = -1;
  for (const auto& r : m.sink->rollups()) {
    if (r.name == "inner") inner = r.totals[Counter::kOutputTokens];
    if (r.name == "outer") outer = r.totals[Counter::kOutputTokens];
  }
  EXPECT_EQ(inner, 10);  // llm
  EXPECT_EQ(outer, 11);  // llm + outer's own
}

TEST(SpanTest, FingerprintIsXxh3OfTheBytes) {
  auto m = StartMemory();
  {
    TOK_SPAN_NAMED(s, "tool", "a");
    s.Fingerprint("");
  }
  {
    TOK_SPAN_NAMED(s, "tool", "b");
    s.Fingerprint("{\"q\":\"x\"}");
  }
  {
    TOK_SPAN_NAMED(s, "tool", "c");
    s.Fingerprint("{\"q\":\"x\"}");
  }
  { TOK_SPAN("tool", "d"); }
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  ASSERT_EQ(spans.size(), 4u);
  // XXH3-64 of the empty input is 0x2D06800538D394C2 (xxHash's reference value).
  EXPECT_TRUE(Find(spans, "a")->has_fingerprint);
  EXPECT_EQ(Find(spans, "a")->fingerprint, 0x2D06800538D394C2ull);
  EXPECT_EQ(Find(spans, "b")->fingerprint, Find(spans, "c")->fingerprint);
  EXPECT_NE(Find(spans, "b")->fingerprint, Find(spans, "a")->fingerprint);
  EXPECT_FALSE(Find(spans, "d")->has_fingerprint);
}

TEST(SpanTest, UsageFillsDisjointBuckets) {
  auto m = StartMemory();
  {
    TOK_SPAN_NAMED(s, "llm", "u");
    s.AddUsage(TokenBuckets{.input = 12,
                            .cache_read = 40000,
                            .cache_write_5m = 300,
                            .cache_write_1h = 1500,
                            .output = 230,
                            .reasoning = 90});
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  const OwnedSpan s = m.sink->spans().at(0);  // a copy: spans() returns by value
  EXPECT_EQ(s.counters[Counter::kInputTokens], 12);
  EXPECT_EQ(s.counters[Counter::kCacheReadTokens], 40000);
  EXPECT_EQ(s.counters[Counter::kCacheWriteTokens], 1800);  // 300 + 1500
  EXPECT_EQ(s.counters[Counter::kCacheWrite1hTokens], 1500);
  EXPECT_EQ(s.counters[Counter::kOutputTokens], 230);
  EXPECT_EQ(s.counters[Counter::kReasoningTokens], 90);
}

TEST(SpanTest, SetTimesOverridesTheClock) {
  auto m = StartMemory();
  {
    TOK_SPAN_NAMED(s, "llm", "replayed");
    s.SetTimes(1700000000000000000, 1700000001500000000);
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  const OwnedSpan s = m.sink->spans().at(0);  // a copy: spans() returns by value
  EXPECT_EQ(s.start_unix_ns, 1700000000000000000);
  EXPECT_EQ(s.end_unix_ns, 1700000001500000000);
}

TEST(SpanTest, TraceWithExplicitTimesRollsUpOverThoseTimes) {
  auto m = StartMemory();
  constexpr int64_t kStart = 1700000000000000000, kEnd = 1700000060000000000;  // one minute
  {
    TOK_TRACE_NAMED(t, "job", "replayed");
    t.span().SetTimes(kStart, kEnd);
    TOK_SPAN_NAMED(s, "llm", "x");
    s.SetTimes(kStart + 1000, kStart + 2000).Add(Counter::kOutputTokens, 3);
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto rollups = m.sink->rollups();
  ASSERT_EQ(rollups.size(), 1u);
  EXPECT_EQ(rollups[0].start_unix_ns, kStart);  // not the wall clock of the Trace object
  EXPECT_EQ(rollups[0].end_unix_ns, kEnd);
  EXPECT_EQ(rollups[0].totals[Counter::kOutputTokens], 3);
}

TEST(SpanTest, DropsOfAnEarlierRuntimeAreNotReportedAgain) {
  {
    // high_water 1: no early wake, so the flusher (hourly) cannot make room.
    auto first = StartMemory(
        Options{.flush_interval = std::chrono::hours(1), .ring_bytes = 4096, .high_water = 1});
    for (int i = 0; i < 1000; ++i) {
      TOK_SPAN("llm", "x");  // ~35 fit: the rest are dropped and counted
    }
    ASSERT_TRUE(first.runtime->Shutdown().ok());
    EXPECT_GT(first.sink->total_dropped(), 0u);
    EXPECT_EQ(first.sink->spans().size() + first.sink->total_dropped(), 1000u);
  }
  auto second = StartMemory(Options{.ring_bytes = 4096});  // same ring size: the ring is reused
  { TOK_SPAN("llm", "y"); }
  ASSERT_TRUE(second.runtime->Flush().ok());
  EXPECT_EQ(second.sink->spans().size(), 1u);
  EXPECT_EQ(second.sink->total_dropped(), 0u);
  EXPECT_EQ(second.runtime->stats().dropped, 0u);
}

TEST(SpanTest, SecondRuntimeIsRefusedAndRestartWorks) {
  auto m = StartMemory();
  auto second = Runtime::Start({});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  m.runtime.reset();
  auto again = StartMemory();
  { TOK_SPAN("llm", "after-restart"); }
  ASSERT_TRUE(again.runtime->Flush().ok());
  EXPECT_EQ(again.sink->spans().size(), 1u);
}

TEST(SpanTest, BadOptionsAreRejected) {
  EXPECT_EQ(Runtime::Start(Options{.ring_bytes = 16}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Runtime::Start(Options{.high_water = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  Options o;
  o.sinks.push_back(nullptr);
  EXPECT_EQ(Runtime::Start(std::move(o)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpanTest, ShutdownDrainsPendingData) {
  auto m = StartMemory(Options{.flush_interval = std::chrono::hours(1)});
  {
    TOK_TRACE("session", "s");
    TOK_SPAN("turn", "t");
    for (int i = 0; i < 1000; ++i) {
      TOK_SPAN_NAMED(s, "llm", "x");
      s.Add(Counter::kInputTokens, 1);
    }
  }
  // The flusher sleeps for an hour: nothing was written yet.
  ASSERT_TRUE(m.runtime->Shutdown().ok());
  EXPECT_EQ(m.sink->spans().size(), 1002u);
  EXPECT_EQ(m.sink->rollups().size(), 2u);  // turn and trace roll-ups too
}

class ThrowingSink : public Sink {
 public:
  std::string_view name() const override { return "throwing"; }
  absl::Status Write(const Batch&) override { throw std::runtime_error("boom"); }
};

TEST(SpanTest, ThrowingSinkNeverStopsTheOthers) {
  std::vector<std::string> errors;
  std::mutex mu;
  Options o;
  o.sinks.push_back(std::make_unique<ThrowingSink>());
  o.on_error = [&](std::string_view sink, const absl::Status& st) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(std::string(sink) + ": " + std::string(st.message()));
  };
  auto m = StartMemory(std::move(o));
  for (int i = 0; i < 3; ++i) {
    { TOK_SPAN("llm", "x"); }
    ASSERT_TRUE(m.runtime->Flush().ok());
  }
  EXPECT_EQ(m.sink->spans().size(), 3u);
  EXPECT_GE(m.runtime->stats().sink_errors, 3u);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0], "throwing: sink threw: boom");
}

TEST(SpanTest, ForkedChildRecordsWithItsOwnFlusher) {
#if defined(__SANITIZE_THREAD__)
  // Runs in the normal and ASan/UBSan builds. ThreadSanitizer cannot follow a
  // thread started in the child of a multi-threaded fork ("dup thread with
  // used id"), and the child must start its flusher thread.
  GTEST_SKIP() << "ThreadSanitizer does not support threads started after a multi-threaded fork";
#endif
  char path[] = "/tmp/tokmeter_fork_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    Options o;
    o.sinks.push_back(*MakeJsonlSink({.path = path}));
    auto rt = Runtime::Start(std::move(o));
    ASSERT_TRUE(rt.ok());
    { TOK_SPAN("llm", "parent-before"); }
    ASSERT_TRUE((*rt)->Flush().ok());
    { TOK_SPAN("llm", "parent-pending"); }  // in the ring at fork time
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < 100; ++i) {
        TOK_SPAN("llm", "child");
      }
      bool ok = (*rt)->Flush().ok();
      rt->reset();
      _exit(ok ? 0 : 1);
    }
    for (int i = 0; i < 100; ++i) {
      TOK_SPAN("llm", "parent-after");
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }  // parent shuts down here
  FILE* f = fopen(path, "r");
  ASSERT_NE(f, nullptr);
  int child = 0, parent_after = 0, parent_pending = 0, before = 0, lines = 0;
  char buf[4096];
  while (fgets(buf, sizeof(buf), f)) {
    std::string line(buf);
    ++lines;
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.front(), '{');  // whole lines only: never interleaved
    if (line.find("\"name\":\"child\"") != std::string::npos) ++child;
    if (line.find("\"parent-after\"") != std::string::npos) ++parent_after;
    if (line.find("\"parent-pending\"") != std::string::npos) ++parent_pending;
    if (line.find("\"parent-before\"") != std::string::npos) ++before;
  }
  fclose(f);
  unlink(path);
  EXPECT_EQ(child, 100);
  EXPECT_EQ(parent_after, 100);
  EXPECT_EQ(parent_pending, 1);  // written by the parent only, not copied by the child
  EXPECT_EQ(before, 1);
  EXPECT_EQ(lines, 202);
}

}  // namespace
}  // namespace tokmeter
