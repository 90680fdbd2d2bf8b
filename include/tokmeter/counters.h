// tokmeter/counters.h — the built-in counters every span carries, and their names.
#ifndef TOKMETER_COUNTERS_H_
#define TOKMETER_COUNTERS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

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

// Token usage in disjoint buckets, as a provider response yields it.
// See tokmeter/usage.h for the parsers that produce it.
struct Usage {
  int64_t input_tokens = 0;           // uncached input
  int64_t cache_read_tokens = 0;      // read from the prompt cache
  int64_t cache_write_5m_tokens = 0;  // written with the 5-minute TTL (or TTL unknown)
  int64_t cache_write_1h_tokens = 0;  // written with the 1-hour TTL
  int64_t output_tokens = 0;          // all output, reasoning included
  int64_t reasoning_tokens = 0;       // part of output_tokens
};

}  // namespace tokmeter

#endif  // TOKMETER_COUNTERS_H_
