#include "src/otlp/metrics_simd.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdlib>
#include <string_view>
#include <type_traits>

// TOKMETER_NO_SIMD builds the scalar code alone (as on other CPUs).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(TOKMETER_NO_SIMD)
// GCC 12 warns of the intrinsics' own "undefined" vectors (`__m512i __Y =
// __Y;` in avx512fintrin.h) as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define TOKMETER_METRICS_AVX512 1
#else
#define TOKMETER_METRICS_AVX512 0
#endif

namespace tokmeter::otlp::simd {

#if TOKMETER_METRICS_AVX512

bool Available() {
  static const bool available =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return available;
}

namespace {

// Every function that uses the instructions carries the target (the rest of
// the library is built for the baseline x86-64); called only when
// Available().
#define TOKMETER_AVX512 __attribute__((target("avx512f,avx512cd,avx512dq,avx512vl")))

// The spans' fields are read by their offsets in a SpanRecord.
static_assert(std::is_standard_layout_v<SpanRecord> && std::is_standard_layout_v<Counters>);
constexpr size_t kMaskAt = offsetof(SpanRecord, counters) + offsetof(Counters, mask);
constexpr size_t ValueAt(Counter c) {
  return offsetof(SpanRecord, counters) + offsetof(Counters, values) +
         sizeof(int64_t) * static_cast<size_t>(c);
}
constexpr uint32_t Bit(Counter c) { return 1u << static_cast<int>(c); }
using aggregation::kInputCounters;

// A histogram's sums over up to kChunk spans, a lane per span of each eight:
// bucket counts as the nibbles of a lane (as the scalar pass keeps them in a
// register), the sum, the min and the max.
struct Lanes {
  __m512i nibbles, sum, min, max;
};
// A lane's nibbles count to 15: a chunk is 15 steps of eight spans.
constexpr size_t kChunk = 15 * 8;

TOKMETER_AVX512 inline Lanes Start(const Histogram& h) {
  return {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_set1_epi64(h.min),
          _mm512_set1_epi64(h.max)};
}

// Adds the lanes in `k` of `v`, whose buckets are at nibble `shift` / 4.
TOKMETER_AVX512 inline void Add(Lanes& l, __mmask8 k, __m512i v, __m512i shift) {
  const __m512i one = _mm512_set1_epi64(1);
  l.nibbles = _mm512_mask_add_epi64(l.nibbles, k, l.nibbles, _mm512_sllv_epi64(one, shift));
  l.sum = _mm512_mask_add_epi64(l.sum, k, l.sum, v);
  l.min = _mm512_mask_min_epi64(l.min, k, l.min, v);
  l.max = _mm512_mask_max_epi64(l.max, k, l.max, v);
}

// 4 · TokenBucket(v): min((bit_width(max(v, 1) - 1) + 1) / 2, 14).
TOKMETER_AVX512 inline __m512i TokenShift(__m512i v) {
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i x = _mm512_sub_epi64(_mm512_max_epi64(v, one), one);
  const __m512i width = _mm512_sub_epi64(_mm512_set1_epi64(64), _mm512_lzcnt_epi64(x));
  const __m512i bucket = _mm512_min_epi64(_mm512_srli_epi64(_mm512_add_epi64(width, one), 1),
                                          _mm512_set1_epi64(kNumBounds));
  return _mm512_slli_epi64(bucket, 2);
}

// The duration bounds in ns, step · 2^i: the last entries repeat the last
// bound (never compared, see DurationShift).
constexpr std::array<long long, 16> kDurationBoundsNs = [] {
  std::array<long long, 16> t{};
  for (size_t i = 0; i < t.size(); ++i) {
    t[i] = bucket_tables::kDurationStepNs << std::min<size_t>(i, kNumBounds - 1);
  }
  return t;
}();
// Where the bounds start: bit_width(step) (step · 2^i has bit width
// kStepWidth + i).
constexpr int kStepWidth = std::bit_width(uint64_t(bucket_tables::kDurationStepNs));

// 4 · DurationBucket(ns): the bucket is min(bit_width(floor(x / step)), 14)
// for x = max(ns, 1) - 1, that is the number of bounds step · 2^i <= x
// (floor(x / step) >= 2^i exactly when x >= step · 2^i). Bound i has bit
// width kStepWidth + i, so for x of bit width b every bound below
// j = b - kStepWidth is <= x, every bound above it > x, and bound j itself
// is compared: the count is j + (x >= bound j). A j outside [0, 13] makes
// the count < 0 or > 13 whatever the comparison says, and is clamped.
TOKMETER_AVX512 inline __m512i DurationShift(__m512i ns) {
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i x = _mm512_sub_epi64(_mm512_max_epi64(ns, one), one);
  const __m512i j = _mm512_sub_epi64(_mm512_set1_epi64(64 - kStepWidth), _mm512_lzcnt_epi64(x));
  const __m512i bound =
      _mm512_permutex2var_epi64(_mm512_loadu_si512(kDurationBoundsNs.data()), j,
                                _mm512_loadu_si512(kDurationBoundsNs.data() + 8));  // entry j & 15
  const __m512i count = _mm512_mask_add_epi64(j, _mm512_cmpge_epi64_mask(x, bound), j, one);
  const __m512i bucket = _mm512_min_epi64(_mm512_max_epi64(count, _mm512_setzero_si512()),
                                          _mm512_set1_epi64(kNumBounds));
  return _mm512_slli_epi64(bucket, 2);
}

// Loading eight spans' fields: a vector load per span and group of fields,
// then transposed (lane i: span i), which is quicker than a gather per field.
// Spans are where a run of the batch is (consecutive) or where a list
// points (anywhere).
struct Run {
  const SpanRecord* at;
  const SpanRecord* operator[](int i) const { return at + i; }
};
struct List {
  const SpanRecord* const* at;
  const SpanRecord* operator[](int i) const { return at[i]; }
};
template <typename V>
const V* Field(const SpanRecord* s, size_t offset) {
  return reinterpret_cast<const V*>(reinterpret_cast<const char*>(s) + offset);
}
// Four consecutive 64-bit fields at `offset` of spans i and i + 1.
template <typename Spans>
TOKMETER_AVX512 inline __m512i LoadTwo(Spans s, size_t offset, int i) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(Field<__m256i>(s[i], offset))),
      _mm256_loadu_si256(Field<__m256i>(s[i + 1], offset)), 1);
}
// Four consecutive 64-bit fields at `offset` of eight spans, a vector each.
struct Four {
  __m512i f[4];
};
template <typename Spans>
TOKMETER_AVX512 inline Four LoadFour(Spans s, size_t offset) {
  const __m512i z0 = LoadTwo(s, offset, 0), z1 = LoadTwo(s, offset, 2), z2 = LoadTwo(s, offset, 4),
                z3 = LoadTwo(s, offset, 6);
  // Fields 0 and 1 (2 and 3) of spans 0-3 and 4-7.
  const __m512i even = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13);
  const __m512i odd = _mm512_setr_epi64(2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i a = _mm512_permutex2var_epi64(z0, even, z1),
                b = _mm512_permutex2var_epi64(z2, even, z3),
                c = _mm512_permutex2var_epi64(z0, odd, z1),
                d = _mm512_permutex2var_epi64(z2, odd, z3);
  return {{_mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
           _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 2, 3, 2)),
           _mm512_shuffle_i64x2(c, d, _MM_SHUFFLE(1, 0, 1, 0)),
           _mm512_shuffle_i64x2(c, d, _MM_SHUFFLE(3, 2, 3, 2))}};
}
// Two consecutive 64-bit fields at `offset` of spans i … i + 3.
template <typename Spans>
TOKMETER_AVX512 inline __m512i LoadFourSpans(Spans s, size_t offset, int i) {
  __m512i z = _mm512_castsi128_si512(_mm_loadu_si128(Field<__m128i>(s[i], offset)));
  z = _mm512_inserti64x2(z, _mm_loadu_si128(Field<__m128i>(s[i + 1], offset)), 1);
  z = _mm512_inserti64x2(z, _mm_loadu_si128(Field<__m128i>(s[i + 2], offset)), 2);
  return _mm512_inserti64x2(z, _mm_loadu_si128(Field<__m128i>(s[i + 3], offset)), 3);
}
// The counter masks of eight spans (a 32-bit gather).
TOKMETER_AVX512 inline __m256i LoadMasks(Run s) {
  constexpr long long kStride = sizeof(SpanRecord);
  const __m512i index = _mm512_setr_epi64(0, kStride, 2 * kStride, 3 * kStride, 4 * kStride,
                                          5 * kStride, 6 * kStride, 7 * kStride);
  return _mm512_i64gather_epi32(index, Field<char>(s.at, kMaskAt), 1);
}
TOKMETER_AVX512 inline __m256i LoadMasks(List s) {
  const __m512i at = _mm512_add_epi64(_mm512_loadu_si512(s.at), _mm512_set1_epi64(kMaskAt));
  return _mm512_i64gather_epi32(at, nullptr, 1);
}

