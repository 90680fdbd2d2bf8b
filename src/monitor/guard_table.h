// src/monitor/guard_table.h — the verdicts the guard reads, published by the
// monitor: one writer (the flusher thread), any number of lock-free readers.
//
// A slot holds a scope's 64-bit key (a hash of tag key and value) and its
// state word (verdict, reason, budget). Keys are never removed from a table:
// a scope that is allowed again keeps its slot with an "allow" state. When
// three quarters of the slots are used the writer builds a new table with
// the scopes that still warn or deny and publishes it; old tables stay
// allocated until the monitor is destroyed (a reader may still hold one).
#ifndef TOKMETER_MONITOR_GUARD_TABLE_H_
#define TOKMETER_MONITOR_GUARD_TABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tokmeter/monitor.h"

namespace tokmeter::monitor_internal {

// state: verdict in bits 0-1, reason in bits 8-15, budget index + 1 in bits
// 16-47. 0 = allow.
inline uint64_t PackState(Verdict v, GuardResult::Reason r, int budget) {
  if (v == Verdict::kAllow) return 0;
  return uint64_t(v) | (uint64_t(r) << 8) | (uint64_t(uint32_t(budget + 1)) << 16);
}
inline GuardResult UnpackState(uint64_t s) {
  GuardResult g;
  g.verdict = static_cast<Verdict>(s & 3);
  g.reason = static_cast<GuardResult::Reason>((s >> 8) & 0xff);
  g.budget = int((s >> 16) & 0xffffffffu) - 1;
  return g;
}

// The key of a scope: never 0.
uint64_t ScopeKey(std::string_view key, std::string_view value);

class GuardTable {
 public:
  explicit GuardTable(size_t slots);  // rounded up to a power of two
  // Reader side.
  uint64_t Get(uint64_t key) const;
  bool any() const { return live_.load(std::memory_order_acquire) != 0; }
  // Writer side. False when the table is full.
  bool Set(uint64_t key, uint64_t state);
  bool crowded() const { return used_ * 4 >= (mask_ + 1) * 3; }
  template <typename Fn>
  void ForEachLive(Fn fn) const {
    for (size_t i = 0; i <= mask_; ++i) {
      const uint64_t s = slots_[i].state.load(std::memory_order_relaxed);
      if (s != 0) fn(slots_[i].key.load(std::memory_order_relaxed), s);
    }
  }
  size_t capacity() const { return mask_ + 1; }

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};
    std::atomic<uint64_t> state{0};
  };
  std::unique_ptr<Slot[]> slots_;
  size_t mask_;
  size_t used_ = 0;                // writer only
  std::atomic<uint64_t> live_{0};  // slots whose state is not allow
};

}  // namespace tokmeter::monitor_internal

#endif  // TOKMETER_MONITOR_GUARD_TABLE_H_
