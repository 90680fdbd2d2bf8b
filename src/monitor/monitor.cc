// The live monitor and the guard (tokmeter/monitor.h).
#include "tokmeter/monitor.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/monitor/guard_table.h"
#include "src/monitor/monitor_impl.h"
#include "src/monitor/span_event.h"
#include "src/pricing/pricing.h"
#include "src/rules/text.h"

namespace tokmeter {

using monitor_internal::GuardTable;
using monitor_internal::PackState;
using monitor_internal::ScopeKey;
using monitor_internal::UnpackState;

namespace {

std::atomic<Monitor::Impl*> g_active{nullptr};

int64_t WallNs() { return absl::ToUnixNanos(absl::Now()); }

}  // namespace

// ---- creation ----------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<Monitor>> Monitor::Create(MonitorOptions options) {
  auto impl = std::make_unique<Impl>();
  for (const std::string& text : options.budgets) {
    absl::StatusOr<BudgetSpec> b = ParseBudget(text);
    if (!b.ok()) return absl::InvalidArgumentError(absl::StrCat("budgets: ", b.status().message()));
    impl->specs.push_back(*std::move(b));
  }
  if (!absl::LoadTimeZone(options.time_zone, &impl->tz)) {
    return absl::InvalidArgumentError(
        absl::StrCat("time_zone: unknown time zone '", options.time_zone, "'"));
  }
  if (!options.pricing_file.empty()) {
    absl::StatusOr<PriceTable> t = PriceTable::LoadFile(options.pricing_file);
    if (!t.ok())
      return absl::InvalidArgumentError(absl::StrCat("pricing_file: ", t.status().message()));
    impl->user_prices = *std::move(t);
    impl->prices = &*impl->user_prices;
  } else {
    impl->prices = &PriceTable::Builtin();
  }
  if (options.window.count() <= 0) return absl::InvalidArgumentError("window must be positive");
  if (options.loop_repeats < 2) return absl::InvalidArgumentError("loop_repeats must be >= 2");
  if (!(options.warn_share > 0 && options.warn_share <= 1))
    return absl::InvalidArgumentError("warn_share must be in (0, 1]");
  if (options.callback_queue == 0) return absl::InvalidArgumentError("callback_queue must be > 0");
  if (options.guard_slots == 0 || options.guard_slots > (size_t{1} << 24))
    return absl::InvalidArgumentError("guard_slots must be between 1 and 2^24");
  if (options.retain.count() <= 0) return absl::InvalidArgumentError("retain must be positive");
  for (const BudgetSpec& b : impl->specs) impl->usd |= b.unit == BudgetUnit::kUsd;
  rules::RuleOptions ro;
  ro.window_ns = absl::ToInt64Nanoseconds(absl::FromChrono(options.window));
  ro.retain_ns = absl::ToInt64Nanoseconds(absl::FromChrono(options.retain));
  ro.loop_repeats = options.loop_repeats;
  impl->engine = std::make_unique<rules::RuleEngine>(ro);
  impl->budgets = std::make_unique<rules::BudgetTracker>(impl->specs, impl->tz, options.warn_share,
                                                         ro.retain_ns);
  impl->opts = std::move(options);
  impl->tables.push_back(std::make_unique<GuardTable>(impl->opts.guard_slots));
  impl->table.store(impl->tables.back().get(), std::memory_order_release);
  Impl* raw = impl.get();
  raw->engine->OnAlert(
      [raw](const Finding& f, const rules::Observation* cause) { raw->OnFinding(f, cause); });
  if (raw->opts.on_alert) raw->callbacks = std::thread([raw] { raw->RunCallbacks(); });
  return std::shared_ptr<Monitor>(new Monitor(std::move(impl)));
}

Monitor::Monitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Monitor::~Monitor() {
  OnStop();
  FinishCallbacks();
}

void Monitor::FinishCallbacks() {
  {
    std::lock_guard<std::mutex> l(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->callbacks.joinable() && impl_->callbacks.get_id() != std::this_thread::get_id())
    impl_->callbacks.join();
}

const MonitorOptions& Monitor::options() const { return impl_->opts; }

void Monitor::OnStart() { g_active.store(impl_.get(), std::memory_order_release); }

void Monitor::OnStop() {
  Impl* expected = impl_.get();
  g_active.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
}

MonitorStats Monitor::stats() const {
  MonitorStats s;
  s.observed = impl_->observed.load(std::memory_order_relaxed);
  s.alerts = impl_->alerts.load(std::memory_order_relaxed);
  s.callbacks = impl_->callbacks_made.load(std::memory_order_relaxed);
  s.callback_errors = impl_->callback_errors.load(std::memory_order_relaxed);
  s.callbacks_dropped = impl_->callbacks_dropped.load(std::memory_order_relaxed);
  s.guard_table_full = impl_->guard_full.load(std::memory_order_relaxed);
  s.process_errors = impl_->process_errors.load(std::memory_order_relaxed);
  return s;
}

std::vector<Finding> Monitor::Findings() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::vector<Finding> out = impl_->engine->Findings();
  std::vector<Finding> fired = impl_->budget_findings;
  out.insert(out.end(), fired.begin(), fired.end());
  rules::SortFindings(out);
  return out;
}

