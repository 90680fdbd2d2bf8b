// fanout (fanout.h).
#include "src/rules/fanout.h"

#include <algorithm>
#include <cmath>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/rules/stats.h"
#include "src/rules/text.h"

namespace tokmeter::rules {
namespace {
constexpr int kSweepShift = 16;
constexpr uint64_t kSweepEvery = uint64_t{1} << kSweepShift;
constexpr uint64_t kIdleObservations = uint64_t{1} << 20;  // a multiple of kSweepEvery

uint32_t Epoch(uint64_t observed) { return uint32_t(observed >> kSweepShift); }
uint16_t Saturated(int64_t n) { return uint16_t(std::clamp<int64_t>(n, 0, UINT16_MAX)); }
}  // namespace

FanoutRule::FanoutRule(const RuleOptions& o) : retain_ns_(o.retain_ns) {}

void FanoutRule::Done(Turn& t) {
  if (t.done) return;
  t.done = true;
  // The turns that used tools: how many a turn that uses tools makes is what
  // differs between agents (turns without any say nothing about it).
  if (t.count() == 0) return;
  History& h = history_[t.background ? 1 : 0];
  const int64_t n = t.count();
  h.turns.push_back(n);
  h.sorted.insert(std::upper_bound(h.sorted.begin(), h.sorted.end(), n), n);
  if (int(h.turns.size()) > thresholds::kFanoutHistoryTurns) {
    h.sorted.erase(std::lower_bound(h.sorted.begin(), h.sorted.end(), h.turns.front()));
    h.turns.pop_front();
  }
  h.p95 = SortedPercentile(h.sorted, 0.95);
  const int64_t floor = int(h.turns.size()) >= thresholds::kFanoutMinHistoryTurns
                            ? thresholds::kFanoutMinToolCalls
                            : thresholds::kFanoutShortHistoryMin;
  h.threshold =
      std::max<int64_t>(floor, int64_t(std::ceil(thresholds::kFanoutP95Multiple * h.p95)));
}

void FanoutRule::Observe(const Observation& o, const AlertFn* alert) {
  if (!o.turn_level && !o.parent) return;  // not part of a turn
  if ((++observed_ % kSweepEvery) == 0 && retain_ns_ == 0) {
    for (auto it = turns_.begin(); it != turns_.end();) {
      auto cur = it++;
      if (cur->second.touched + kIdleObservations < observed_) {
        if (cur->second.fired) closed_.push_back(MakeFinding(cur->second));
        turns_.erase(cur);
      }
    }
    absl::erase_if(done_, [&](const auto& kv) {
      // As for a Turn above: every 2^16 observations, the same test on epochs.
      return kv.second.touched_epoch + Epoch(kIdleObservations) < Epoch(observed_);
    });
  }
  const Key& turn = o.turn_level ? o.turn : o.parent;
  if (o.turn_level && !turn) {
    // A turn summary without an id: the line is the whole turn.
    if (o.rollup) return;
    Turn t;
    t.summary = o.tool_calls;
    t.first_ns = t.last_ns = o.time_ns;
    t.session = std::string(o.thread().name);
    t.dim = o.thread_dim();
    t.name = std::string(o.name);
    t.background = o.background;
    if (t.count() >= history_[t.background ? 1 : 0].threshold) {
      t.fired = true;
      t.p95 = history_[t.background ? 1 : 0].p95;
      t.threshold = history_[t.background ? 1 : 0].threshold;
      closed_.push_back(MakeFinding(t));
      Raise(alert, closed_.back(), &o);
    }
    Done(t);
    return;
  }
  const uint64_t key = absl::HashOf(o.thread().id, turn.id);
  // A key is in turns_ or in done_, never both; the turn being written to
  // is the common case, and done_ (large, cold) is only asked when it is not.
  auto it = turns_.find(key);
  if (auto d = it == turns_.end() ? done_.find(key) : done_.end(); d != done_.end()) {
    // Done and not fired: counted on, as its Turn would be.
    DoneTurn& dt = d->second;
    dt.touched_epoch = Epoch(observed_);
    dt.first_ns = std::min(dt.first_ns, o.time_ns);
    if (o.turn_level) {
      dt.summary = std::max(dt.summary, Saturated(o.tool_calls));
    } else {
      dt.calls = Saturated(int64_t{dt.calls} + o.tool_calls);
    }
    const History& h = history_[o.background ? 1 : 0];
    if (std::max(dt.calls, dt.summary) < h.threshold) {
      if (!o.turn_level) MoveTo(o.thread().id, key);  // may grow done_: dt is not used after
      return;
    }
    // Late calls brought it to the threshold: it is a Turn again, and fires.
    Turn t;
    t.calls = dt.calls;
    t.summary = dt.summary;
    t.first_ns = dt.first_ns;
    t.last_ns = std::max(dt.first_ns, o.time_ns);
    t.touched = observed_;
    t.session = std::string(o.thread().name);
    t.dim = o.thread_dim();
    t.background = o.background;
    if (o.turn_level && !o.name.empty()) t.name = std::string(o.name);
    done_.erase(d);
    Turn& back = turns_.insert_or_assign(key, std::move(t)).first->second;
    Check(back, o, alert);
    back.done = true;  // its count joined the history when it was first done
    if (!o.turn_level) MoveTo(o.thread().id, key);
    return;
  }
  const bool inserted = it == turns_.end();
  if (inserted) it = turns_.try_emplace(key).first;
  Turn& t = it->second;
  if (inserted) {
    t.first_ns = t.last_ns = o.time_ns;
    t.session = std::string(o.thread().name);
    t.dim = o.thread_dim();
    t.background = o.background;
  }
  t.touched = observed_;
  t.first_ns = std::min(t.first_ns, o.time_ns);
  t.last_ns = std::max(t.last_ns, o.time_ns);
  if (!o.turn_level) MoveTo(o.thread().id, key);
  if (o.turn_level) {
    t.summary = std::max(t.summary, o.tool_calls);
    if (!o.name.empty()) t.name = std::string(o.name);
  } else {
    t.calls += o.tool_calls;
  }
  Check(t, o, alert);
  if (o.turn_level) {
    Done(t);
    Retire(key);
  }
}

void FanoutRule::MoveTo(uint64_t thread, uint64_t key) {
  // The session moved on from its previous turn: that one is over.
  uint64_t& cur = current_[thread];
  if (cur != 0 && cur != key) {
    if (auto prev = turns_.find(cur); prev != turns_.end()) {
      Done(prev->second);
      Retire(cur);
    }
  }
  cur = key;
}

void FanoutRule::Retire(uint64_t key) {
  auto it = turns_.find(key);
  if (it == turns_.end() || !it->second.done || it->second.fired) return;
  const Turn& t = it->second;
  static_assert(sizeof(DoneTurn) == 16);
  done_[key] = DoneTurn{t.first_ns, Epoch(t.touched), Saturated(t.calls), Saturated(t.summary)};
  turns_.erase(it);
}

void FanoutRule::Check(Turn& t, const Observation& o, const AlertFn* alert) {
  const History& h = history_[t.background ? 1 : 0];
  if (t.fired || t.done || t.count() < h.threshold) return;
  t.fired = true;
  t.p95 = h.p95;
  t.threshold = h.threshold;
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
  f.evidence = {{"tool_calls", double(n)},
                {"seconds", double(t.last_ns - t.first_ns) / 1e9},
                {"usual_p95", t.p95},
                {"threshold", double(t.threshold)}};
  f.rule = absl::StrFormat(
      "one turn with >= %.0fx the tool calls of the 95th-percentile turn of the previous %d of "
      "its kind, and >= %d (>= %d with fewer than %d turns to compare with) (tool-call fan-out)",
      thresholds::kFanoutP95Multiple, thresholds::kFanoutHistoryTurns,
      thresholds::kFanoutMinToolCalls, thresholds::kFanoutShortHistoryMin,
      thresholds::kFanoutMinHistoryTurns);
  f.recommendation =
      absl::StrCat("Fan-out rule: one turn made ", n, " tool calls (usual turns: up to ",
                   absl::StrFormat("%.0f", t.p95),
                   "). Narrow searches and scans, batch tool calls, limit "
                   "sub-agent spawns per turn.");
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
  absl::erase_if(done_, [&](const auto& kv) { return kv.second.first_ns < before_ns; });
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
