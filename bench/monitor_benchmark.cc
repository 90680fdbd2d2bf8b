// The live monitor (tokmeter/monitor.h): what it costs the agent's threads
// (span hot path with a monitor configured, the guard), what the flusher
// thread sustains (Monitor::Process), and how soon an alert arrives.
// Each figure has a peer measured in the same process:
//   BM_SpanMonitor        vs BM_SpanNoMonitor (the same span, no monitor)
//   BM_Guard*             vs BM_GuardNoMonitor (no monitor running)
//   BM_MonitorProcess     vs rules off (budgets only) and BM_FormatBatch
//                          (the JSONL sink's formatting of the same batch)
//   BM_AlertLatency       vs the flush interval it is bound by
//
// Run with --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// (scripts/bench does) and read the medians.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_span.h"
#include "benchmark/benchmark.h"
#include "tokmeter/monitor.h"
#include "tokmeter/tokmeter.h"

namespace {

using tokmeter::Counter;

// Ten budgets: total, cost, session, job and model scopes; day, month and
// lifetime periods; one hard.
const std::vector<std::string>& TenBudgets() {
  static const auto* b = new std::vector<std::string>{
      "total=300M/month", "total=20M/day",
      "cost=500/day",     "cost=5000/month",
      "session=2M,hard",  "session=1M/day",
      "job=1M/day",       "job:heartbeat=200k/day",
      "model=100M/month", "model:claude-opus-4=10M/day",
  };
  return *b;
}

std::shared_ptr<tokmeter::Monitor> MakeMonitor(
    bool rules, std::vector<std::string> budgets,
    std::function<void(const tokmeter::AlertRecord&)> on_alert = nullptr) {
  tokmeter::MonitorOptions mo;
  mo.budgets = std::move(budgets);
  mo.rules = rules;
  mo.on_alert = std::move(on_alert);
  auto m = tokmeter::Monitor::Create(std::move(mo));
  if (!m.ok()) {
    std::fprintf(stderr, "monitor_benchmark: %s\n", m.status().ToString().c_str());
    std::abort();
  }
  return *m;
}

std::unique_ptr<tokmeter::Runtime>& Rt() {
  static auto* rt = new std::unique_ptr<tokmeter::Runtime>;
  return *rt;
}

std::unique_ptr<tokmeter::Sink> NullSink() {
  return std::make_unique<tokmeter::CallbackSink>([](const tokmeter::Batch&) {});
}

void StopRuntime() {
  if (Rt()) {
    (void)Rt()->Shutdown();
    Rt().reset();
  }
}

// ---- The span hot path, with and without a monitor ---------------------------------

// The span of core_benchmark.cc (4 counters, 3 short tags; 4,000 tokens read
// from the cache) inside a session trace, so every budget scope and rule has
// something to key on.
using tokmeter::bench::EventValues;
using tokmeter::bench::RecordEvent;
EventValues Values() { return tokmeter::bench::Values(/*cache_read=*/4000); }

// As BM_SpanEnabled: flusher asleep (1 h interval), the rings drained
// synchronously every kBatch spans with the clock paused — so the monitor's
// pass (on the draining thread here, on the flusher normally) is not in the
// figure, only what a monitor configured changes on the producer's path.
constexpr int kBatch = 2048;

void StartQuiet(std::shared_ptr<tokmeter::Monitor> monitor) {
  tokmeter::Options o;
  o.sinks.push_back(NullSink());
  o.flush_interval = std::chrono::hours(1);
  o.high_water = 0.9;
  o.monitor = std::move(monitor);
  auto rt = tokmeter::Runtime::Start(std::move(o));
  if (!rt.ok()) std::abort();
  Rt() = std::move(*rt);
}
void SetupWithMonitor(const benchmark::State&) { StartQuiet(MakeMonitor(true, TenBudgets())); }
void SetupNoMonitor(const benchmark::State&) { StartQuiet(nullptr); }
void Teardown(const benchmark::State&) { StopRuntime(); }

void SpanLoop(benchmark::State& state) {
  const EventValues v = Values();
  TOK_TRACE_NAMED(trace, "session", "s-bench");
  trace.Tag("session", "s-bench").Tag("channel", "cli");
  RecordEvent(v);
  (void)tokmeter::Flush();
  int64_t n = 0;
  for (auto _ : state) {
    RecordEvent(v);
    if (++n % kBatch == 0) {
      state.PauseTiming();
      (void)tokmeter::Flush();
      state.ResumeTiming();
    }
  }
  (void)tokmeter::Flush();
  state.counters["dropped"] = static_cast<double>(Rt()->stats().dropped);
}
void BM_SpanMonitor(benchmark::State& state) { SpanLoop(state); }
void BM_SpanNoMonitor(benchmark::State& state) { SpanLoop(state); }
BENCHMARK(BM_SpanNoMonitor)->Setup(SetupNoMonitor)->Teardown(Teardown)->UseRealTime();
BENCHMARK(BM_SpanMonitor)->Setup(SetupWithMonitor)->Teardown(Teardown)->UseRealTime();

// ---- The guard -----------------------------------------------------------------------

// A monitor whose budgets some scopes have used up: "session=1k,hard" over
// `denied` sessions (d-0 … d-N), pushed through Process directly.
std::shared_ptr<tokmeter::Monitor>& GuardMonitor() {
  static auto* m = new std::shared_ptr<tokmeter::Monitor>;
  return *m;
}
void StartGuardMonitor(int denied) {
  std::vector<std::string> budgets = TenBudgets();
  budgets.push_back("session=1k,hard");
  auto m = MakeMonitor(true, budgets);
  m->OnStart();
  std::deque<std::string> names;
  std::vector<tokmeter::Tag> tags;
  tags.reserve(size_t(denied) + 1);
  tokmeter::Batch batch;
  int64_t t = 1795500000000000000;  // 2026-11-24
  for (int i = 0; i < denied; ++i) {
    names.push_back("d-" + std::to_string(i));
    tags.push_back({"session", tokmeter::TagType::kString, names.back(), 0});
    tokmeter::SpanRecord& s = batch.spans.emplace_back();
    s.trace_id = {1, uint64_t(i) + 1};
    s.span_id = uint64_t(i) + 1;
    s.start_unix_ns = t;
    s.end_unix_ns = t += 1'000'000;
    s.kind = "llm";
    s.name = "messages";
    s.counters.Add(Counter::kInputTokens, 5000);
    s.counters.Add(Counter::kRequests, 1);
    s.tags = std::span<const tokmeter::Tag>(&tags.back(), 1);
  }
  m->Process(batch);
  GuardMonitor() = std::move(m);
}
void SetupGuardAllow(const benchmark::State&) { StartGuardMonitor(0); }
void SetupGuardDenied(const benchmark::State&) { StartGuardMonitor(64); }
void TeardownGuard(const benchmark::State&) {
  if (GuardMonitor()) GuardMonitor()->OnStop();
  GuardMonitor().reset();
}

void BM_GuardNoMonitor(benchmark::State& state) {
  for (auto _ : state) {
    tokmeter::GuardResult g = tokmeter::Guard("session", "s-42");
    benchmark::DoNotOptimize(g);
  }
}
BENCHMARK(BM_GuardNoMonitor);

// Guard(): all traffic.
void BM_GuardGlobal(benchmark::State& state) {
  for (auto _ : state) {
    tokmeter::GuardResult g = tokmeter::Guard();
    benchmark::DoNotOptimize(g);
  }
  if (GuardMonitor()->Findings().empty() && state.range(0) != 0) state.SkipWithError("no denial");
}
BENCHMARK(BM_GuardGlobal)->Setup(SetupGuardAllow)->Teardown(TeardownGuard)->Arg(0);
BENCHMARK(BM_GuardGlobal)->Setup(SetupGuardDenied)->Teardown(TeardownGuard)->Arg(64);

// Guard("session", id) over 64 session ids; with arg 64 every one of them
// is denied (d-0 … d-63), with arg 0 none is and the table is empty. Arg -64:
// 64 sessions denied, but the ones asked about (s-…) are allowed: the probe
// misses.
void BM_GuardSession(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> ids;
  for (int i = 0; i < 64; ++i) ids.push_back((n > 0 ? "d-" : "s-") + std::to_string(i));
  size_t i = 0, denied = 0;
  for (auto _ : state) {
    tokmeter::GuardResult g = tokmeter::Guard("session", ids[i++ & 63]);
    denied += g.denied();
    benchmark::DoNotOptimize(g);
  }
  state.counters["denied_share"] = double(denied) / double(std::max<size_t>(i, 1));
}
BENCHMARK(BM_GuardSession)->Setup(SetupGuardAllow)->Teardown(TeardownGuard)->Arg(0);
BENCHMARK(BM_GuardSession)->Setup(SetupGuardDenied)->Teardown(TeardownGuard)->Arg(64);
BENCHMARK(BM_GuardSession)->Setup(SetupGuardDenied)->Teardown(TeardownGuard)->Arg(-64);

// ---- Monitor::Process throughput ----------------------------------------------------

// Batches as the flusher hands them over: 2,048 spans, one every 100 µs of
// event time (10,000 spans/s of agent traffic). 64 sessions live at once,
// each replaced by a new one after 128 of its spans (~540k tokens: half
// of its daily budget, an info alert each, no verdict); 3 models; every fourth
// span a tool call with a fingerprint (repeats now and then), a job-tagged
// heartbeat every 32nd, a 429 every 500th.
class ProcessFeed {
 public:
  void Next(tokmeter::Batch& batch) {
    batch = tokmeter::Batch{};
    names_.clear();
    tags_.clear();
    tags_.reserve(size_t(kBatch) * 4);
    batch.spans.reserve(kBatch);
    static constexpr std::string_view kModels[] = {"claude-sonnet-4-5", "claude-opus-4",
                                                   "claude-haiku-4-5"};
    for (int i = 0; i < kBatch; ++i, ++n_) {
      const uint64_t slot = n_ % 64;
      const uint64_t session = (n_ / (64 * 128)) * 64 + slot;
      tokmeter::SpanRecord& s = batch.spans.emplace_back();
      s.trace_id = {0x0123456789abcdefULL, session + 1};
      s.span_id = 0x1000000000000000ULL + n_ * 0x9e3779b97f4a7c15ULL;
      s.parent_id = 0x2000000000000000ULL + session;
      s.start_unix_ns = t_;
      s.end_unix_ns = t_ += 100'000;
      const size_t first = tags_.size();
      names_.push_back("s-" + std::to_string(session));
      tags_.push_back({"session", tokmeter::TagType::kString, names_.back(), 0});
      if (n_ % 4 == 3) {
        s.kind = "tool";
        s.name = "Bash";
        s.has_fingerprint = true;
        s.fingerprint = (n_ * 0x9e3779b97f4a7c15ULL) % 97 + 1;
        s.counters.Add(Counter::kToolCalls, 1);
        tags_.push_back({"tool", tokmeter::TagType::kString, "Bash", 0});
      } else {
        s.kind = "llm";
        s.name = "messages";
        s.counters.Add(Counter::kInputTokens, 800 + int64_t(n_ % 97) * 13);
        s.counters.Add(Counter::kOutputTokens, 230);
        s.counters.Add(Counter::kCacheReadTokens, 4000);
        s.counters.Add(Counter::kRequests, 1);
        tags_.push_back({"provider", tokmeter::TagType::kString, "anthropic", 0});
        tags_.push_back({"model", tokmeter::TagType::kString, kModels[n_ % 3], 0});
        tags_.push_back(
            {"status", tokmeter::TagType::kInt, "", n_ % 500 == 499 ? int64_t{429} : 200});
      }
      if (n_ % 32 == 7) tags_.push_back({"job", tokmeter::TagType::kString, "heartbeat", 0});
      s.tags = std::span<const tokmeter::Tag>(tags_.data() + first, tags_.size() - first);
    }
  }