// ---- one pass ----------------------------------------------------------------------

void Monitor::Process(Batch& batch) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> l(m.mu);
  m.out = &batch.alerts;
  try {
    ProcessLocked(batch);
  } catch (...) {
    // Counted, and passed on: the runtime reports it through on_error and
    // the sinks still get the batch.
    m.process_errors.fetch_add(1, std::memory_order_relaxed);
    m.out = nullptr;
    throw;
  }
  m.out = nullptr;
}

void Monitor::ProcessLocked(Batch& batch) {
  Impl& m = *impl_;
  UsageEvent e;
  monitor_internal::EventText text;
  for (const SpanRecord& s : batch.spans) {
    monitor_internal::FromSpan(s, text, e);
    m.cause_trace = s.trace_id;
    m.cause_span = s.span_id;
    m.Observe(e);
  }
  for (const RollupRecord& r : batch.rollups) {
    monitor_internal::FromRollup(r, text, e);
    m.cause_trace = r.trace_id;
    m.cause_span = r.span_id;
    m.Observe(e);
  }
  m.cause_trace = TraceId{};
  m.cause_span = 0;
  m.Advance(m.Now());
  m.Publish();
}

int64_t Monitor::Impl::Now() const {
  // Event time, moving on with the wall clock since the newest record: live
  // agents record in real time (the two agree), replays and simulations in
  // their own time (the wall clock would end every period at once).
  if (latest_ns == 0) return 0;
  return latest_ns + std::max<int64_t>(0, WallNs() - wall_at_latest);
}

void Monitor::Impl::Observe(const UsageEvent& e) {
  rules::Observation o = rules::FromEvent(e);
  rules::HashKeys(o);
  if (usd && o.counted()) {
    std::optional<double> c = prices->Cost(e);
    o.cost = c ? *c : std::numeric_limits<double>::quiet_NaN();
  }
  observed.fetch_add(1, std::memory_order_relaxed);
  if (o.time_ns > latest_ns) {
    latest_ns = o.time_ns;
    wall_at_latest = WallNs();
  }
  budgets->Observe(o, &budget_alert);
  if (opts.rules) engine->Observe(o);
}

void Monitor::Impl::Advance(int64_t now_ns) {
  if (now_ns == 0) return;
  budgets->Advance(now_ns);
  if (opts.rules) engine->Advance(now_ns);
  // Loop denies end after the cooldown.
  for (auto it = loop_denies.begin(); it != loop_denies.end();) {
    auto cur = it++;
    if (cur->second.until_ns <= now_ns) {
      const uint64_t key = cur->first;
      loop_denies.erase(cur);
      Recompute(key);
    }
  }
  const bool storm =
      opts.rules && engine->storms().RecentRateLimited(now_ns) >= thresholds::kRetryStormMin429;
  if (storm != storm_active) {
    storm_active = storm;
    global_dirty = true;
  }
  // Budget periods that ended, windows that slid: publish the new verdicts.
  for (const auto& c : budgets->TakeChanges()) ApplyBudgetChange(c);
}

void Monitor::Impl::OnFinding(const Finding& f, const rules::Observation* cause) {
  AlertRecord a;
  a.time_unix_ns = cause != nullptr ? cause->time_ns : Now();
  a.finding = f;
  if (cause != nullptr) {
    a.trace_id = cause_trace;
    a.span_id = cause_span;
  }
  if (f.kind == "loop" && opts.deny_on_loop) {
    const std::string_view session = f.Key("session");
    if (!session.empty()) {
      const uint64_t key = ScopeKey("session", session);
      LoopDeny& d = loop_denies[key];
      d.until_ns = a.time_unix_ns + absl::ToInt64Nanoseconds(absl::FromChrono(opts.loop_cooldown));
      d.session = std::string(session);
      Recompute(key);
    }
  }
  Emit(std::move(a));
}

void Monitor::Impl::Emit(AlertRecord a) {
  alerts.fetch_add(1, std::memory_order_relaxed);
  if (opts.on_alert) {
    std::lock_guard<std::mutex> l(queue_mu);
    if (stopping || queue.size() >= opts.callback_queue) {
      callbacks_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      queue.push_back(a);
      queue_cv.notify_one();
    }
  }
  if (out != nullptr) out->push_back(std::move(a));
}

void Monitor::Impl::ApplyBudgetChange(const rules::BudgetTracker::Change& c) {
  const BudgetSpec& b = specs[size_t(c.spec)];
  const uint64_t key = b.key.empty() ? 0 : ScopeKey(b.key, c.value);
  Scope& s = scopes[key];
  if (s.key.empty() && !b.key.empty()) {
    s.key = b.key;
    s.value = c.value;
  }
  const Verdict v = static_cast<Verdict>(int(c.verdict));
  auto it = std::find_if(s.budgets.begin(), s.budgets.end(),
                         [&](const auto& p) { return p.first == c.spec; });
  if (v == Verdict::kAllow) {
    if (it != s.budgets.end()) s.budgets.erase(it);
  } else if (it != s.budgets.end()) {
    it->second = v;
  } else {
    s.budgets.emplace_back(c.spec, v);
  }
  if (key == 0) {
    global_dirty = true;
  } else {
    Recompute(key);
  }
}

