// Many threads, tiny rings, short-lived threads: every record is written
// exactly once or counted as dropped. Also runs under ThreadSanitizer with
// TOKMETER_STRESS_SPANS set lower (scripts/test).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/test_util.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

int64_t SpansPerThread(int64_t def) {
  const char* env = std::getenv("TOKMETER_STRESS_SPANS");
  return env ? std::atoll(env) : def;
}

// Counts spans by (thread index, sequence number) carried in two counters.
class SeenSink : public Sink {
 public:
  SeenSink(int threads, int64_t per_thread)
      : per_thread_(per_thread), seen_(size_t(threads) * size_t(per_thread), 0) {}
  std::string_view name() const override { return "seen"; }
  absl::Status Write(const Batch& b) override {
    for (const SpanRecord& s : b.spans) {
      if (!s.counters.has(Counter::kToolCalls)) continue;
      int64_t t = s.counters[Counter::kToolCalls] - 1;
      int64_t seq = s.counters[Counter::kRequests];
      size_t i = size_t(t * per_thread_ + seq);
      if (t < 0 || seq < 0 || seq >= per_thread_ || i >= seen_.size()) {
        ++bad_;
        continue;
      }
      ++seen_[i];
      ++written_;
    }
    for (const DropRecord& d : b.drops) dropped_ += d.dropped;
    return absl::OkStatus();
  }
  // Read after the runtime flushed; the flusher and readers are ordered by
  // the runtime's pass lock, so plain fields are enough.
  int64_t per_thread_;
  std::vector<uint8_t> seen_;
  int64_t written_ = 0, dropped_ = 0, bad_ = 0;
};

void Produce(int t, int64_t n) {
  for (int64_t seq = 0; seq < n; ++seq) {
    TOK_SPAN_NAMED(s, "llm", "x");
    s.Add(Counter::kToolCalls, t + 1)
        .Add(Counter::kRequests, seq)
        .Add(Counter::kInputTokens, 3)
        .Add(Counter::kOutputTokens, 1);
  }
}

