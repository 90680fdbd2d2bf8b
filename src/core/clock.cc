#include "src/core/clock.h"

#include <time.h>

#include "tokmeter/internal/ring.h"

namespace tokmeter::internal {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void TickClock::Calibrate() {
  // Anchor: read the realtime clock between two tick reads and take the
  // midpoint, so the anchor error is half a clock read (~10 ns).
  uint64_t a = Ticks();
  int64_t real = RealtimeNs();
  int64_t mono = MonotonicNs();
  uint64_t b = Ticks();
  tick0_ = a + (b - a) / 2;
  real0_ = real;
  mono0_ = mono;
#if defined(TOKMETER_INTERNAL_HAVE_RDTSC)
  // First rate estimate over ~2 ms; Refine() improves it as time passes.
  int64_t until = mono0_ + 2000000;
  int64_t now;
  uint64_t t;
  do {
    now = MonotonicNs();
    t = Ticks();
  } while (now < until);
  ns_per_tick_ = double(now - mono0_) / double(t - tick0_);
#else
  ns_per_tick_ = 1.0;
#endif
}

void TickClock::Refine() {
#if defined(TOKMETER_INTERNAL_HAVE_RDTSC)
  uint64_t t = Ticks();
  int64_t now = MonotonicNs();
  if (now - mono0_ > 50000000 && t > tick0_) {  // after 50 ms the error is < 1 ppm
    ns_per_tick_ = double(now - mono0_) / double(t - tick0_);
  }
#endif
}

}  // namespace tokmeter::internal