uint64_t Monitor::Impl::StateOf(uint64_t key) const {
  Verdict v = Verdict::kAllow;
  GuardResult::Reason reason = GuardResult::Reason::kNone;
  int budget = -1;
  if (auto s = scopes.find(key); s != scopes.end()) {
    for (const auto& [spec, bv] : s->second.budgets) {
      if (int(bv) > int(v)) {
        v = bv;
        reason = GuardResult::Reason::kBudget;
        budget = spec;
      }
    }
  }
  if (key != 0 && loop_denies.contains(key) && v != Verdict::kDeny) {
    v = Verdict::kDeny;
    reason = GuardResult::Reason::kLoop;
    budget = -1;
  }
  if (key == 0 && storm_active) {
    const Verdict sv = opts.deny_on_storm ? Verdict::kDeny : Verdict::kWarn;
    if (int(sv) > int(v)) {
      v = sv;
      reason = GuardResult::Reason::kStorm;
      budget = -1;
    }
  }
  return PackState(v, reason, budget);
}

void Monitor::Impl::Recompute(uint64_t key) {
  const uint64_t state = StateOf(key);
  GuardTable* t = table.load(std::memory_order_relaxed);
  if (!t->Set(key, state)) {
    guard_full.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (t->crowded()) {
    // A fresh table with the scopes that still warn or deny.
    auto fresh = std::make_unique<GuardTable>(t->capacity());
    t->ForEachLive([&](uint64_t k, uint64_t s) { fresh->Set(k, s); });
    table.store(fresh.get(), std::memory_order_release);
    tables.push_back(std::move(fresh));
  }
}

void Monitor::Impl::Publish() {
  if (global_dirty) {
    global.store(StateOf(0), std::memory_order_release);
    global_dirty = false;
  }
}

void Monitor::Impl::RunCallbacks() {
  for (;;) {
    AlertRecord a;
    {
      std::unique_lock<std::mutex> l(queue_mu);
      queue_cv.wait(l, [this] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and every queued alert delivered
      a = std::move(queue.front());
      queue.pop_front();
    }
    try {
      opts.on_alert(a);
      callbacks_made.fetch_add(1, std::memory_order_relaxed);
    } catch (...) {
      callback_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

// ---- the guard ----------------------------------------------------------------------

namespace {
GuardResult Combine(uint64_t global, uint64_t scope, std::string_view key, std::string_view value) {
  // The stronger verdict (its value, the state's low bits) wins, the
  // global one on a tie. Picked as a state word and unpacked once: copying
  // one unpacked result over another stalls on reading back its fields
  // (store-to-load forwarding), most of a check's time.
  const uint64_t chosen = (scope & 3) > (global & 3) ? scope : global;
  GuardResult g = UnpackState(chosen);
  g.key = key;
  g.value = value;
  return g;
}
}  // namespace

GuardResult Guard() {
  const Monitor::Impl* m = g_active.load(std::memory_order_acquire);
  if (m == nullptr) return {};
  return Combine(m->global.load(std::memory_order_acquire), 0, {}, {});
}

GuardResult Guard(std::string_view key, std::string_view value) {
  const Monitor::Impl* m = g_active.load(std::memory_order_acquire);
  if (m == nullptr) return {};
  const uint64_t global = m->global.load(std::memory_order_acquire);
  const GuardTable* t = m->table.load(std::memory_order_acquire);
  const uint64_t scope = t->any() ? t->Get(ScopeKey(key, value)) : 0;
  return Combine(global, scope, key, value);
}

std::string GuardResult::message() const {
  if (verdict == Verdict::kAllow) return "allowed";
  const char* what = verdict == Verdict::kDeny ? "denied" : "warning";
  const std::string scope = key.empty() ? std::string("all traffic")
                                        : absl::StrCat(std::string(key), " ", std::string(value));
  switch (reason) {
    case Reason::kBudget: {
      std::string name = absl::StrCat("#", budget);
      if (const Monitor::Impl* m = g_active.load(std::memory_order_acquire);
          m != nullptr && budget >= 0 && size_t(budget) < m->specs.size())
        name = m->specs[size_t(budget)].text;
      return absl::StrCat(what, ": ", verdict == Verdict::kDeny ? "hard budget " : "budget ", name,
                          verdict == Verdict::kDeny ? " is used up" : " is nearly or fully used",
                          " (", scope, ")");
    }
    case Reason::kLoop:
      return absl::StrCat(what, ": loop: the same call repeated in ", scope);
    case Reason::kStorm:
      return absl::StrCat(what, ": retry storm in progress (HTTP 429s)");
    case Reason::kNone:
      break;
  }
  return what;
}

}  // namespace tokmeter
