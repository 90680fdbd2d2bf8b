// BM_SpanCompiledOut: the span of core_benchmark.cc (open + close, 4 counters,
// 3 short tags) with the macros compiled out. bench/CMakeLists.txt builds this
// file with TOKMETER_ENABLED=0, so the loop is exactly what a user's code
// becomes: the arguments are type-checked and never evaluated. A separate
// binary (not a TU in core_benchmark called through a non-inlined function)
// because a call would measure the call, not the macros; a separate binary
// is also the only way to have both macro definitions (macros.h is
// include-guarded).
#include <cstdint>

#include "benchmark/benchmark.h"
#include "tokmeter/tokmeter.h"

#if TOKMETER_ENABLED
#error "core_compiled_out_benchmark.cc must be built with TOKMETER_ENABLED=0"
#endif

namespace {

using tokmeter::Counter;

struct EventValues {
  int64_t input = 812, output = 230, cache_read = 40000, requests = 1;
  int status = 200;
};

void BM_SpanCompiledOut(benchmark::State& state) {
  EventValues v;
  benchmark::DoNotOptimize(v);
  for (auto _ : state) {
    TOK_SPAN_NAMED(span, "llm", "messages");
    span.Add(Counter::kInputTokens, v.input)
        .Add(Counter::kOutputTokens, v.output)
        .Add(Counter::kCacheReadTokens, v.cache_read)
        .Add(Counter::kRequests, v.requests);
    span.Tag("provider", "anthropic").Tag("model", "claude-sonnet-4-5").Tag("status", v.status);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SpanCompiledOut)->UseRealTime()->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
