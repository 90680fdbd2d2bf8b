#include "src/rules/engine.h"

#include <algorithm>
#include <tuple>

namespace tokmeter::rules {

RuleEngine::RuleEngine(RuleOptions o)
    : opts_(o),
      spike_(opts_),
      storm_(opts_),
      sessions_(opts_),
      fanout_(opts_),
      background_(opts_),
      groups_(opts_) {}

void RuleEngine::Observe(const Observation& o) {
  const AlertFn* alert = alert_ ? &alert_ : nullptr;
  latest_ns_ = std::max(latest_ns_, o.time_ns);
  spike_.Observe(o, alert);
  storm_.Observe(o, alert);
  sessions_.Observe(o, alert);
  fanout_.Observe(o, alert);
  background_.Observe(o);
  groups_.Observe(o, alert);
}

void RuleEngine::Advance(int64_t now_ns) {
  background_.Advance(now_ns, alert_ ? &alert_ : nullptr);
  if (opts_.retain_ns <= 0) return;
  const int64_t before = now_ns - opts_.retain_ns;
  // Forgetting walks the state: once a minute of event time is enough.
  if (before < forgotten_until_ + 60'000'000'000) return;
  forgotten_until_ = before;
  spike_.Forget(before);
  storm_.Forget(before);
  sessions_.Forget(before);
  fanout_.Forget(before);
  background_.Forget(before);
  groups_.Forget(before);
}

std::vector<Finding> RuleEngine::Findings() const {
  std::vector<Finding> out;
  spike_.AppendFindings(&out);
  storm_.AppendFindings(&out);
  sessions_.AppendFindings(&out);
  fanout_.AppendFindings(&out);
  background_.AppendFindings(&out);
  groups_.AppendFindings(&out);
  SortFindings(out);
  return out;
}

void SortFindings(std::vector<Finding>& all) {
  std::stable_sort(all.begin(), all.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    if (a.tokens != b.tokens) return a.tokens > b.tokens;
    return std::tie(a.kind, a.subject, a.time_ns) < std::tie(b.kind, b.subject, b.time_ns);
  });
}

}  // namespace tokmeter::rules
