// Fuzzes the SSE usage parser. The first byte seeds where the input is cut
// into chunks; invariants: never crash, buckets non-negative, reasoning <=
// output, and the result does not depend on how the bytes were split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokmeter/usage.h"

namespace {

bool Same(const tokmeter::ParsedUsage& a, const tokmeter::ParsedUsage& b) {
  return a.usage == b.usage && a.partial == b.partial && a.events == b.events &&
         a.bad_payloads == b.bad_payloads && a.model == b.model && a.response_id == b.response_id &&
         a.anomalies == b.anomalies && a.provider == b.provider;
}

void Check(const tokmeter::ParsedUsage& u) {
  const tokmeter::TokenBuckets& x = u.usage;
  if (x.input < 0 || x.cache_read < 0 || x.cache_write_5m < 0 || x.cache_write_1h < 0 ||
      x.output < 0 || x.reasoning < 0 || x.reasoning > x.output) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0] | 1u;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  tokmeter::ParsedUsage whole = tokmeter::ParseUsageStream(in);
  Check(whole);

  tokmeter::UsageStreamParser p;
  size_t pos = 0;
  while (pos < in.size()) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 64;
    p.Feed(in.substr(pos, n));
    Check(p.result());
    pos += n;
  }
  const tokmeter::ParsedUsage& split = p.Finish();
  Check(split);
  if (!Same(whole, split)) std::abort();
  return 0;
}
