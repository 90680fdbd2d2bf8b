// fanout (fanout.h).
#include "src/rules/fanout.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/rules/text.h"

namespace tokmeter::rules {
namespace {
constexpr uint64_t kIdleObservations = uint64_t{1} << 20;
constexpr uint64_t kSweepEvery = uint64_t{1} << 16;
}  // namespace

FanoutRule::FanoutRule(const RuleOptions& o) : retain_ns_(o.retain_ns) {}

void FanoutRule::Observe(const Observation& o, const AlertFn* alert) {
  if (o.tool_calls <= 0) return;
  if ((++observed_ % kSweepEvery) == 0 && retain_ns_ == 0) {
    for (auto it = turns_.begin(); it != turns_.end();) {
      auto cur = it++;
      if (cur->second.touched + kIdleObservations < observed_) {
        if (cur->second.fired) closed_.push_back(MakeFinding(cur->second));
        turns_.erase(cur);
      }
    }
  }
  const Key& turn = o.turn_level ? o.turn : o.parent;
  if (o.turn_level && !turn) {
    // A turn summary without an id: the line is the whole turn.
    Turn t;
    t.summary = o.tool_calls;
    t.first_ns = t.last_ns = o.time_ns;
    t.session = std::string(o.thread().name);
    t.dim = o.thread_dim();
    t.name = std::string(o.name);
    if (t.count() >= thresholds::kFanoutMinToolCalls) {
      t.fired = true;
      closed_.push_back(MakeFinding(t));
      Raise(alert, closed_.back(), &o);
    }
    return;
  }
  if (!turn) return;
  const uint64_t key = absl::HashOf(o.thread().id, turn.id);
  auto [it, inserted] = turns_.try_emplace(key);
  Turn& t = it->second;
  if (inserted) {
    t.first_ns = t.last_ns = o.time_ns;
    t.session = std::string(o.thread().name);
    t.dim = o.thread_dim();
  }
  t.touched = observed_;
  t.first_ns = std::min(t.first_ns, o.time_ns);
  t.last_ns = std::max(t.last_ns, o.time_ns);
  if (o.turn_level) {
    t.summary = std::max(t.summary, o.tool_calls);
    if (!o.name.empty()) t.name = std::string(o.name);
  } else {
    t.calls += o.tool_calls;
  }
  Check(t, o, alert);
}

void FanoutRule::Check(Turn& t, const Observation& o, const AlertFn* alert) {
  if (t.fired || t.count() < thresholds::kFanoutMinToolCalls) return;
  t.fired = true;
  Raise(alert, MakeFinding(t), &o);
}

Finding FanoutRule::MakeFinding(const Turn& t) const {
  Finding f;
  f.kind = "fanout";
  f.time_ns = t.first_ns;
  f.end_ns = t.last_ns;
  const std::string turn = t.name.empty() ? absl::StrCat("turn at ", ClockTime(t.first_ns), " UTC")
                                          : absl::StrCat("turn ", t.name);
  f.subject = absl::StrCat(std::string(DimName(t.dim)), " ", t.session, " ", turn);
  f.keys = {{std::string(DimName(t.dim)), t.session}};
  const int64_t n = t.count();
  f.severity = n >= 4 * thresholds::kFanoutMinToolCalls ? Severity::kCritical : Severity::kWarning;
  f.evidence = {{"tool_calls", double(n)}, {"seconds", double(t.last_ns - t.first_ns) / 1e9}};
  f.rule = absl::StrFormat("one turn with >= %d tool calls (tool-call fan-out)",
                           thresholds::kFanoutMinToolCalls);
  f.recommendation = absl::StrCat("Fan-out rule: one turn made ", n,
                                  " tool calls. Narrow searches and scans, batch tool calls, "
                                  "limit sub-agent spawns per turn.");
  return f;
}

void FanoutRule::Forget(int64_t before_ns) {
  for (auto it = turns_.begin(); it != turns_.end();) {
    auto cur = it++;
    if (cur->second.last_ns < before_ns) {
      if (cur->second.fired) closed_.push_back(MakeFinding(cur->second));
      turns_.erase(cur);
    }
  }
  closed_.erase(std::remove_if(closed_.begin(), closed_.end(),
                               [&](const Finding& f) { return f.end_ns < before_ns; }),
                closed_.end());
}

void FanoutRule::AppendFindings(std::vector<Finding>* out) const {
  out->insert(out->end(), closed_.begin(), closed_.end());
  for (const auto& [k, t] : turns_)
    if (t.fired) out->push_back(MakeFinding(t));
}

}  // namespace tokmeter::rules
