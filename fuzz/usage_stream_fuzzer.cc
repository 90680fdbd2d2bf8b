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
  const tokmeter::Usage& x = a.usage;
  const tokmeter::Usage& y = b.usage;
  return x.input_tokens == y.input_tokens && x.cache_read_tokens == y.cache_read_tokens &&
         x.cache_write_5m_tokens == y.cache_write_5m_tokens &&
         x.cache_write_1h_tokens == y.cache_write_1h_tokens && x.output_tokens == y.output_tokens &&
         x.reasoning_tokens == y.reasoning_tokens && a.partial == b.partial &&
         a.events == b.events && a.bad_payloads == b.bad_payloads && a.model == b.model &&
         a.response_id == b.response_id && a.anomalies == b.anomalies && a.provider == b.provider;
}

void Check(const tokmeter::ParsedUsage& u) {
  const tokmeter::Usage& x = u.usage;
  if (x.input_tokens < 0 || x.cache_read_tokens < 0 || x.cache_write_5m_tokens < 0 ||
      x.cache_write_1h_tokens < 0 || x.output_tokens < 0 || x.reasoning_tokens < 0 ||
      x.reasoning_tokens > x.output_tokens) {
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
