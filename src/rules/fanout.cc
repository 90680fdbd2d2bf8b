// fanout (fanout.h).
#include "src/rules/fanout.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/rules/stats.h"
#include "src/rules/text.h"

namespace tokmeter::rules {
namespace {
uint32_t Epoch(uint64_t observed) { return uint32_t(observed >> IdleSweep::kShift); }
// The latest observation count a turn's epoch can stand for.
uint64_t Touched(uint32_t epoch) { return (uint64_t{epoch} + 1) << IdleSweep::kShift; }
// A count in an unsigned field of type T, saturated at its largest value.
template <typename T>
T Saturated(int64_t n) {
  return T(std::clamp<int64_t>(n, 0, int64_t{std::numeric_limits<T>::max()}));
}
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
  // Offline runs (no retain_ns) forget the turns nobody writes to any more.
  if (idle_.Tick(o.time_ns) && retain_ns_ == 0) {
    absl::erase_if(turns_, [&](const auto& kv) {
      if (!idle_.Idle(Touched(kv.second.touched), kv.second.last_ns)) return false;
      Close(kv.first, kv.second);
      return true;
    });
    // A done turn started minutes before its last record: its start stands
    // for its last record.
    absl::erase_if(done_, [&](const auto& kv) {
      return idle_.Idle(Touched(kv.second.touched), kv.second.first_ns);
    });
    ForgetCurrent();
  }
  const Key& turn = o.turn_level ? o.turn : o.parent;
  if (o.turn_level && !turn) {
    // A turn summary without an id: the line is the whole turn.
    if (o.rollup) return;
    Turn t;
    t.summary = Saturated<uint32_t>(o.tool_calls);
    t.first_ns = t.last_ns = o.time_ns;
    t.background = o.background;
    const History& h = history_[t.background ? 1 : 0];
    if (t.count() >= h.threshold) {
      const Fired f{std::string(o.thread().name), std::string(o.name), o.thread_dim(), h.p95,
                    h.threshold};
      closed_.push_back(MakeFinding(t, f));
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
    dt.touched = Epoch(idle_.observed());
    dt.first_ns = std::min(dt.first_ns, o.time_ns);
    if (o.turn_level) {
      dt.summary = std::max(dt.summary, Saturated<uint16_t>(o.tool_calls));
    } else {
      dt.calls = Saturated<uint16_t>(int64_t{dt.calls} + o.tool_calls);
    }
    if (std::max(dt.calls, dt.summary) < history_[o.background ? 1 : 0].threshold) {
      if (!o.turn_level) MoveTo(o.thread().id, key);  // may grow done_: dt is not used after
      return;
    }
    // Late calls brought it to the threshold: it is a Turn again, and fires.
    Turn t;
    t.calls = dt.calls;
    t.summary = dt.summary;
    t.first_ns = dt.first_ns;
    t.last_ns = std::max(dt.first_ns, o.time_ns);
    t.touched = dt.touched;
    t.done = true;  // its count joined the history when it was first done
    t.background = o.background;
    done_.erase(d);
    Turn& back = turns_.insert_or_assign(key, t).first->second;
    Check(key, back, o, alert);
    if (!o.turn_level) MoveTo(o.thread().id, key);  // `back` fired: it stays in turns_
    return;
  }
  const bool inserted = it == turns_.end();
  if (inserted) it = turns_.try_emplace(key).first;
  Turn& t = it->second;
  if (inserted) {
    t.first_ns = t.last_ns = o.time_ns;
    t.background = o.background;
  }
  t.touched = Epoch(idle_.observed());
  t.first_ns = std::min(t.first_ns, o.time_ns);
  t.last_ns = std::max(t.last_ns, o.time_ns);
  if (o.turn_level) {
    t.summary = std::max(t.summary, Saturated<uint32_t>(o.tool_calls));
  } else {
    t.calls = Saturated<uint32_t>(int64_t{t.calls} + o.tool_calls);
    // Retires at most the session's previous turn (erased from turns_
    // without a rehash, into done_): `t` stays valid.
    MoveTo(o.thread().id, key);
  }
  Check(key, t, o, alert);
  if (o.turn_level) {
    Done(t);
    Retire(it);
  }
}

void FanoutRule::MoveTo(uint64_t thread, uint64_t key) {
  // The session moved on from its previous turn: that one is over.
  uint64_t& cur = current_[thread];
  if (cur != 0 && cur != key) {
    if (auto prev = turns_.find(cur); prev != turns_.end()) {
      Done(prev->second);
      Retire(prev);
    }
  }
  cur = key;
}

void FanoutRule::Retire(Turns::iterator it) {
  const Turn& t = it->second;
  if (!t.done || t.fired) return;  // a fired turn stays for its finding
  done_[it->first] =
      DoneTurn{t.first_ns, t.touched, Saturated<uint16_t>(t.calls), Saturated<uint16_t>(t.summary)};
  turns_.erase(it);
}

void FanoutRule::ForgetCurrent() {
  absl::erase_if(current_, [&](const auto& kv) {
    return !turns_.contains(kv.second) && !done_.contains(kv.second);
  });
}

void FanoutRule::Check(uint64_t key, Turn& t, const Observation& o, const AlertFn* alert) {
  if (t.fired) {
    // The turn's own record names it.
    if (o.turn_level && !o.name.empty()) fired_[key].name = std::string(o.name);
    return;
  }
  const History& h = history_[t.background ? 1 : 0];
  if (t.count() < h.threshold) return;
  t.fired = true;
  Fired& f = fired_[key];
  f.session = std::string(o.thread().name);
  f.dim = o.thread_dim();
  if (o.turn_level) f.name = std::string(o.name);
  f.p95 = h.p95;
  f.threshold = h.threshold;
  Raise(alert, MakeFinding(t, f), &o);
}

void FanoutRule::Close(uint64_t key, const Turn& t) {
  if (!t.fired) return;
  auto f = fired_.find(key);
  closed_.push_back(MakeFinding(t, f->second));
  fired_.erase(f);
}

Finding FanoutRule::MakeFinding(const Turn& t, const Fired& fired) const {
  Finding f;
  f.kind = "fanout";
  f.time_ns = t.first_ns;
  f.end_ns = t.last_ns;
  const std::string turn = fired.name.empty()
                               ? absl::StrCat("turn at ", ClockTime(t.first_ns), " UTC")
                               : absl::StrCat("turn ", fired.name);
  f.subject = absl::StrCat(std::string(DimName(fired.dim)), " ", fired.session, " ", turn);
  f.keys = {{std::string(DimName(fired.dim)), fired.session}};
  const int64_t n = t.count();
  f.severity = n >= 4 * thresholds::kFanoutMinToolCalls ? Severity::kCritical : Severity::kWarning;
  f.evidence = {{"tool_calls", double(n)},
                {"seconds", double(t.last_ns - t.first_ns) / 1e9},
                {"usual_p95", fired.p95},
                {"threshold", double(fired.threshold)}};
  f.rule = absl::StrFormat(
      "one turn with >= %.0fx the tool calls of the 95th-percentile turn of the previous %d of "
      "its kind, and >= %d (>= %d with fewer than %d turns to compare with) (tool-call fan-out)",
      thresholds::kFanoutP95Multiple, thresholds::kFanoutHistoryTurns,
      thresholds::kFanoutMinToolCalls, thresholds::kFanoutShortHistoryMin,
      thresholds::kFanoutMinHistoryTurns);
  f.recommendation =
      absl::StrCat("Fan-out rule: one turn made ", n, " tool calls (usual turns: up to ",
                   absl::StrFormat("%.0f", fired.p95),
                   "). Narrow searches and scans, batch tool calls, limit "
                   "sub-agent spawns per turn.");
  return f;
}

void FanoutRule::Forget(int64_t before_ns) {
  absl::erase_if(turns_, [&](const auto& kv) {
    if (kv.second.last_ns >= before_ns) return false;
    Close(kv.first, kv.second);
    return true;
  });
  absl::erase_if(done_, [&](const auto& kv) { return kv.second.first_ns < before_ns; });
  ForgetCurrent();
  closed_.erase(std::remove_if(closed_.begin(), closed_.end(),
                               [&](const Finding& f) { return f.end_ns < before_ns; }),
                closed_.end());
}

void FanoutRule::AppendFindings(std::vector<Finding>* out) const {
  out->insert(out->end(), closed_.begin(), closed_.end());
  for (const auto& [key, f] : fired_) out->push_back(MakeFinding(turns_.at(key), f));
}

}  // namespace tokmeter::rules
