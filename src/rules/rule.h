// src/rules/rule.h — what every rule tracker shares: its options and how it
// reports a finding the moment it fires.
//
// A tracker is fed observations one at a time (Observe), keeps bounded state
// (per window, per session, per turn, per group: memory grows with those
// keys, not with the events), raises a live alert the first time a subject
// breaks its rule, and gives its findings over everything it saw
// (AppendFindings) — the same code for `tokmeter detect`, `tokmeter watch`
// and the in-process monitor.
#ifndef TOKMETER_RULES_RULE_H_
#define TOKMETER_RULES_RULE_H_

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>

#include "src/model/thresholds.h"
#include "src/rules/observation.h"
#include "tokmeter/finding.h"

namespace tokmeter::rules {

struct RuleOptions {
  // The spike and retry-storm window.
  int64_t window_ns = thresholds::kDefaultWindowNs;
  // Live use: state older than this behind the newest observation is
  // forgotten (windows, hours, idle sessions and turns), so memory stays
  // bounded in a process that runs for months; findings then cover the
  // retained span. 0 keeps everything (a batch run over files).
  int64_t retain_ns = 0;
  // The loop rule's repeat count (the guard trips on the same count).
  int loop_repeats = thresholds::kLoopMinRepeats;
};

// A live alert: the finding as it stands when its rule first fires for that
// subject, and the observation that made it fire (nullptr when time passing
// did, e.g. an idle hour ending).
using AlertFn = std::function<void(const Finding& f, const Observation* cause)>;

// Calls the alert function, if any.
inline void Raise(const AlertFn* fn, const Finding& f, const Observation* cause) {
  if (fn != nullptr && *fn) (*fn)(f, cause);
}

// How a batch run (RuleOptions::retain_ns == 0) finds the sessions and turns
// nobody writes to any more (thresholds.h: kSessionIdleNs): every kEvery
// observations a tracker sweeps its keys and closes those Idle() names.
class IdleSweep {
 public:
  static constexpr int kShift = 14;
  static constexpr uint64_t kEvery = uint64_t{1} << kShift;
  // Counts an observation at `time_ns`; true when it is time to sweep.
  bool Tick(int64_t time_ns) {
    latest_ns_ = std::max(latest_ns_, time_ns);
    return (++observed_ & (kEvery - 1)) == 0;
  }
  // The count of observations so far (what `touched` below is in).
  uint64_t observed() const { return observed_; }
  // Not written to for kEvery observations (touched: observed() when it
  // last was) nor for kSessionIdleNs of event time before the newest one.
  bool Idle(uint64_t touched, int64_t last_ns) const {
    return touched + kEvery <= observed_ && latest_ns_ > INT64_MIN + thresholds::kSessionIdleNs &&
           last_ns < latest_ns_ - thresholds::kSessionIdleNs;
  }

 private:
  uint64_t observed_ = 0;
  int64_t latest_ns_ = INT64_MIN;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_RULE_H_
