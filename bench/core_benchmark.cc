// Capture hot path, flusher drain rate, memory per thread and a sustained-rate
// test (issue 2, item 7). BM_SpanCompiledOut is in
// core_compiled_out_benchmark.cc (built with TOKMETER_ENABLED=0); the spdlog
// peer (bench/peers/) is linked into this binary when spdlog is found, so
// both run in the same process, one after the other.
//
// Run with --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// (scripts/bench does) and read the medians.
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_span.h"
#include "benchmark/benchmark.h"
#include "tokmeter/tokmeter.h"

namespace {

using tokmeter::Counter;

std::unique_ptr<tokmeter::Runtime>& Rt() {
  static auto* rt = new std::unique_ptr<tokmeter::Runtime>;
  return *rt;
}

std::unique_ptr<tokmeter::Sink> NullSink() {
  return std::make_unique<tokmeter::CallbackSink>([](const tokmeter::Batch&) {});
}

// Starts a runtime whose flusher only runs when asked (Flush) or when a ring
// passes `high_water`: the benchmark loops then measure the producer alone.
void StartQuiet(std::unique_ptr<tokmeter::Sink> sink, size_t ring_bytes, double high_water) {
  tokmeter::Options o;
  o.sinks.push_back(std::move(sink));
  o.flush_interval = std::chrono::hours(1);
  o.ring_bytes = ring_bytes;
  o.high_water = high_water;
  auto rt = tokmeter::Runtime::Start(std::move(o));
  if (!rt.ok()) {
    std::fprintf(stderr, "core_benchmark: %s\n", rt.status().ToString().c_str());
    std::abort();
  }
  Rt() = std::move(*rt);
}

void StopRuntime() {
  if (Rt()) {
    (void)Rt()->Shutdown();
    Rt().reset();
  }
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// ---- The span: open + close with 4 counters and 3 short tags ---------------
// (bench/bench_span.h, shared with core_compiled_out_benchmark and
// monitor_benchmark)

using tokmeter::bench::EventValues;
using tokmeter::bench::RecordEvent;
using tokmeter::bench::Values;

// For scale: what the two clock reads of a span cost on their own.
void BM_ClockRdtscPair(benchmark::State& state) {
  for (auto _ : state) {
    uint64_t a = tokmeter::internal::Ticks();
    uint64_t b = tokmeter::internal::Ticks();
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_ClockRdtscPair)->UseRealTime()->Threads(1)->Threads(2);
void BM_ClockSteadyPair(benchmark::State& state) {
  for (auto _ : state) {
    auto a = std::chrono::steady_clock::now();
    auto b = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_ClockSteadyPair)->UseRealTime();

// No runtime: every macro is one acquire load (a plain load on x86-64) and a
// predicted branch.
void BM_SpanDisabled(benchmark::State& state) {
  if (tokmeter::IsRecording()) state.SkipWithError("a runtime is running");
  const EventValues v = Values();
  for (auto _ : state) {
    RecordEvent(v);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SpanDisabled)->UseRealTime()->Threads(1)->Threads(2);

// Spans per batch between synchronous drains: 2,048 spans of ~184 bytes use
// 36 % of the default 1 MiB ring, so the ring never fills and never passes
// the high-water mark while the clock runs; the ring stays cache-warm as it
// does when the flusher keeps up.
constexpr int kBatch = 2048;

// The threads of one BM_SpanEnabled run pause together for each drain.
std::unique_ptr<std::barrier<>>& BatchBarrier() {
  static auto* b = new std::unique_ptr<std::barrier<>>;
  return *b;
}

void SetupEnabled(const benchmark::State& state) {
  BatchBarrier() = std::make_unique<std::barrier<>>(state.threads());
  StartQuiet(NullSink(), size_t{1} << 20, 0.9);
}
void TeardownEnabled(const benchmark::State&) { StopRuntime(); }

// Runtime running, ring 1 MiB (the default), a sink that discards batches.
// Every kBatch spans every thread pauses its clock, they meet at a barrier,
// thread 0 drains the rings synchronously (Flush) and they resume together:
// the measured time is the producers' hot path only, at 1 thread as at 2
// (without the barrier, one thread's drain would read the other's ring
// while that one's clock runs: the flusher's interference, which
// BM_SpanEnabledFlatOut measures). The pause costs ~0.3 ns per span.
void BM_SpanEnabled(benchmark::State& state) {
  const EventValues v = Values();
  RecordEvent(v);  // registers this thread (allocates and touches its ring)
  std::barrier<>& batch = *BatchBarrier();
  batch.arrive_and_wait();
  if (state.thread_index() == 0) (void)tokmeter::Flush();
  batch.arrive_and_wait();
  int64_t n = 0;
  for (auto _ : state) {
    RecordEvent(v);
    if (++n % kBatch == 0) {
      state.PauseTiming();
      batch.arrive_and_wait();
      if (state.thread_index() == 0) (void)tokmeter::Flush();
      batch.arrive_and_wait();
      state.ResumeTiming();
    }
  }
  (void)tokmeter::Flush();
  if (state.thread_index() == 0) {
    tokmeter::Stats s = Rt()->stats();
    state.counters["dropped"] = static_cast<double>(s.dropped);
    state.counters["bytes/span"] =
        s.spans ? static_cast<double>(s.bytes_drained) / static_cast<double>(s.spans) : 0;
  }
}
BENCHMARK(BM_SpanEnabled)
    ->Setup(SetupEnabled)
    ->Teardown(TeardownEnabled)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(2);

// The same span with the flusher running on its default 200 ms interval and
// the drop policy: what an agent thread pays when it records flat out. The
// producer outruns the flusher by far (tens of millions of spans/s against a
// few million), so most records are dropped and the drop path (cheaper: no
// copy) is part of the figure; `drop_share` says how much.
void SetupSteady(const benchmark::State&) {
  tokmeter::Options o;
  o.sinks.push_back(NullSink());
  auto rt = tokmeter::Runtime::Start(std::move(o));
  if (!rt.ok()) std::abort();
  Rt() = std::move(*rt);
}
void BM_SpanEnabledFlatOut(benchmark::State& state) {
  const EventValues v = Values();
  RecordEvent(v);
  for (auto _ : state) RecordEvent(v);
  if (state.thread_index() == 0) {
    (void)tokmeter::Flush();
    tokmeter::Stats s = Rt()->stats();
    state.counters["drop_share"] =
        static_cast<double>(s.dropped) / static_cast<double>(s.dropped + s.spans + 1);
  }
}
BENCHMARK(BM_SpanEnabledFlatOut)
    ->Setup(SetupSteady)
    ->Teardown(TeardownEnabled)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(2);

// tokmeter::Current() + Add from code that did not open the span.
void BM_CurrentAdd(benchmark::State& state) {
  const EventValues v = Values();
  TOK_SPAN_NAMED(span, "llm", "messages");
  for (auto _ : state) {
    tokmeter::Current().Add(Counter::kInputTokens, v.input);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CurrentAdd)->Setup(SetupEnabled)->Teardown(TeardownEnabled)->UseRealTime()->Threads(1);

// ---- Flusher drain rate ------------------------------------------------------

// Two drain sizes: 2,048 spans (what one pass sees in steady state: the
// flusher wakes when a 1 MiB ring is half full, ~2,400 spans) and 2^19 spans
// (~110 MiB of ring filled while the flusher slept: a cold, memory-bound
// backlog).
constexpr size_t kDrainRing = size_t{128} << 20;

// The drain file: on /tmp (this machine's ext4 disk, the target's case) or,
// for BM_DrainJsonlTmpfs, on /dev/shm: the same write(2) calls into memory
// pages, without ext4's block allocation — what the flusher sustains when
// the file system is not the limit.
std::string& DrainDir() {
  static std::string dir = "/tmp";
  return dir;
}
std::string DrainPath() {
  return DrainDir() + "/tokmeter_bench_drain_" + std::to_string(::getpid()) + ".jsonl";
}

void StartDrainJsonl(const char* dir) {
  DrainDir() = dir;
  ::unlink(DrainPath().c_str());
  auto sink = tokmeter::MakeJsonlSink({.path = DrainPath()});
  if (!sink.ok()) std::abort();
  StartQuiet(std::move(*sink), kDrainRing, 1.0);
}
void SetupDrainJsonl(const benchmark::State&) { StartDrainJsonl("/tmp"); }
void SetupDrainJsonlTmpfs(const benchmark::State&) { StartDrainJsonl("/dev/shm"); }
void SetupDrainNull(const benchmark::State&) { StartQuiet(NullSink(), kDrainRing, 1.0); }
void TeardownDrain(const benchmark::State&) {
  StopRuntime();
  ::unlink(DrainPath().c_str());
}

// Fills this thread's ring with state.range(0) spans of one trace while the
// flusher sleeps, then times one Flush() (manual time): decode, trace-tag
// resolution, roll-up bookkeeping, formatting and the sink's write(2) calls,
// all on this thread. items_per_second is the drain rate in spans/s.
void Drain(benchmark::State& state, bool jsonl) {
  const int spans = static_cast<int>(state.range(0));
  const EventValues v = Values();
  TOK_TRACE_NAMED(trace, "session", "s-bench");
  trace.Tag("session", "s-bench").Tag("channel", "cli");
  // One untimed pass of the same size first: the flusher's buffers (decoded
  // spans, tag arena) grow to the working size once per runtime and are
  // reused after, so the timed passes are the steady state (with only two
  // iterations at 2^19, growth would otherwise be half the figure).
  for (int i = 0; i < spans; ++i) RecordEvent(v);
  (void)tokmeter::Flush();
  uint64_t bytes = 0;
  for (auto _ : state) {
    if (jsonl && FileSize(DrainPath()) > (uint64_t{256} << 20)) {
      ::truncate(DrainPath().c_str(), 0);  // O_APPEND: the sink keeps appending
    }
    for (int i = 0; i < spans; ++i) RecordEvent(v);
    uint64_t size0 = jsonl ? FileSize(DrainPath()) : 0;
    auto t0 = std::chrono::steady_clock::now();
    (void)tokmeter::Flush();
    auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    if (jsonl) bytes += FileSize(DrainPath()) - size0;
  }
  state.SetItemsProcessed(state.iterations() * spans);
  if (jsonl) state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["dropped"] = static_cast<double>(Rt()->stats().dropped);
}
void BM_DrainJsonl(benchmark::State& state) { Drain(state, true); }
void BM_DrainJsonlTmpfs(benchmark::State& state) { Drain(state, true); }
void BM_DrainNull(benchmark::State& state) { Drain(state, false); }
BENCHMARK(BM_DrainJsonl)
    ->Setup(SetupDrainJsonl)
    ->Teardown(TeardownDrain)
    ->UseManualTime()
    ->Arg(2048)
    ->Iterations(512)
    ->Unit(benchmark::kMicrosecond);
// A pass over the full default rings (1 MiB each) of ~6 threads.
BENCHMARK(BM_DrainJsonl)
    ->Setup(SetupDrainJsonl)
    ->Teardown(TeardownDrain)
    ->UseManualTime()
    ->Arg(1 << 15)
    ->Iterations(32)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DrainJsonl)
    ->Setup(SetupDrainJsonl)
    ->Teardown(TeardownDrain)
    ->UseManualTime()
    ->Arg(1 << 19)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DrainJsonlTmpfs)
    ->Setup(SetupDrainJsonlTmpfs)
    ->Teardown(TeardownDrain)
    ->UseManualTime()
    ->Arg(2048)
    ->Iterations(512)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DrainNull)
    ->Setup(SetupDrainNull)
    ->Teardown(TeardownDrain)
    ->UseManualTime()
    ->Arg(2048)
    ->Iterations(512)
    ->Unit(benchmark::kMicrosecond);

// Formatting alone: the JSONL lines of 2,048 decoded spans of the event
// above (one trace, 3 tags, 4 counters), written into memory — the share of
// BM_DrainJsonl that is neither decode nor write(2). Arg 0: kind, name and
// tag values are literals (views of the same bytes in every record, as the
// ring hands them over); arg 1: every record's strings are its own copies
// (runtime strings, copied into the ring per span), so nothing a line shares
// with the one before can be recognised by address.
constexpr int kDrainBatch = 2048;
void BM_FormatJsonl(benchmark::State& state) {
  const EventValues v = Values();
  const bool copies = state.range(0) != 0;
  constexpr int kStrings = 4;  // kind, name, provider, model
  std::vector<std::string> text;
  text.reserve(size_t(kDrainBatch) * kStrings);
  std::vector<tokmeter::Tag> tags;
  tags.reserve(size_t(kDrainBatch) * 3);
  tokmeter::Batch batch;
  int64_t t = 1795500000123456789;  // 2026-11-24
  for (int i = 0; i < kDrainBatch; ++i, t += 1733) {
    std::string_view kind = "llm", name = "messages", provider = "anthropic",
                     model = "claude-sonnet-4-5";
    if (copies) {
      for (std::string_view* sv : {&kind, &name, &provider, &model}) {
        text.emplace_back(*sv);
        *sv = text.back();
      }
    }
    tokmeter::SpanRecord& s = batch.spans.emplace_back();
    s.trace_id = {0x0123456789abcdefULL, 0xfedcba9876543210ULL + i / 64};
    s.span_id = 0x1000000000000000ULL + uint64_t(i) * 0x9e3779b97f4a7c15ULL;
    s.parent_id = 0x2000000000000001ULL;
    s.start_unix_ns = t;
    s.end_unix_ns = t + 27 + i % 100;
    s.kind = kind;
    s.name = name;
    s.thread_id = 4242;
    s.counters.Add(Counter::kInputTokens, v.input + i);
    s.counters.Add(Counter::kOutputTokens, v.output);
    s.counters.Add(Counter::kCacheReadTokens, v.cache_read);
    s.counters.Add(Counter::kRequests, v.requests);
    const size_t first = tags.size();
    tags.push_back({"provider", tokmeter::TagType::kString, provider, 0});
    tags.push_back({"model", tokmeter::TagType::kString, model, 0});
    tags.push_back({"status", tokmeter::TagType::kInt, "", v.status});
    s.tags = std::span<const tokmeter::Tag>(tags.data() + first, 3);
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    tokmeter::AppendJsonl(batch, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kDrainBatch);
  state.SetBytesProcessed(state.iterations() * int64_t(out.size()));
}
BENCHMARK(BM_FormatJsonl)->Arg(0)->Arg(1);

// ---- Memory per thread ---------------------------------------------------------

int64_t RssBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

// 64 threads with the default 1 MiB ring: RSS with the threads started and
// parked, then again once each has recorded one span (registered: ring
// allocated and touched, ThreadRing, registry entry). The difference / 64 is
// what tokmeter costs per recording thread.
void BM_MemoryPerThread(benchmark::State& state) {
  constexpr int kThreads = 64;
  // A fixed mmap threshold: every 1 MiB ring is mmapped when allocated and
  // unmapped when freed, so each repetition sees its rings in RSS (with
  // glibc's dynamic threshold a freed ring is reused from the heap and the
  // next repetition would measure ~0).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  for (auto _ : state) {
    tokmeter::Options o;
    o.sinks.push_back(NullSink());
    auto rt = tokmeter::Runtime::Start(std::move(o));
    if (!rt.ok()) std::abort();
    int64_t before = 0, parked = 0, registered = 0;
    std::barrier sync(kThreads + 1);
    std::vector<std::thread> threads;
    // Rings are mapped from the kernel, so their pages always count; the
    // small allocations (ThreadRing, registry) could be carved from free
    // memory earlier benchmarks left resident in malloc's arenas: give that
    // back first, so they count too.
    malloc_trim(0);
    before = RssBytes();
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&sync] {
        sync.arrive_and_wait();  // 1: all started
        sync.arrive_and_wait();  // 2: RSS measured
        { TOK_SPAN("tool", "register"); }
        sync.arrive_and_wait();  // 3: all registered
        sync.arrive_and_wait();  // 4: RSS measured
      });
    }
    sync.arrive_and_wait();
    parked = RssBytes();
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    registered = RssBytes();
    sync.arrive_and_wait();
    for (auto& t : threads) t.join();
    (void)(*rt)->Shutdown();
    state.counters["thread_KiB"] = static_cast<double>(parked - before) / kThreads / 1024;
    state.counters["tokmeter_KiB"] = static_cast<double>(registered - parked) / kThreads / 1024;
  }
}
BENCHMARK(BM_MemoryPerThread)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- Sustained rate ------------------------------------------------------------