TEST(RuntimeStressTest, EightThreadsEveryRecordExactlyOnce) {
  constexpr int kThreads = 8;
  const int64_t n = SpansPerThread(1000000);
  auto seen = std::make_unique<SeenSink>(kThreads, n);
  SeenSink* sink = seen.get();
  Options o;
  o.sinks.push_back(std::move(seen));
  o.ring_bytes = size_t{8} << 20;
  o.full_ring = FullRingPolicy::kBlock;  // rings large enough: nothing may drop
  auto rt = *Runtime::Start(std::move(o));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(Produce, t, n);
  for (auto& th : threads) th.join();
  ASSERT_TRUE(rt->Flush().ok());
  EXPECT_EQ(sink->bad_, 0);
  EXPECT_EQ(sink->dropped_, 0);
  EXPECT_EQ(sink->written_, kThreads * n);
  int64_t missing = 0, duplicated = 0;
  for (uint8_t c : sink->seen_) {
    missing += c == 0;
    duplicated += c > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(rt->stats().dropped, 0u);
}

TEST(RuntimeStressTest, TinyRingWrittenPlusDroppedEqualsProduced) {
  constexpr int kThreads = 4;
  const int64_t n = SpansPerThread(1000000) / 10;
  auto seen = std::make_unique<SeenSink>(kThreads, n);
  SeenSink* sink = seen.get();
  Options o;
  o.sinks.push_back(std::move(seen));
  o.ring_bytes = 4096;  // ~35 spans: most are dropped
  o.flush_interval = std::chrono::milliseconds(50);
  auto rt = *Runtime::Start(std::move(o));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(Produce, t, n);
  for (auto& th : threads) th.join();
  ASSERT_TRUE(rt->Flush().ok());
  int64_t duplicated = 0;
  for (uint8_t c : sink->seen_) duplicated += c > 1;
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(sink->bad_, 0);
  EXPECT_GT(sink->dropped_, 0);
  EXPECT_EQ(sink->written_ + sink->dropped_, kThreads * n);  // exact, not approximate
  EXPECT_EQ(rt->stats().dropped, uint64_t(sink->dropped_));
}

TEST(RuntimeStressTest, BlockPolicyNeverDropsEvenWithATinyRing) {
  const int64_t n = SpansPerThread(1000000) / 20;
  auto seen = std::make_unique<SeenSink>(2, n);
  SeenSink* sink = seen.get();
  Options o;
  o.sinks.push_back(std::move(seen));
  o.ring_bytes = 4096;
  o.full_ring = FullRingPolicy::kBlock;
  auto rt = *Runtime::Start(std::move(o));
  std::thread a(Produce, 0, n), b(Produce, 1, n);
  a.join();
  b.join();
  ASSERT_TRUE(rt->Flush().ok());
  EXPECT_EQ(sink->dropped_, 0);
  EXPECT_EQ(sink->written_, 2 * n);
}

// A burst (every span at once in one pass) grows the flusher's decode
// buffers; they stay while passes might need them again, and are given back
// once passes have stayed small for a while. Nothing is lost either way.
TEST(RuntimeStressTest, BurstBuffersAreGivenBackOncePassesStaySmall) {
  uint64_t received = 0;  // the sink runs under the runtime's pass lock
  Options o;
  o.sinks.push_back(
      std::make_unique<CallbackSink>([&received](const Batch& b) { received += b.spans.size(); }));
  o.ring_bytes = size_t{16} << 20;  // the burst (~10 MB of records) fits: no drops
  o.high_water = 1.0;
  o.flush_interval = std::chrono::hours(1);  // passes only when flushed
  auto rt = Runtime::Start(std::move(o));
  ASSERT_TRUE(rt.ok()) << rt.status();
  // Spans are recorded on threads that exit (this thread stays unregistered,
  // as the other tests expect).
  auto record = [](uint64_t n) {
    std::thread([n] {
      for (uint64_t i = 0; i < n; ++i) {
        TOK_SPAN("tool", "work");
      }
    }).join();
  };
  auto small_pass = [&] {
    record(1);
    ASSERT_TRUE((*rt)->Flush().ok());  // one pass: the span has no trace to wait for
  };
  constexpr uint64_t kBurst = 100000;
  record(kBurst);
  ASSERT_TRUE((*rt)->Flush().ok());
  EXPECT_EQ(received, kBurst);
  // Each decoded span of the pass is a SpanRecord in the buffers.
  const uint64_t burst_bytes = (*rt)->stats().flusher_buffer_bytes;
  EXPECT_GE(burst_bytes, kBurst * sizeof(SpanRecord));

  for (int i = 0; i < 4; ++i) small_pass();
  EXPECT_EQ((*rt)->stats().flusher_buffer_bytes, burst_bytes);  // kept for now

  for (int i = 0; i < 16; ++i) small_pass();  // 20 small passes in a row
  EXPECT_LT((*rt)->stats().flusher_buffer_bytes, uint64_t{64} << 10);
  EXPECT_EQ(received, kBurst + 20);
  EXPECT_EQ((*rt)->stats().dropped, 0u);
}

TEST(RuntimeStressTest, ThousandShortLivedThreads) {
  auto m = testing::StartMemory(Options{.ring_bytes = 64 * 1024});
  constexpr int kThreads = 1000, kBatch = 50, kPerThread = 10;
  for (int b = 0; b < kThreads / kBatch; ++b) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kBatch; ++i) {
      threads.emplace_back([] {
        for (int k = 0; k < kPerThread; ++k) {
          TOK_SPAN_NAMED(s, "tool", "short");
          s.Add(Counter::kToolCalls, 1);
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  EXPECT_EQ(m.sink->spans().size(), size_t(kThreads * kPerThread));
  EXPECT_EQ(m.sink->total_dropped(), 0u);
  Stats st = m.runtime->stats();
  EXPECT_GE(st.threads, uint64_t(kThreads));
  EXPECT_EQ(st.threads_live, 0u);  // exited threads' rings were drained and freed
}

TEST(RuntimeStressTest, ConcurrentFlushesAndSpans) {
  auto m = testing::StartMemory(
      Options{.flush_interval = std::chrono::milliseconds(1), .full_ring = FullRingPolicy::kBlock});
  std::atomic<bool> done{false};
  std::thread flusher([&] {
    while (!done.load()) ASSERT_TRUE(Flush().ok());
  });
  const int64_t n = SpansPerThread(1000000) / 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([n] {
      TOK_TRACE_NAMED(tr, "session", "s");
      tr.Tag("channel", "x");
      for (int64_t i = 0; i < n; ++i) {
        TOK_SPAN_NAMED(turn, "turn", "t");
        TOK_SPAN_NAMED(s, "llm", "x");
        s.Add(Counter::kInputTokens, 1);
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  flusher.join();
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  EXPECT_EQ(spans.size(), size_t(2 * (2 * n + 1)));
  int64_t turn_inputs = 0, trace_inputs = 0;
  for (const auto& r : m.sink->rollups()) {
    (r.scope == "turn" ? turn_inputs : trace_inputs) += r.totals[Counter::kInputTokens];
  }
  EXPECT_EQ(turn_inputs, 2 * n);
  EXPECT_EQ(trace_inputs, 2 * n);
}

}  // namespace
}  // namespace tokmeter
