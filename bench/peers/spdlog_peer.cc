// The peer: spdlog's async logger writing the event of BM_SpanEnabled (two
// clock reads, ids, kind, name, 3 tags, 4 counters) as one JSON line to a
// file. Linked into core_benchmark (bench/peers/CMakeLists.txt), so it runs
// in the same process and the same `scripts/bench` run as tokmeter.
//
// spdlog's defaults: a shared 8,192-slot queue (mutex + condition variable)
// with the block-when-full policy and one worker thread; the message is
// formatted on the calling thread, the pattern (timestamp) and the write on
// the worker. tokmeter's equivalents are a per-thread ring, binary records
// and formatting on the flusher.
#include <unistd.h>
#include <x86intrin.h>

#include <cstdint>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "spdlog/async.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/spdlog.h"

namespace {

std::shared_ptr<spdlog::logger>& Logger() {
  static auto* l = new std::shared_ptr<spdlog::logger>;
  return *l;
}

std::string PeerPath() {
  return "/tmp/tokmeter_bench_spdlog_" + std::to_string(::getpid()) + ".jsonl";
}

void SetupSpdlog(const benchmark::State&) {
  ::unlink(PeerPath().c_str());
  spdlog::init_thread_pool(8192, 1);
  Logger() = spdlog::create_async<spdlog::sinks::basic_file_sink_mt>("tokmeter_peer", PeerPath(),
                                                                     /*truncate=*/true);
  Logger()->set_pattern(R"({"timestamp":"%Y-%m-%dT%H:%M:%S.%FZ",%v})",
                        spdlog::pattern_time_type::utc);
}

void TeardownSpdlog(const benchmark::State&) {
  Logger()->flush();
  Logger().reset();
  spdlog::shutdown();  // joins the worker after it drained the queue
  ::unlink(PeerPath().c_str());
}

uint64_t NextId(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void BM_SpdlogAsyncJson(benchmark::State& state) {
  struct {
    int64_t input = 812, output = 230, cache_read = 40000, requests = 1;
    int status = 200;
  } v;
  benchmark::DoNotOptimize(v);
  uint64_t ids = 0x1234 + static_cast<uint64_t>(state.thread_index());
  spdlog::logger& log = *Logger();
  for (auto _ : state) {
    const uint64_t start = __rdtsc();
    const uint64_t trace_hi = NextId(ids), trace_lo = NextId(ids), span_id = NextId(ids);
    const uint64_t end = __rdtsc();
    log.info(
        R"("type":"span","trace_id":"{:016x}{:016x}","span_id":"{:016x}","kind":"llm","name":"messages","start_ticks":{},"end_ticks":{},"provider":"{}","model":"{}","status":{},"input_tokens":{},"output_tokens":{},"cache_read_tokens":{},"requests":{})",
        trace_hi, trace_lo, span_id, start, end, "anthropic", "claude-sonnet-4-5", v.status,
        v.input, v.output, v.cache_read, v.requests);
  }
}
BENCHMARK(BM_SpdlogAsyncJson)
    ->Setup(SetupSpdlog)
    ->Teardown(TeardownSpdlog)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(2);

}  // namespace
