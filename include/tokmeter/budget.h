// tokmeter/budget.h — budgets: how much a scope may spend in a period.
//
// One grammar for the monitor (MonitorOptions::budgets), `tokmeter watch
// --budget`, and Python:
//
//   SCOPE=LIMIT[/PERIOD][,hard|,soft][,at=50:80:100]
//
//   SCOPE   total            all traffic, in tokens
//           cost             all traffic, in USD
//           requests         all traffic, in LLM requests
//           KEY              each value of a tag separately: session, user,
//                            agent, job, workflow, model, tool, provider,
//                            channel, run; any other tag as tag.NAME
//           KEY:VALUE        one value only, e.g. job:heartbeat
//   LIMIT   tokens: 2M, 500k, 1.5G, 250000
//           USD:    $5, 5usd, 0.50$
//           requests: 1000req, 10kreq
//           (`cost` and `requests` scopes take a plain number in their unit)
//   PERIOD  day | week | month  calendar periods in the monitor's time zone
//                               (weeks start on Monday)
//           5m, 1h, 90s, 24h    a rolling window that long
//           (none)              the scope's lifetime: a session budget
//                               covers the whole session
//   hard    at 100 % the guard denies the next call in the scope (soft, the
//           default, only warns)
//   at=     the alert thresholds in percent, ascending (default 50:80:100)
//
// Examples: total=300M/month, session=2M, job:heartbeat=500k/day,
// cost=50/day,hard, user=$5/day, total=2M/5m,hard.
#ifndef TOKMETER_BUDGET_H_
#define TOKMETER_BUDGET_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tokmeter {

enum class BudgetUnit { kTokens, kUsd, kRequests };
enum class BudgetPeriod { kLifetime, kRolling, kDay, kWeek, kMonth };

std::string_view BudgetUnitName(BudgetUnit u);      // tokens | usd | requests
std::string_view BudgetPeriodName(BudgetPeriod p);  // lifetime | rolling | day | week | month

struct BudgetSpec {
  std::string text;   // as written (names the budget in alerts and the guard's reasons)
  std::string key;    // "" = all traffic; else the tag it is kept per
  std::string value;  // "" = each value of `key` separately; else that value only
  BudgetUnit unit = BudgetUnit::kTokens;
  double limit = 0;  // > 0, in `unit`
  BudgetPeriod period = BudgetPeriod::kLifetime;
  int64_t window_ns = 0;                             // kRolling only
  std::vector<double> thresholds = {0.5, 0.8, 1.0};  // shares of the limit, ascending
  bool hard = false;
};

// Parses one budget. InvalidArgument names the part that is wrong and shows
// the expected form.
absl::StatusOr<BudgetSpec> ParseBudget(std::string_view text);

// "300M", "4.6M", "1.5G", "500k", "250000" → tokens. InvalidArgument otherwise.
absl::StatusOr<int64_t> ParseTokenCount(std::string_view s);

}  // namespace tokmeter

#endif  // TOKMETER_BUDGET_H_
