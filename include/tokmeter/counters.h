// tokmeter/counters.h — the built-in counters every span carries, and their names.
#ifndef TOKMETER_COUNTERS_H_
#define TOKMETER_COUNTERS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tokmeter/buckets.h"

namespace tokmeter {

// Built-in counters. Token counters are disjoint buckets (docs/FORMAT.md):
// `input_tokens` is the uncached input, so the prompt size is
// input + cache_read + cache_write. `reasoning_tokens` is the part of
// `output_tokens` spent on reasoning and `cache_write_1h_tokens` the part of
// `cache_write_tokens` written with the 1-hour TTL; both are informational
// subsets and never added to a total.
enum class Counter : uint8_t {
  kInputTokens = 0,
  kOutputTokens,
  kCacheReadTokens,
  kCacheWriteTokens,
  kCacheWrite1hTokens,
  kReasoningTokens,
  kRequests,
  kToolCalls,
  kRetries,
  kRetryWaitMs,
  kRateLimited,
  kErrors,
  kResponseBytes,
};
inline constexpr int kNumCounters = 13;

// JSON field names, in enum order ("input_tokens", ...).
inline constexpr std::array<std::string_view, kNumCounters> kCounterNames = {
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "requests",
    "tool_calls",
    "retries",
    "retry_wait_ms",
    "rate_limited",
    "errors",
    "response_bytes"};

constexpr std::string_view CounterName(Counter c) { return kCounterNames[static_cast<int>(c)]; }
// The counter with this JSON name, or nullopt.
constexpr std::optional<Counter> CounterFromName(std::string_view name) {
  for (int i = 0; i < kNumCounters; ++i) {
    if (kCounterNames[i] == name) return static_cast<Counter>(i);
  }
  return std::nullopt;
}

// A fixed set of counter values with a mask of which ones were set.
// Plain value type; not thread-safe.
struct Counters {
  std::array<int64_t, kNumCounters> values{};
  uint32_t mask = 0;  // bit i set when values[i] was added to

  int64_t operator[](Counter c) const { return values[static_cast<int>(c)]; }
  bool has(Counter c) const { return (mask >> static_cast<int>(c)) & 1u; }
  void Add(Counter c, int64_t v) {
    values[static_cast<int>(c)] += v;
    mask |= 1u << static_cast<int>(c);
  }
  void AddAll(const Counters& o) {
    for (int i = 0; i < kNumCounters; ++i) values[i] += o.values[i];
    mask |= o.mask;
  }
  friend bool operator==(const Counters&, const Counters&) = default;
};

// The token buckets a span's counters hold (cache_write_tokens is the whole
// cache write, cache_write_1h_tokens its 1-hour part), each count clamped to
// [0, kMaxTokenCount].
inline TokenBuckets BucketsOf(const Counters& c) {
  TokenBuckets t;
  t.input = ClampTokenCount(c[Counter::kInputTokens]);
  t.output = ClampTokenCount(c[Counter::kOutputTokens]);
  t.cache_read = ClampTokenCount(c[Counter::kCacheReadTokens]);
  const int64_t written = ClampTokenCount(c[Counter::kCacheWriteTokens]);
  const int64_t hour = ClampTokenCount(c[Counter::kCacheWrite1hTokens]);
  t.cache_write_1h = hour < written ? hour : written;
  t.cache_write_5m = written - t.cache_write_1h;
  t.reasoning = ClampTokenCount(c[Counter::kReasoningTokens]);
  t.CapReasoning();
  return t;
}

}  // namespace tokmeter

#endif  // TOKMETER_COUNTERS_H_
