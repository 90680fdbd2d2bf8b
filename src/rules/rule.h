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

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_RULE_H_
