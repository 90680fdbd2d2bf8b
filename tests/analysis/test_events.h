// tests/analysis/test_events.h — building UsageEvents by hand for the tests.
#ifndef TOKMETER_TESTS_ANALYSIS_TEST_EVENTS_H_
#define TOKMETER_TESTS_ANALYSIS_TEST_EVENTS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "src/analysis/event.h"
#include "src/analysis/store.h"

namespace tokmeter::analysis::testing {

inline int64_t At(const char* rfc3339) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) return 0;
  return absl::ToUnixNanos(t);
}
inline constexpr int64_t kMinute = int64_t{60} * 1'000'000'000;

// An LLM request; tags are (key, value) string literals.
inline UsageEvent Llm(int64_t t, int64_t input, int64_t output, int64_t cache_read = 0,
                      int64_t cache_write = 0) {
  UsageEvent e;
  e.time_unix_ns = t;
  e.kind = "llm";
  e.name = "messages";
  e.model = "claude-sonnet-4-5";
  e.provider = "anthropic";
  e.tokens.input = input;
  e.tokens.output = output;
  e.tokens.cache_read = cache_read;
  e.tokens.cache_write_5m = cache_write;
  e.requests = 1;
  e.status = 200;
  return e;
}

inline UsageEvent Tool(int64_t t, std::string_view name, uint64_t fingerprint) {
  UsageEvent e;
  e.time_unix_ns = t;
  e.kind = "tool";
  e.name = name;
  e.fingerprint = fingerprint;
  e.SetTag("tool", name);
  return e;
}

inline UsageEvent With(UsageEvent e, std::string_view k, std::string_view v) {
  e.SetTag(k, v);
  return e;
}

}  // namespace tokmeter::analysis::testing

#endif  // TOKMETER_TESTS_ANALYSIS_TEST_EVENTS_H_
