// BM_SpanCompiledOut: the span of core_benchmark.cc (bench/bench_span.h: open +
// close, 4 counters, 3 short tags) with the macros compiled out.
// bench/CMakeLists.txt builds this file with TOKMETER_ENABLED=0, so the loop
// (RecordEvent, always inlined) is exactly what a user's code becomes: the
// arguments are type-checked and never evaluated. A separate binary (not a TU
// in core_benchmark called through a non-inlined function) because a call
// would measure the call, not the macros; a separate binary is also the only
// way to have both macro definitions (macros.h is include-guarded).
#include <cstdint>

#include "bench/bench_span.h"
#include "benchmark/benchmark.h"
#include "tokmeter/tokmeter.h"

#if TOKMETER_ENABLED
#error "core_compiled_out_benchmark.cc must be built with TOKMETER_ENABLED=0"
#endif

namespace {

using tokmeter::bench::EventValues;
using tokmeter::bench::RecordEvent;
using tokmeter::bench::Values;

void BM_SpanCompiledOut(benchmark::State& state) {
  const EventValues v = Values();
  for (auto _ : state) {
    RecordEvent(v);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SpanCompiledOut)->UseRealTime()->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
