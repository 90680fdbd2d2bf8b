// src/rules/sketch.h — the few largest contributors of a window, in bounded
// memory.
//
// A Space-Saving summary: up to kSlots keys with their sums. While no more
// than kSlots distinct keys were added the sums are exact; past that a new key
// takes the smallest slot and inherits its sum (an over-estimate by at most
// that sum), so a key with a large share is never lost.
#ifndef TOKMETER_RULES_SKETCH_H_
#define TOKMETER_RULES_SKETCH_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "src/rules/observation.h"

namespace tokmeter::rules {

class TopSketch {
 public:
  static constexpr size_t kSlots = 6;

  void Add(const Key& k, int64_t n) {
    if (!k || n <= 0) return;
    Slot* min = nullptr;
    for (Slot& s : slots_) {
      if (s.id == k.id) {
        s.sum += n;
        return;
      }
      if (min == nullptr || s.sum < min->sum) min = &s;
    }
    if (slots_.size() < kSlots) {
      slots_.push_back({k.id, n, std::string(k.name)});
    } else {
      min->id = k.id;
      min->sum += n;
      min->name.assign(k.name.data(), k.name.size());
    }
  }
  void Merge(const TopSketch& o) {
    for (const Slot& s : o.slots_) Add(Key{s.id, s.name}, s.sum);
  }
  // The largest `n`, largest first (ties by name).
  std::vector<std::pair<std::string, int64_t>> Top(size_t n) const {
    std::vector<std::pair<std::string, int64_t>> v;
    for (const Slot& s : slots_) v.emplace_back(s.name, s.sum);
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (v.size() > n) v.resize(n);
    return v;
  }
  bool empty() const { return slots_.empty(); }

 private:
  struct Slot {
    uint64_t id;
    int64_t sum;
    std::string name;
  };
  std::vector<Slot> slots_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_SKETCH_H_
