// Fuzzes pricing tables (PriceTable::Parse) and model-name matching (Find,
// Cost). Invariants: never crash; costs are finite and non-negative.
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "src/pricing/pricing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tokmeter::PriceTable;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  tokmeter::TokenBuckets t;
  t.input = 250000;
  t.output = 1000;
  t.cache_read = 5;
  if (auto c = PriceTable::Builtin().Cost(in, t); c && (!std::isfinite(*c) || *c < 0)) std::abort();
  auto table = PriceTable::Parse(in, "fuzz.json");
  if (table.ok()) {
    for (const auto& m : table->models()) {
      if (auto c = table->Cost(m.id, t); !c || !std::isfinite(*c) || *c < 0) std::abort();
    }
    (void)table->Find("claude-opus-4-1@20250805");
  }
  return 0;
}
