// RuleThread (src/rules/rule_thread.h): the engine on its own thread gives
// the findings of the same engine fed on the caller's thread, in the same
// order. Needs only the rules library, so ThreadSanitizer runs it too.
#include "src/rules/rule_thread.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/rules/engine.h"
#include "tests/analysis/test_events.h"
#include "tests/rules/describe.h"

namespace tokmeter::rules {
namespace {

using analysis::testing::With;
using testing::Describe;

constexpr int64_t kSecond = 1'000'000'000;
const int64_t kT0 = analysis::testing::At("2026-11-23T09:00:00Z");

// A day's worth of records (20,000 requests, one every 4 s), in time order: 40 sessions of ordinary
// requests, one session repeating a tool call (six times in a row, each
// after a request: a loop) and one hitting six 429s in four minutes (a
// retry storm). Events view strings kept in `names`.
std::vector<UsageEvent> Traffic(std::deque<std::string>& names) {
  std::vector<UsageEvent> v;
  auto llm = [&](int64_t t, std::string_view session, int64_t input, int64_t status) {
    UsageEvent e = With(analysis::testing::Llm(t, input, 300, 4 * input), "session", session);
    e.status = status;
    e.rate_limited = status == 429 ? 1 : 0;
    v.push_back(e);
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string_view session = names.emplace_back("s-" + std::to_string(i % 40));
    llm(kT0 + int64_t(i) * 4 * kSecond, session, 2000 + (i * 37) % 900, 200);
  }
  for (int i = 0; i < 6; ++i) {
    const int64_t t = kT0 + 3600 * kSecond + int64_t(i) * 20 * kSecond;
    llm(t, "looping", 3000, 200);
    v.push_back(With(analysis::testing::Tool(t + kSecond, "grep", 0xabc), "session", "looping"));
  }
  for (int i = 0; i < 6; ++i)
    llm(kT0 + 7200 * kSecond + int64_t(i) * 40 * kSecond, "storm", 0, 429);
  std::stable_sort(v.begin(), v.end(), [](const UsageEvent& a, const UsageEvent& b) {
    return a.time_unix_ns < b.time_unix_ns;
  });
  return v;
}

Observation Of(const UsageEvent& e) {
  Observation o = FromEvent(e);
  HashKeys(o);
  return o;
}

TEST(RuleThreadTest, SameFindingsAsTheEngineOnTheCallersThread) {
  std::deque<std::string> names;
  const std::vector<UsageEvent> events = Traffic(names);
  // More than the queue holds: the caller waits for the thread on the way.
  ASSERT_GT(events.size(), RuleThread::kBatch * (RuleThread::kMaxQueued + 2));

  RuleEngine direct;
  for (const UsageEvent& e : events) direct.Observe(Of(e));
  const std::vector<Finding> want = direct.Findings();

  // Every other observation written in place (ObserveWith), into batches
  // the thread has emptied and handed back.
  RuleThread threaded;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i % 2 == 0) {
      threaded.Observe(Of(events[i]));
    } else {
      threaded.ObserveWith([&](Observation& o) { o = Of(events[i]); });
    }
  }
  const std::vector<Finding> got = threaded.Finish();

  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(Describe(got[i]), Describe(want[i]));
  // The traffic holds the loop and the storm (the comparison means something).
  int loops = 0, storms = 0;
  for (const Finding& f : got) {
    loops += f.kind == "loop" && f.Key("session") == "looping";
    storms += f.kind == "retry_storm" && f.Key("session") == "storm";
  }
  EXPECT_EQ(loops, 1);
  EXPECT_EQ(storms, 1);
}

TEST(RuleThreadTest, ObservationsFromThreadsTakingTurns) {
  // The reader's emit stage moves between threads; each hands its records
  // over under a lock, in order. Two threads alternate batches of 300.
  std::deque<std::string> names;
  const std::vector<UsageEvent> events = Traffic(names);
  RuleEngine direct;
  for (const UsageEvent& e : events) direct.Observe(Of(e));

  RuleThread threaded;
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0;
  int turn = 0;
  auto feeder = [&](int me) {
    for (;;) {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return turn == me || next >= events.size(); });
      if (next >= events.size()) return;
      for (size_t end = std::min(events.size(), next + 300); next < end; ++next)
        threaded.Observe(Of(events[next]));
      turn = 1 - me;
      cv.notify_all();
    }
  };
  std::thread a(feeder, 0), b(feeder, 1);
  a.join();
  b.join();
  const std::vector<Finding> got = threaded.Finish();
  const std::vector<Finding> want = direct.Findings();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(Describe(got[i]), Describe(want[i]));
}

TEST(RuleThreadTest, DestroyedWithoutFinishStopsTheThread) {
  // A command that fails while reading leaves without Finish(): the
  // destructor stops and joins the thread with batches still queued.
  std::deque<std::string> names;
  const std::vector<UsageEvent> events = Traffic(names);
  {
    RuleThread threaded;
    for (size_t i = 0; i < 3 * RuleThread::kBatch; ++i) threaded.Observe(Of(events[i]));
  }
  SUCCEED();
}

TEST(RuleThreadTest, NothingObservedHasNoFindings) {
  RuleThread threaded;
  EXPECT_TRUE(threaded.Finish().empty());
}

}  // namespace
}  // namespace tokmeter::rules
