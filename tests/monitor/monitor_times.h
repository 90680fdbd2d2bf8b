// Times in the monitor tests: nanosecond units and instants written in RFC
// 3339.
#ifndef TOKMETER_TESTS_MONITOR_MONITOR_TIMES_H_
#define TOKMETER_TESTS_MONITOR_MONITOR_TIMES_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace tokmeter::testing {

inline constexpr int64_t kSecond = 1'000'000'000;
inline constexpr int64_t kMinute = 60 * kSecond;
inline constexpr int64_t kHour = 60 * kMinute;

// Unix nanoseconds of `rfc3339` (a time that does not parse fails the test).
inline int64_t At(const char* rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return absl::ToUnixNanos(t);
}

}  // namespace tokmeter::testing

#endif  // TOKMETER_TESTS_MONITOR_MONITOR_TIMES_H_
