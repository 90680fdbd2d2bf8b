// The token-bucket invariant every fuzzer checks on what a parser or reader
// returns: no bucket negative, reasoning (a part of output) at most output.
#ifndef TOKMETER_FUZZ_BUCKETS_CHECK_H_
#define TOKMETER_FUZZ_BUCKETS_CHECK_H_

#include <cstdlib>

#include "tokmeter/buckets.h"

namespace tokmeter::fuzz {

// Aborts (a crash the fuzzer reports) when `t` breaks the invariant.
inline void CheckBuckets(const TokenBuckets& t) {
  if (t.input < 0 || t.cache_read < 0 || t.cache_write_5m < 0 || t.cache_write_1h < 0 ||
      t.output < 0 || t.reasoning < 0 || t.reasoning > t.output) {
    std::abort();
  }
}

}  // namespace tokmeter::fuzz

#endif  // TOKMETER_FUZZ_BUCKETS_CHECK_H_