// Bucket counts from bytes: byte j of `bytes` is bucket 2j + odd's count.
inline void AddByteCounts(uint64_t bytes, int odd, Histogram& h) {
  while (bytes != 0) {
    const int shift = std::countr_zero(bytes) & ~7;
    const uint64_t c = (bytes >> shift) & 0xff;
    h.buckets[size_t(shift / 4 + odd)] += c;
    h.count += c;
    bytes &= ~(uint64_t{0xff} << shift);
  }
}

// The sum of the lanes, wrapping as the lanes' own sums do
// (_mm512_reduce_add_epi64 adds the last lanes as signed integers: undefined
// behaviour on overflow).
TOKMETER_AVX512 inline int64_t SumOfLanes(__m512i v) {
  const __m256i a = _mm256_add_epi64(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  const __m128i b = _mm_add_epi64(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  return _mm_cvtsi128_si64(_mm_add_epi64(b, _mm_unpackhi_epi64(b, b)));
}

TOKMETER_AVX512 inline void Fold(Lanes l, Histogram& h) {
  // Nibble 2j of every lane summed into byte j of `even`, nibble 2j + 1 into
  // byte j of `odd`: at most 8 · 15 a byte, so no carry between them.
  const __m512i low = _mm512_set1_epi64(0x0f0f0f0f0f0f0f0f);
  const uint64_t even = uint64_t(SumOfLanes(_mm512_and_si512(l.nibbles, low)));
  const uint64_t odd = uint64_t(SumOfLanes(_mm512_and_si512(_mm512_srli_epi64(l.nibbles, 4), low)));
  AddByteCounts(even, 0, h);
  AddByteCounts(odd, 1, h);
  h.sum = WrappingAdd(h.sum, SumOfLanes(l.sum));
  h.min = _mm512_reduce_min_epi64(l.min);
  h.max = _mm512_reduce_max_epi64(l.max);
}

static_assert(int(Counter::kInputTokens) == 0 && int(Counter::kOutputTokens) == 1 &&
              int(Counter::kCacheReadTokens) == 2 && int(Counter::kCacheWriteTokens) == 3);
static_assert(offsetof(SpanRecord, end_unix_ns) == offsetof(SpanRecord, start_unix_ns) + 8);

template <bool kDuration, typename Spans>
TOKMETER_AVX512 uint32_t AddEights(Spans spans, size_t n, Histogram& input, Histogram& output,
                                   Histogram& duration) {
  const __m256i input_bits = _mm256_set1_epi32(int(kInputCounters));
  const __m256i output_bit = _mm256_set1_epi32(int(Bit(Counter::kOutputTokens)));
  const __m512i starts = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i ends = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  __m256i seen = _mm256_setzero_si256();
  for (size_t at = 0; at < n;) {
    Lanes in = Start(input), out = Start(output), d = Start(duration);
    for (const size_t chunk_end = std::min(n, at + kChunk); at < chunk_end; at += 8) {
      const Spans p{&spans.at[at]};
      const __m256i mask = LoadMasks(p);
      seen = _mm256_or_si256(seen, mask);
      const __mmask8 has_in = _mm256_test_epi32_mask(mask, input_bits);
      const __mmask8 has_out = _mm256_test_epi32_mask(mask, output_bit);
      const Four tokens = LoadFour(p, ValueAt(Counter::kInputTokens));
      const __m512i tokens_in =
          _mm512_add_epi64(_mm512_add_epi64(tokens.f[0], tokens.f[2]), tokens.f[3]);
      Add(in, has_in, tokens_in, TokenShift(tokens_in));
      Add(out, has_out, tokens.f[1], TokenShift(tokens.f[1]));
      if constexpr (kDuration) {
        const __m512i t0 = LoadFourSpans(p, offsetof(SpanRecord, start_unix_ns), 0),
                      t1 = LoadFourSpans(p, offsetof(SpanRecord, start_unix_ns), 4);
        // As DurationOf: the difference wrapping, negative counted 0.
        const __m512i ns =
            _mm512_max_epi64(_mm512_sub_epi64(_mm512_permutex2var_epi64(t0, ends, t1),
                                              _mm512_permutex2var_epi64(t0, starts, t1)),
                             _mm512_setzero_si512());
        Add(d, 0xff, ns, DurationShift(ns));
      }
    }
    Fold(in, input);
    Fold(out, output);
    if constexpr (kDuration) Fold(d, duration);
  }
  __m128i s = _mm_or_si128(_mm256_castsi256_si128(seen), _mm256_extracti128_si256(seen, 1));
  s = _mm_or_si128(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_or_si128(s, _mm_shuffle_epi32(s, 0xb1));
  return uint32_t(_mm_cvtsi128_si32(s));
}

// The run detection compares two 64-byte windows of each span with
// `first`'s, a vector instruction each, after an AND that keeps what is
// compared: from the kind on (kind and name, two words each, whatever their
// order; the root flag, a byte of the next word), and up to the end of the
// trace tags (the counter mask's word, then the tags and the trace tags).
constexpr size_t kKindWindow = offsetof(SpanRecord, kind);
constexpr size_t kTagsWindow = offsetof(SpanRecord, trace_tags) + 16 - 64;
static_assert(sizeof(std::string_view) == 16 && sizeof(std::span<const Tag>) == 16);
static_assert(offsetof(SpanRecord, name) == kKindWindow + 16);
static_assert(sizeof(SpanRecord::is_trace_root) == 1 &&
              offsetof(SpanRecord, is_trace_root) < kKindWindow + 64);
static_assert(offsetof(SpanRecord, tags) == kTagsWindow + 32 && kMaskAt >= kTagsWindow &&
              kMaskAt % 8 == 0);

// One window: which words are compared, and the bits of each kept.
struct Window {
  size_t at;
  __mmask8 words;
  std::array<uint64_t, 8> keep;
};
constexpr uint64_t kAll = ~uint64_t{0};

TOKMETER_AVX512 inline __m512i Kept(const char* span, const Window& w, __m512i keep) {
  return _mm512_and_si512(_mm512_loadu_si512(span + w.at), keep);
}

TOKMETER_AVX512 const SpanRecord* AlikeEndAvx512(const SpanRecord& first, bool name_matters,
                                                 uint32_t stop_mask, const SpanRecord* from,
                                                 const SpanRecord* limit) {
  constexpr uint32_t kErrorBit = Bit(Counter::kErrors);
  // A failed first span: whether each span failed too is its errors counter
  // (> 0), which the scalar detection reads. Otherwise a span with the
  // errors bit clear did not fail either (a counter is set only with its bit).
  if ((first.counters.mask & kErrorBit) != 0) return from;
  // Window a: the kind's words 0 and 1, the name's 2 and 3 when it matters,
  // the root flag's byte.
  const size_t root_at = offsetof(SpanRecord, is_trace_root) - kKindWindow;
  Window a{kKindWindow, __mmask8(0x3 | (name_matters ? 0xc : 0) | (1u << (root_at / 8))), {}};
  a.keep.fill(kAll);
  a.keep[root_at / 8] = uint64_t{0xff} << (8 * (root_at % 8));
  // Window b: the tags and trace tags (words 4-7), and of the counter mask
  // (the low half of its word) the errors bit and stop_mask's.
  const size_t mask_at = kMaskAt - kTagsWindow;
  Window b{kTagsWindow, __mmask8(0xf0 | (1u << (mask_at / 8))), {}};
  b.keep.fill(kAll);
  b.keep[mask_at / 8] = kErrorBit | stop_mask;
  const __m512i keep_a = _mm512_loadu_si512(a.keep.data()),
                keep_b = _mm512_loadu_si512(b.keep.data());
  const char* f = reinterpret_cast<const char*>(&first);
  const __m512i ref_a = Kept(f, a, keep_a), ref_b = Kept(f, b, keep_b);
  for (; from != limit; ++from) {
    const char* p = reinterpret_cast<const char*>(from);
    aggregation::ReadAhead(from);
    const __mmask8 differ = _mm512_mask_cmpneq_epi64_mask(a.words, Kept(p, a, keep_a), ref_a) |
                            _mm512_mask_cmpneq_epi64_mask(b.words, Kept(p, b, keep_b), ref_b);
    if (differ != 0) break;
  }
  return from;
}

}  // namespace

const SpanRecord* AlikeEnd(const SpanRecord& first, bool name_matters, uint32_t stop_mask,
                           const SpanRecord* from, const SpanRecord* limit) {
  return AlikeEndAvx512(first, name_matters, stop_mask, from, limit);
}

uint32_t AddHistograms(std::span<const SpanRecord> run, bool duration, Histogram& input,
                       Histogram& output, Histogram& duration_ns) {
  const Run at{run.data()};
  return duration ? AddEights<true>(at, run.size(), input, output, duration_ns)
                  : AddEights<false>(at, run.size(), input, output, duration_ns);
}

uint32_t AddHistograms(std::span<const SpanRecord* const> spans, bool duration, Histogram& input,
                       Histogram& output, Histogram& duration_ns) {
  const List at{spans.data()};
  return duration ? AddEights<true>(at, spans.size(), input, output, duration_ns)
                  : AddEights<false>(at, spans.size(), input, output, duration_ns);
}

#pragma GCC diagnostic pop

#else  // not x86-64: the scalar pass only

bool Available() { return false; }

uint32_t AddHistograms(std::span<const SpanRecord>, bool, Histogram&, Histogram&, Histogram&) {
  std::abort();  // never called: Available() is false
}

uint32_t AddHistograms(std::span<const SpanRecord* const>, bool, Histogram&, Histogram&,
                       Histogram&) {
  std::abort();  // never called: Available() is false
}

const SpanRecord* AlikeEnd(const SpanRecord&, bool, uint32_t, const SpanRecord*,
                           const SpanRecord*) {
  std::abort();  // never called: Available() is false
}

#endif

}  // namespace tokmeter::otlp::simd