// 2 producer threads, each pacing 500,000 spans/s for 2 s (1 M spans/s in
// total), default options (1 MiB rings, 200 ms interval, drop policy), JSONL
// sink in /tmp. Producers record in bursts every 100 µs and sleep between
// them, as agent threads would. Target: dropped == 0.
void BM_Sustained1M(benchmark::State& state) {
  constexpr int kProducers = 2;
  constexpr double kRatePerThread = 500'000;
  const auto kDuration = std::chrono::seconds(2);
  const std::string path = "/tmp/tokmeter_bench_sustained_" + std::to_string(::getpid()) + ".jsonl";
  for (auto _ : state) {
    ::unlink(path.c_str());
    auto sink = tokmeter::MakeJsonlSink({.path = path});
    if (!sink.ok()) std::abort();
    tokmeter::Options o;
    o.sinks.push_back(std::move(*sink));
    auto rt = tokmeter::Runtime::Start(std::move(o));
    if (!rt.ok()) std::abort();
    std::atomic<int64_t> produced{0};
    std::atomic<int64_t> max_lag_us{0};
    std::vector<std::thread> threads;
    const auto start = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    for (int p = 0; p < kProducers; ++p) {
      threads.emplace_back([&] {
        const EventValues v = Values();
        { TOK_SPAN("tool", "register"); }  // ring allocated before the clock starts
        std::this_thread::sleep_until(start);
        int64_t done = 0, lag = 0;
        auto next = start;
        for (;;) {
          auto now = std::chrono::steady_clock::now();
          double elapsed = std::chrono::duration<double>(now - start).count();
          if (now - start >= kDuration) break;
          int64_t owed = static_cast<int64_t>(elapsed * kRatePerThread) - done;
          for (int64_t i = 0; i < owed; ++i) RecordEvent(v);
          done += owed > 0 ? owed : 0;
          lag = std::max<int64_t>(
              lag, std::chrono::duration_cast<std::chrono::microseconds>(now - next).count());
          next += std::chrono::microseconds(100);
          std::this_thread::sleep_until(next);
        }
        produced.fetch_add(done);
        int64_t m = max_lag_us.load();
        while (lag > m && !max_lag_us.compare_exchange_weak(m, lag)) {
        }
      });
    }
    for (auto& t : threads) t.join();
    (void)(*rt)->Flush();
    tokmeter::Stats s = (*rt)->stats();
    (void)(*rt)->Shutdown();
    const double seconds = std::chrono::duration<double>(kDuration).count();
    state.counters["spans/s"] = static_cast<double>(produced.load()) / seconds;
    state.counters["dropped"] = static_cast<double>(s.dropped);
    state.counters["written"] = static_cast<double>(s.spans);
    state.counters["flushes"] = static_cast<double>(s.flushes);
    state.counters["max_wake_lag_us"] = static_cast<double>(max_lag_us.load());
    state.counters["MB_written"] = static_cast<double>(FileSize(path)) / 1e6;
    ::unlink(path.c_str());
  }
}
BENCHMARK(BM_Sustained1M)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
