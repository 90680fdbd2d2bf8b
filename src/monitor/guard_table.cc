#include "src/monitor/guard_table.h"

// Inlined: a guard check hashes two short strings, and calls into the
// shared library cost more than the hashing itself.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tokmeter::monitor_internal {

uint64_t ScopeKey(std::string_view key, std::string_view value) {
  const uint64_t k = XXH3_64bits(key.data(), key.size());
  const uint64_t h = XXH3_64bits_withSeed(value.data(), value.size(), k);
  return h != 0 ? h : 1;
}

GuardTable::GuardTable(size_t slots) {
  size_t n = 16;
  while (n < slots) n <<= 1;
  slots_ = std::make_unique<Slot[]>(n);
  mask_ = n - 1;
}

uint64_t GuardTable::Get(uint64_t key) const {
  for (size_t i = key & mask_, probes = 0; probes <= mask_; i = (i + 1) & mask_, ++probes) {
    const uint64_t k = slots_[i].key.load(std::memory_order_acquire);
    if (k == key) return slots_[i].state.load(std::memory_order_acquire);
    if (k == 0) return 0;
  }
  return 0;
}

bool GuardTable::Set(uint64_t key, uint64_t state) {
  for (size_t i = key & mask_, probes = 0; probes <= mask_; i = (i + 1) & mask_, ++probes) {
    const uint64_t k = slots_[i].key.load(std::memory_order_relaxed);
    if (k == key || k == 0) {
      const uint64_t before = slots_[i].state.load(std::memory_order_relaxed);
      if (k == 0) {
        if (state == 0) return true;  // allow: nothing to record
        // The state first, then the key (release): a reader that finds the
        // key sees its state.
        slots_[i].state.store(state, std::memory_order_relaxed);
        slots_[i].key.store(key, std::memory_order_release);
        ++used_;
      } else {
        slots_[i].state.store(state, std::memory_order_release);
      }
      if ((before == 0) != (state == 0))
        live_.fetch_add(state != 0 ? 1 : uint64_t(-1), std::memory_order_acq_rel);
      return true;
    }
  }
  return false;
}

}  // namespace tokmeter::monitor_internal
