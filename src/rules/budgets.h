// src/rules/budgets.h — budgets (tokmeter/budget.h) as a rule: consumption
// per scope and period, threshold crossings that fire once, and the quota
// level and month-end forecast `tokmeter quota` prints.
#ifndef TOKMETER_RULES_BUDGETS_H_
#define TOKMETER_RULES_BUDGETS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "src/rules/rule.h"
#include "tokmeter/budget.h"

namespace tokmeter::rules {

// ---- the quota figures ------------------------------------------------------------

// [start, end) of the calendar period (day, week from Monday, month) holding
// `t_ns` in `tz`.
struct Period {
  int64_t start_ns = 0, end_ns = 0;
};
Period CalendarPeriod(BudgetPeriod p, int64_t t_ns, const absl::TimeZone& tz);

// consumed + the period's average rate so far × what is left of it.
double Forecast(double consumed, int64_t start_ns, int64_t now_ns, int64_t end_ns);

// Levels by share of quota LEFT (thresholds.h kLevel*): minimal, balanced,
// aggressive, emergency.
std::string_view OptimizationLevel(double share_left);
// The level a forecast asks for: minimal while it stays within the limit; up
// to kForecastBalancedUpTo × the limit balanced, up to kForecastAggressiveUpTo
// aggressive, beyond that emergency.
std::string_view ForecastLevel(double forecast_share);
// 0 (minimal) … 3 (emergency); -1 for an unknown name.
int LevelRank(std::string_view level);
// The stricter of the two; `basis` says which ("share_left" or "forecast").
std::string_view QuotaLevel(double share_left, double forecast_share, std::string_view* basis);
// Runs that fit in `tokens_left` at `tokens_per_run` each; -1 when unknown.
int64_t RunsLeft(int64_t tokens_left, double tokens_per_run);

// ---- the tracker ------------------------------------------------------------------

enum class Verdict : uint8_t { kAllow = 0, kWarn = 1, kDeny = 2 };

struct BudgetStatus {
  int spec = 0;                                    // index into the tracker's specs
  std::string value;                               // the scope's value ("" for all traffic)
  double consumed = 0;                             // in the budget's unit
  double share = 0;                                // consumed / limit
  int64_t period_start_ns = 0, period_end_ns = 0;  // calendar periods
  double forecast = -1;                            // calendar periods; -1 otherwise
  int64_t unpriced_tokens = 0;                     // USD budgets: tokens of models without a price
  Verdict verdict = Verdict::kAllow;
};

class BudgetTracker {
 public:
  // `warn_share`: from this share of the limit on, the guard warns.
  BudgetTracker(std::vector<BudgetSpec> specs, absl::TimeZone tz, double warn_share,
                int64_t retain_ns);
  // Not copied or moved: it keeps pointers into its own table (last_).
  BudgetTracker(const BudgetTracker&) = delete;
  BudgetTracker& operator=(const BudgetTracker&) = delete;

  void Observe(const Observation& o, const AlertFn* alert);
  // Time passed: calendar periods that ended start again (a denied scope is
  // allowed again), rolling windows slide; idle scopes are forgotten after
  // the retain span.
  void Advance(int64_t now_ns);

  const std::vector<BudgetSpec>& specs() const { return specs_; }
  std::vector<BudgetStatus> Statuses(int64_t now_ns) const;
  // Scopes whose verdict changed since the last call (the guard publishes
  // them).
  struct Change {
    int spec;
    std::string value;
    Verdict verdict;
  };
  std::vector<Change> TakeChanges();

 private:
  struct State {
    int spec = 0;
    std::string value;
    double consumed = 0;
    int64_t unpriced_tokens = 0;
    int64_t period_start_ns = 0, period_end_ns = 0;
    uint32_t crossed = 0;  // bit i: thresholds[i] reached in this period
    // Below this consumption Judge() changes nothing (no threshold to cross,
    // the same verdict); 0: judge on the next record (new, or rolled).
    double judge_at = 0;
    Verdict verdict = Verdict::kAllow;
    int64_t last_ns = 0;
    // Rolling windows: kSlots buckets of window / kSlots.
    static constexpr int kSlots = 60;
    std::vector<double> slots;
    int64_t slot_index = INT64_MIN;  // absolute index of the newest bucket
  };
  double Amount(const BudgetSpec& b, const Observation& o, int64_t* unpriced) const;
  void Roll(State& s, const BudgetSpec& b, int64_t t_ns);  // new period / slide the window
  void Judge(State& s, const BudgetSpec& b, const Observation* cause, int64_t t_ns,
             const AlertFn* alert);
  BudgetStatus Status(const State& s, int64_t now_ns) const;
  Finding MakeFinding(const State& s, double threshold, int64_t t_ns) const;

  std::vector<BudgetSpec> specs_;
  // Per spec: the dimension its key names (Observation::tag without parsing
  // the key on every record), -1 for another tag or none.
  std::vector<int> dims_;
  // Advance() has nothing to do before this event time (no calendar period
  // ends, no idle scope can be forgotten) unless a budget is rolling: it
  // skips the walk over every scope (thousands of sessions, each pass).
  int64_t next_due_ = INT64_MIN;
  bool rolling_ = false;
  int64_t Due(const State& s, const BudgetSpec& b) const;
  absl::TimeZone tz_;
  double warn_share_;
  int64_t retain_ns_;
  absl::flat_hash_map<uint64_t, State> states_;  // by (spec, value)
  // Per spec, the state its previous record went to (the global scopes take
  // every record, and records of one session come in runs): valid while
  // states_version_ is unchanged (an insertion or an erasure may move it).
  struct LastState {
    uint64_t id = 0;  // the scope's value: Key::id, or a hash of another tag's
    uint64_t version = 0;
    State* state = nullptr;
  };
  std::vector<LastState> last_;
  uint64_t states_version_ = 0;
  std::vector<Change> changes_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_BUDGETS_H_
