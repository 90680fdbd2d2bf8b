// src/monitor/monitor_impl.h — the monitor's state (monitor.cc). Internal:
// the guard reads `global`, `table` and `specs`; the rest belongs to the
// flusher thread (under `mu`) and the callback thread (under `queue_mu`).
#ifndef TOKMETER_MONITOR_MONITOR_IMPL_H_
#define TOKMETER_MONITOR_MONITOR_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "src/model/usage_event.h"
#include "src/monitor/guard_table.h"
#include "src/pricing/pricing.h"
#include "src/rules/budgets.h"
#include "src/rules/engine.h"
#include "tokmeter/monitor.h"

namespace tokmeter {

struct Monitor::Impl {
  MonitorOptions opts;
  std::vector<BudgetSpec> specs;  // immutable after Create
  absl::TimeZone tz;
  std::optional<PriceTable> user_prices;
  const PriceTable* prices = nullptr;
  bool usd = false;  // some budget is in USD: price each record

  // The rules; the flusher thread (Process) and Findings() take `mu`.
  mutable std::mutex mu;
  std::unique_ptr<rules::RuleEngine> engine;
  std::unique_ptr<rules::BudgetTracker> budgets;
  std::vector<Finding> budget_findings;  // budget alerts so far (Findings())
  int64_t latest_ns = 0, wall_at_latest = 0;
  TraceId cause_trace;  // the record being observed
  uint64_t cause_span = 0;
  std::vector<AlertRecord>* out = nullptr;  // the batch being processed
  rules::AlertFn budget_alert = [this](const Finding& f, const rules::Observation* cause) {
    budget_findings.push_back(f);
    OnFinding(f, cause);
  };

  // Guard verdicts per scope (key 0: all traffic), and what publishes them.
  struct Scope {
    std::string key, value;
    std::vector<std::pair<int, Verdict>> budgets;  // budgets warning or denying
  };
  absl::flat_hash_map<uint64_t, Scope> scopes;
  struct LoopDeny {
    std::string session;
    int64_t until_ns = 0;
  };
  absl::flat_hash_map<uint64_t, LoopDeny> loop_denies;
  bool storm_active = false;
  bool global_dirty = true;
  std::atomic<uint64_t> global{0};
  std::atomic<monitor_internal::GuardTable*> table{nullptr};
  std::vector<std::unique_ptr<monitor_internal::GuardTable>> tables;  // freed with the monitor

  // Callbacks.
  std::thread callbacks;
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<AlertRecord> queue;
  bool stopping = false;

  std::atomic<uint64_t> observed{0}, alerts{0}, callbacks_made{0}, callback_errors{0},
      callbacks_dropped{0}, guard_full{0}, process_errors{0};

  int64_t Now() const;
  void Observe(const UsageEvent& e);
  void Advance(int64_t now_ns);
  void OnFinding(const Finding& f, const rules::Observation* cause);
  void Emit(AlertRecord a);
  void ApplyBudgetChange(const rules::BudgetTracker::Change& c);
  uint64_t StateOf(uint64_t key) const;
  void Recompute(uint64_t key);
  void Publish();
  void RunCallbacks();
};

}  // namespace tokmeter

#endif  // TOKMETER_MONITOR_MONITOR_IMPL_H_