 private:
  uint64_t n_ = 0;
  int64_t t_ = 1795500000000000000;  // 2026-11-24
  std::deque<std::string> names_;
  std::vector<tokmeter::Tag> tags_;
};

void BM_MonitorProcess(benchmark::State& state) {
  const bool rules = state.range(0) != 0;
  auto m = MakeMonitor(rules, TenBudgets());
  ProcessFeed feed;
  tokmeter::Batch batch;
  feed.Next(batch);
  m->Process(batch);  // warm-up pass: the trackers' first allocations
  uint64_t alerts = 0;
  for (auto _ : state) {
    state.PauseTiming();
    feed.Next(batch);
    state.ResumeTiming();
    m->Process(batch);
    alerts += batch.alerts.size();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["alerts/batch"] = double(alerts) / double(state.iterations());
}
BENCHMARK(BM_MonitorProcess)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MonitorProcess)->Arg(0)->Unit(benchmark::kMicrosecond);

// Peer: the JSONL sink's formatting of the same batches.
void BM_FormatBatch(benchmark::State& state) {
  ProcessFeed feed;
  tokmeter::Batch batch;
  std::string out;
  for (auto _ : state) {
    state.PauseTiming();
    feed.Next(batch);
    out.clear();
    state.ResumeTiming();
    tokmeter::AppendJsonl(batch, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_FormatBatch)->Unit(benchmark::kMicrosecond);

// ---- Alert latency -----------------------------------------------------------------

// From span close to the alert: a runtime with a 5 ms flush interval and a
// monitor whose "session=1k,hard" budget every new session's first span
// crosses. A producer closes one such span every 0–5 ms (uniform, so its
// phase against the flusher varies), stamping the steady clock just before
// the close; the on_alert callback (on the monitor's callback thread) and a
// sink (which sees the alert in the batch) stamp theirs on arrival. p50 and
// p99 of both, in ms; target <= flush interval + 1 ms.
constexpr auto kLatencyInterval = std::chrono::milliseconds(5);
void BM_AlertLatency(benchmark::State& state) {
  constexpr int kSpans = 200;
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> closed(kSpans);
  std::vector<double> to_callback, to_batch;
  std::mutex mu;
  auto index_of = [](const tokmeter::AlertRecord& a) -> int {
    if (a.finding.kind != "budget") return -1;
    std::string_view s = a.finding.Key("session");
    if (s.size() < 3 || s.substr(0, 2) != "l-") return -1;
    return std::atoi(std::string(s.substr(2)).c_str());
  };
  auto record = [&](std::vector<double>& into, const tokmeter::AlertRecord& a) {
    const auto now = Clock::now();
    const int i = index_of(a);
    if (i < 0 || i >= kSpans) return;
    std::lock_guard<std::mutex> l(mu);
    into.push_back(std::chrono::duration<double, std::milli>(now - closed[size_t(i)]).count());
  };
  std::vector<std::string> names;
  for (int i = 0; i < kSpans; ++i) names.push_back("l-" + std::to_string(i));
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  for (auto _ : state) {
    auto m = MakeMonitor(false, {"session=1k,hard"},
                         [&](const tokmeter::AlertRecord& a) { record(to_callback, a); });
    tokmeter::Options o;
    o.sinks.push_back(std::make_unique<tokmeter::CallbackSink>([&](const tokmeter::Batch& b) {
      for (const auto& a : b.alerts) record(to_batch, a);
    }));
    o.flush_interval = kLatencyInterval;
    o.monitor = m;
    auto rt = tokmeter::Runtime::Start(std::move(o));
    if (!rt.ok()) std::abort();
    { TOK_SPAN("tool", "register"); }
    for (int i = 0; i < kSpans; ++i) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      std::this_thread::sleep_for(std::chrono::microseconds(rng % 5000));
      {
        TOK_SPAN_NAMED(span, "llm", "messages");
        span.Add(Counter::kInputTokens, 5000).Add(Counter::kRequests, 1);
        span.Tag("session", names[size_t(i)]);
        closed[size_t(i)] = Clock::now();
      }
    }
    std::this_thread::sleep_for(4 * kLatencyInterval);
    (void)(*rt)->Shutdown();
    m.reset();  // joins the callback thread: every callback made
  }
  auto pct = [](std::vector<double> v, double p) {
    if (v.empty()) return -1.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
  };
  state.counters["flush_ms"] = double(kLatencyInterval.count());
  state.counters["callback_p50_ms"] = pct(to_callback, 0.50);
  state.counters["callback_p99_ms"] = pct(to_callback, 0.99);
  state.counters["batch_p50_ms"] = pct(to_batch, 0.50);
  state.counters["batch_p99_ms"] = pct(to_batch, 0.99);
  state.counters["alerts"] = double(to_callback.size()) / double(state.iterations());
}
BENCHMARK(BM_AlertLatency)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
