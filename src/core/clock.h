// src/core/clock.h — converts ring ticks (TSC) to Unix nanoseconds.
#ifndef TOKMETER_CORE_CLOCK_H_
#define TOKMETER_CORE_CLOCK_H_

#include <cstdint>

namespace tokmeter::internal {

// Anchored at Calibrate(); Refine() sharpens the tick rate against
// CLOCK_MONOTONIC as time passes. Not thread-safe: owned by the flusher.
class TickClock {
 public:
  // Takes ~2 ms on TSC hosts (measures the tick rate).
  void Calibrate();
  // Re-measures the rate over the whole time since Calibrate().
  void Refine();
  int64_t ToUnixNs(uint64_t ticks) const {
    return real0_ + static_cast<int64_t>(static_cast<double>(static_cast<int64_t>(ticks - tick0_)) *
                                         ns_per_tick_);
  }
  double ns_per_tick() const { return ns_per_tick_; }

 private:
  uint64_t tick0_ = 0;
  int64_t mono0_ = 0;
  int64_t real0_ = 0;
  double ns_per_tick_ = 1.0;
};

int64_t MonotonicNs();
int64_t RealtimeNs();

}  // namespace tokmeter::internal

#endif  // TOKMETER_CORE_CLOCK_H_
