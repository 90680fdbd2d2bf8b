// Fuzzes whole-body usage parsing, error bodies and the rate-limit header
// parsers. Invariants: never crash; buckets non-negative; reasoning <= output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "fuzz/buckets_check.h"
#include "tokmeter/usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (tokmeter::Provider hint : {tokmeter::Provider::kUnknown, tokmeter::Provider::kGemini}) {
    absl::StatusOr<tokmeter::ParsedUsage> u = tokmeter::ParseUsageBody(in, hint);
    if (u.ok()) tokmeter::fuzz::CheckBuckets(u->usage);
  }
  (void)tokmeter::ParseErrorBody(in);

  // Headers: lines "name: value".
  absl::Time now = absl::FromUnixSeconds(1787221316);
  std::vector<tokmeter::HeaderView> headers;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) nl = in.size();
    std::string_view line = in.substr(pos, nl - pos);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
    pos = nl + 1;
  }
  tokmeter::RateLimitInfo info = tokmeter::ParseRateLimit(429, headers, now);
  for (const tokmeter::RateLimitWindow& w : info.windows) {
    if (w.reset_after_ms && *w.reset_after_ms < 0) std::abort();
  }
  if (info.retry_after_ms && *info.retry_after_ms < 0) std::abort();
  std::optional<int64_t> d = tokmeter::ParseGoDurationMs(in);
  if (d && *d < 0) std::abort();
  std::optional<int64_t> r = tokmeter::ParseRetryAfterMs(in, now);
  if (r && *r < 0) std::abort();
  return 0;
}
