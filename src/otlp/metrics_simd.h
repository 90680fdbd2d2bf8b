// src/otlp/metrics_simd.h — what the metrics sink spends most of its time
// on, with AVX-512: the histograms added eight spans at a time, and the run
// detection's comparisons. The scalar code in metrics.cc is the reference:
// both give the same metrics for every input (tests/otlp/otlp_metrics_test.cc
// runs both), and the scalar code runs where AVX-512 is missing.
#ifndef TOKMETER_SRC_OTLP_METRICS_SIMD_H_
#define TOKMETER_SRC_OTLP_METRICS_SIMD_H_

#include <cstdint>
#include <span>

#include "src/otlp/metrics.h"
#include "tokmeter/record.h"

namespace tokmeter::otlp::simd {

// Whether this CPU and OS run the AVX-512 pass (AVX-512 F, CD, DQ and VL,
// as on Intel since Skylake-SP and AMD since Zen 4). Checked once.
bool Available();

// Adds a run of spans to the token usage histograms (input: input + cache
// read + cache write tokens, for spans that set any of them; output: output
// tokens, for spans that set them) and, with `duration`, every span's
// duration to the duration histogram. Returns the OR of the spans' counter
// masks. Only when Available(), for a multiple of eight spans.
uint32_t AddHistograms(std::span<const SpanRecord> run, bool duration, Histogram& input,
                       Histogram& output, Histogram& duration_ns);
// The same for spans anywhere (a list of their addresses).
uint32_t AddHistograms(std::span<const SpanRecord* const> spans, bool duration, Histogram& input,
                       Histogram& output, Histogram& duration_ns);

// The end of the spans in [from, limit) alike `first` as far as two
// 64-byte vector comparisons a span tell: the same kind and name (with
// `name_matters`) by address, the same tags and trace tags by address, the
// same root flag, neither failed, and with `stop_mask` != 0 none of its bits
// in the counter mask (first's has none of them). Returns a span unlike
// `first`, or one it cannot tell: tags at another address (maybe a copy
// alike by content), or any span when `first` failed (its errors counter
// decides). The scalar run detection goes on from there. Only when
// Available().
const SpanRecord* AlikeEnd(const SpanRecord& first, bool name_matters, uint32_t stop_mask,
                           const SpanRecord* from, const SpanRecord* limit);

}  // namespace tokmeter::otlp::simd

#endif  // TOKMETER_SRC_OTLP_METRICS_SIMD_H_
