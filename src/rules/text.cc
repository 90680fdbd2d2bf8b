#include "src/rules/text.h"

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace tokmeter::rules {

std::string Iso(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

std::string ClockTime(int64_t ns) {
  return absl::FormatTime("%H:%M:%S", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

std::string Tokens(double v) {
  if (v >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e4) return absl::StrFormat("%.1fK", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

std::string Minutes(int64_t ns) {
  const double min = double(ns) / 60e9;
  if (min >= 120) return absl::StrFormat("%.1f h", min / 60);
  return absl::StrFormat("%.0f min", min);
}

}  // namespace tokmeter::rules
