// Fuzzes the budget grammar (tokmeter::ParseBudget, ParseTokenCount) and a
// budget tracker built from what parses. Invariants: never crash; a parsed
// budget has a finite positive limit, ascending thresholds, a window exactly
// when it is rolling, and parses again from its own text to the same budget;
// token counts are positive.
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "src/rules/budgets.h"
#include "src/rules/observation.h"
#include "tokmeter/budget.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void Track(const tokmeter::BudgetSpec& b) {
  using namespace tokmeter::rules;
  BudgetTracker tracker({b}, absl::UTCTimeZone(), 0.8, int64_t{48} * 3600 * 1'000'000'000);
  int alerts = 0;
  AlertFn fn = [&](const tokmeter::Finding& f, const Observation*) {
    Check(f.kind == "budget" && !f.recommendation.empty());
    ++alerts;
  };
  tokmeter::UsageEvent e;
  const std::string name = b.value.empty() ? std::string("v") : b.value;
  int64_t t = 1'764'000'000'000'000'000;
  for (int i = 0; i < 4; ++i, t += int64_t{20} * 3600 * 1'000'000'000) {
    Observation o;
    o.time_ns = t;
    o.tokens.input = 400'000 * (i + 1);
    o.requests = 1;
    o.cost = i == 2 ? std::nan("") : 0.75 * i;
    o.event = &e;
    for (int d = 0; d < kNumDims; ++d) o.dims[d].name = name;
    HashKeys(o);
    tracker.Observe(o, &fn);
    tracker.Advance(t + 1);
  }
  for (const BudgetStatus& s : tracker.Statuses(t)) Check(s.consumed >= 0 && !std::isnan(s.share));
  Check(alerts <= int(b.thresholds.size()) * 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto n = tokmeter::ParseTokenCount(in); n.ok()) Check(*n > 0);
  auto b = tokmeter::ParseBudget(in);
  if (!b.ok()) return 0;
  Check(std::isfinite(b->limit) && b->limit > 0);
  Check(!b->thresholds.empty() && b->thresholds.size() <= 16);
  for (size_t i = 0; i < b->thresholds.size(); ++i) {
    Check(b->thresholds[i] > 0);
    if (i > 0) Check(b->thresholds[i] > b->thresholds[i - 1]);
  }
  Check((b->period == tokmeter::BudgetPeriod::kRolling) == (b->window_ns > 0));
  Check(b->value.empty() || !b->key.empty());
  auto again = tokmeter::ParseBudget(b->text);
  Check(again.ok() && again->text == b->text && again->key == b->key && again->value == b->value &&
        again->unit == b->unit && again->limit == b->limit && again->period == b->period &&
        again->window_ns == b->window_ns && again->thresholds == b->thresholds &&
        again->hard == b->hard);
  Track(*b);
  return 0;
}
