// src/rules/engine.h — every rule, fed one observation at a time.
//
// The engine is what `tokmeter detect`, `tokmeter watch` and the in-process
// monitor run: the same trackers, the same thresholds (src/model/
// thresholds.h), the same findings. Observations may come in any order
// across sessions (files read one after another); within one session they
// should come in time order, as a log has them.
//
// Not thread-safe: one thread feeds it (the reader, or the flusher).
#ifndef TOKMETER_RULES_ENGINE_H_
#define TOKMETER_RULES_ENGINE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/rules/background.h"
#include "src/rules/fanout.h"
#include "src/rules/groups.h"
#include "src/rules/rule.h"
#include "src/rules/sessions.h"
#include "src/rules/windows.h"

namespace tokmeter::rules {

class RuleEngine {
 public:
  explicit RuleEngine(RuleOptions o = {});

  // Live alerts: each rule calls `fn` the moment it first fires for a
  // subject (findings without a live moment — the group rules except
  // large_run — only come from Findings()).
  void OnAlert(AlertFn fn) { alert_ = std::move(fn); }

  void Observe(const Observation& o);
  // The period before the one judged (increasing, output_ratio_rise per
  // group).
  void ObservePrevious(const Observation& o) { groups_.ObservePrevious(o); }
  void SetPreviousTotals(std::map<std::string, int64_t> tokens_by_group) {
    groups_.SetPreviousTotals(std::move(tokens_by_group));
  }
  // Time has passed up to `now_ns` (live): hours that ended are judged, and
  // with RuleOptions::retain_ns, state older than that is forgotten.
  void Advance(int64_t now_ns);

  // The findings over everything observed (and retained), most serious
  // first: severity, then tokens at stake, then kind and subject.
  std::vector<Finding> Findings() const;

  const SpikeRule& spikes() const { return spike_; }
  const StormRule& storms() const { return storm_; }
  Dim PrimaryDim() const { return groups_.PrimaryDim(); }
  int64_t latest_ns() const { return latest_ns_; }
  const RuleOptions& options() const { return opts_; }

 private:
  RuleOptions opts_;
  AlertFn alert_;
  SpikeRule spike_;
  StormRule storm_;
  SessionRules sessions_;
  FanoutRule fanout_;
  BackgroundRule background_;
  GroupRules groups_;
  int64_t latest_ns_ = 0;
  int64_t forgotten_until_ = INT64_MIN;
};

// Orders findings: severity (critical first), tokens, kind, subject.
void SortFindings(std::vector<Finding>& findings);

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_ENGINE_H_
