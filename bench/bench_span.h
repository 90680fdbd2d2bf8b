// The span the capture benchmarks record (core_benchmark,
// core_compiled_out_benchmark, monitor_benchmark): open + close, 4 counters
// and 3 short tags. RecordEvent is always inlined, so a benchmark loop calling
// it is the span's code itself, as each binary's TOKMETER_ENABLED compiles
// the macros (core_compiled_out_benchmark: TOKMETER_ENABLED=0).
#ifndef TOKMETER_BENCH_BENCH_SPAN_H_
#define TOKMETER_BENCH_BENCH_SPAN_H_

#include <cstdint>

#include "benchmark/benchmark.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter::bench {

// Runtime values the compiler cannot fold.
struct EventValues {
  int64_t input = 812, output = 230, cache_read = 40000, requests = 1;
  int status = 200;
};

inline EventValues Values(int64_t cache_read = 40000) {
  EventValues v;
  v.cache_read = cache_read;
  benchmark::DoNotOptimize(v);
  return v;
}

TOKMETER_INTERNAL_ALWAYS_INLINE void RecordEvent(const EventValues& v) {
  TOK_SPAN_NAMED(span, "llm", "messages");
  span.Add(Counter::kInputTokens, v.input)
      .Add(Counter::kOutputTokens, v.output)
      .Add(Counter::kCacheReadTokens, v.cache_read)
      .Add(Counter::kRequests, v.requests);
  span.Tag("provider", "anthropic").Tag("model", "claude-sonnet-4-5").Tag("status", v.status);
}

}  // namespace tokmeter::bench

#endif  // TOKMETER_BENCH_BENCH_SPAN_H_
