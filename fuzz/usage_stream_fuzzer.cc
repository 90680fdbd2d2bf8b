// Fuzzes the SSE usage parser. The first byte seeds where the input is cut
// into chunks; invariants: never crash, buckets non-negative, reasoning <=
// output, and the result does not depend on how the bytes were split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz/buckets_check.h"
#include "tokmeter/usage.h"

namespace {

bool Same(const tokmeter::ParsedUsage& a, const tokmeter::ParsedUsage& b) {
  return a.usage == b.usage && a.partial == b.partial && a.events == b.events &&
         a.bad_payloads == b.bad_payloads && a.model == b.model && a.response_id == b.response_id &&
         a.anomalies == b.anomalies && a.provider == b.provider;
}

using tokmeter::fuzz::CheckBuckets;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0] | 1u;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  tokmeter::ParsedUsage whole = tokmeter::ParseUsageStream(in);
  CheckBuckets(whole.usage);

  tokmeter::UsageStreamParser p;
  size_t pos = 0;
  while (pos < in.size()) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 64;
    p.Feed(in.substr(pos, n));
    CheckBuckets(p.result().usage);
    pos += n;
  }
  const tokmeter::ParsedUsage& split = p.Finish();
  CheckBuckets(split.usage);
  if (!Same(whole, split)) std::abort();
  return 0;
}
