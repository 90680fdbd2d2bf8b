// Budgets: the grammar (tokmeter/budget.h), the quota figures and the
// tracker (budgets.h).
#include "src/rules/budgets.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "src/model/thresholds.h"
#include "src/rules/text.h"

namespace tokmeter {
namespace {

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr const char* kForm =
    "expected SCOPE=LIMIT[/PERIOD][,hard][,at=50:80:100], e.g. total=300M/month, session=2M, "
    "job:heartbeat=500k/day, cost=50/day,hard";
constexpr const char* kKeys =
    "total, cost, requests, session, user, agent, job, workflow, model, tool, provider, channel, "
    "run, or tag.NAME for another tag";

bool KnownKey(std::string_view k) {
  for (std::string_view d : {"session", "user", "agent", "job", "workflow", "model", "tool",
                             "provider", "channel", "run"})
    if (k == d) return true;
  return false;
}

bool ValidName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

}  // namespace

std::string_view BudgetUnitName(BudgetUnit u) {
  switch (u) {
    case BudgetUnit::kTokens:
      return "tokens";
    case BudgetUnit::kUsd:
      return "usd";
    case BudgetUnit::kRequests:
      return "requests";
  }
  return "tokens";
}

std::string_view BudgetPeriodName(BudgetPeriod p) {
  switch (p) {
    case BudgetPeriod::kLifetime:
      return "lifetime";
    case BudgetPeriod::kRolling:
      return "rolling";
    case BudgetPeriod::kDay:
      return "day";
    case BudgetPeriod::kWeek:
      return "week";
    case BudgetPeriod::kMonth:
      return "month";
  }
  return "lifetime";
}

absl::StatusOr<int64_t> ParseTokenCount(std::string_view s) {
  absl::string_view t = absl::StripAsciiWhitespace(A(s));
  double mult = 1;
  if (!t.empty()) {
    switch (absl::ascii_tolower(static_cast<unsigned char>(t.back()))) {
      case 'k':
        mult = 1e3;
        break;
      case 'm':
        mult = 1e6;
        break;
      case 'g':
      case 'b':
        mult = 1e9;
        break;
      default:
        break;
    }
    if (mult != 1) t.remove_suffix(1);
  }
  double v = 0;
  // At least one whole token: "0.4" or "0.0001k" would round to a limit of 0.
  if (t.empty() || !absl::SimpleAtod(t, &v) || !(v * mult >= 0.5) || v * mult > 9e18) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad token count '", A(s), "' (expected e.g. 300M, 4.6M, 500k, 250000)"));
  }
  return static_cast<int64_t>(std::llround(v * mult));
}

absl::StatusOr<BudgetSpec> ParseBudget(std::string_view text) {
  BudgetSpec b;
  const absl::string_view all = absl::StripAsciiWhitespace(A(text));
  b.text = std::string(all);
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("budget '", all, "': ", what));
  };
  const size_t eq = all.find('=');
  if (eq == absl::string_view::npos) return bad(kForm);
  const absl::string_view scope = absl::StripAsciiWhitespace(all.substr(0, eq));
  std::vector<absl::string_view> parts = absl::StrSplit(all.substr(eq + 1), ',');
  // Options after the limit.
  for (size_t i = 1; i < parts.size(); ++i) {
    const absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
    if (p == "hard") {
      b.hard = true;
    } else if (p == "soft") {
      b.hard = false;
    } else if (absl::StartsWith(p, "at=")) {
      b.thresholds.clear();
      for (absl::string_view x : absl::StrSplit(p.substr(3), ':')) {
        double pct = 0;
        if (!absl::SimpleAtod(x, &pct) || !(pct > 0) || pct > 1000)
          return bad(absl::StrCat("bad threshold '", x, "' in '", p,
                                  "' (percent of the limit, e.g. at=50:80:100)"));
        if (!b.thresholds.empty() && pct / 100 <= b.thresholds.back())
          return bad(absl::StrCat("thresholds in '", p, "' must ascend"));
        b.thresholds.push_back(pct / 100);
      }
      if (b.thresholds.size() > 16) return bad("at most 16 thresholds");
    } else {
      return bad(absl::StrCat("unknown option '", p, "' (hard, soft, at=…)"));
    }
  }
  // Scope.
  if (scope.empty()) return bad(kForm);
  BudgetUnit scope_unit = BudgetUnit::kTokens;
  bool plain_number = false;
  if (scope == "total") {
  } else if (scope == "cost") {
    scope_unit = BudgetUnit::kUsd;
    plain_number = true;
  } else if (scope == "requests") {
    scope_unit = BudgetUnit::kRequests;
    plain_number = true;
  } else {
    absl::string_view key = scope, value;
    if (const size_t colon = scope.find(':'); colon != absl::string_view::npos) {
      key = scope.substr(0, colon);
      value = scope.substr(colon + 1);
      if (value.empty()) return bad(absl::StrCat("no value after '", key, ":'"));
    }
    if (absl::StartsWith(key, "tag.")) {
      if (!ValidName(key.substr(4))) return bad(absl::StrCat("bad tag name in '", key, "'"));
      b.key = std::string(key.substr(4));
    } else if (KnownKey(std::string_view(key.data(), key.size()))) {
      b.key = std::string(key);
    } else {
      return bad(absl::StrCat("unknown scope '", key, "' (", kKeys, ")"));
    }
    b.value = std::string(value);
  }
  // Limit and period.
  const absl::string_view lp = absl::StripAsciiWhitespace(parts[0]);
  const size_t slash = lp.find('/');
  absl::string_view limit = absl::StripAsciiWhitespace(lp.substr(0, slash));
  const absl::string_view period = slash == absl::string_view::npos
                                       ? absl::string_view()
                                       : absl::StripAsciiWhitespace(lp.substr(slash + 1));
  if (limit.empty()) return bad(absl::StrCat("no limit (", kForm, ")"));
  b.unit = scope_unit;
  std::string lower = absl::AsciiStrToLower(limit);
  absl::string_view l = lower;
  const bool dollars = absl::ConsumePrefix(&l, "$") || absl::ConsumeSuffix(&l, "$") ||
                       absl::ConsumeSuffix(&l, "usd");
  const bool reqs =
      !dollars && (absl::ConsumeSuffix(&l, "requests") || absl::ConsumeSuffix(&l, "req"));
  if (dollars) {
    if (scope_unit == BudgetUnit::kRequests) return bad("a requests budget takes a count");
    b.unit = BudgetUnit::kUsd;
  } else if (reqs) {
    if (scope_unit == BudgetUnit::kUsd) return bad("a cost budget takes USD");
    b.unit = BudgetUnit::kRequests;
  }
  if (b.unit == BudgetUnit::kUsd && (plain_number || dollars)) {
    double v = 0;
    if (!absl::SimpleAtod(l, &v) || !(v > 0) || v > 1e12)
      return bad(absl::StrCat("bad USD limit '", limit, "' (a positive amount, e.g. 50 or $5)"));
    b.limit = v;
  } else {
    absl::StatusOr<int64_t> n = ParseTokenCount(std::string_view(l.data(), l.size()));
    if (!n.ok())
      return bad(absl::StrCat("bad limit '", limit, "' (tokens like 2M or 500k, USD like $5, ",
                              "requests like 1000req; must be > 0)"));
    b.limit = double(*n);
  }
  if (period.empty()) {
    b.period = BudgetPeriod::kLifetime;
  } else if (period == "day") {
    b.period = BudgetPeriod::kDay;
  } else if (period == "week") {
    b.period = BudgetPeriod::kWeek;
  } else if (period == "month") {
    b.period = BudgetPeriod::kMonth;
  } else {
    absl::Duration d;
    if (!absl::ParseDuration(period, &d) || d < absl::Seconds(1) || d > absl::Hours(24 * 366))
      return bad(absl::StrCat("bad period '", period,
                              "' (day, week, month, or a rolling window like 5m, 1h)"));
    b.period = BudgetPeriod::kRolling;
    b.window_ns = absl::ToInt64Nanoseconds(d);
  }
  return b;
}

namespace rules {

// ---- quota figures -------------------------------------------------------------

Period CalendarPeriod(BudgetPeriod p, int64_t t_ns, const absl::TimeZone& tz) {
  const absl::Time t = absl::FromUnixNanos(t_ns);
  absl::Time start, end;
  switch (p) {
    case BudgetPeriod::kWeek: {
      const absl::CivilDay d = absl::ToCivilDay(t, tz);
      const absl::CivilDay monday = absl::PrevWeekday(d + 1, absl::Weekday::monday);
      start = absl::FromCivil(monday, tz);
      end = absl::FromCivil(monday + 7, tz);
      break;
    }
    case BudgetPeriod::kMonth: {
      const absl::CivilMonth m = absl::ToCivilMonth(t, tz);
      start = absl::FromCivil(m, tz);
      end = absl::FromCivil(m + 1, tz);
      break;
    }
    default: {
      const absl::CivilDay d = absl::ToCivilDay(t, tz);
      start = absl::FromCivil(d, tz);
      end = absl::FromCivil(d + 1, tz);
      break;
    }
  }
  return {absl::ToUnixNanos(start), absl::ToUnixNanos(end)};
}

double Forecast(double consumed, int64_t start_ns, int64_t now_ns, int64_t end_ns) {
  const double elapsed = double(std::max<int64_t>(0, now_ns - start_ns));
  const double remaining = double(std::max<int64_t>(0, end_ns - now_ns));
  if (!(elapsed > 0)) return consumed;
  return consumed + consumed / elapsed * remaining;
}

std::string_view OptimizationLevel(double share_left) {
  if (share_left > thresholds::kLevelMinimalAbove) return "minimal";
  if (share_left > thresholds::kLevelBalancedAbove) return "balanced";
  if (share_left > thresholds::kLevelAggressiveAbove) return "aggressive";
  return "emergency";
}

std::string_view ForecastLevel(double forecast_share) {
  if (!(forecast_share > 1.0)) return "minimal";
  if (forecast_share <= thresholds::kForecastBalancedUpTo) return "balanced";
  if (forecast_share <= thresholds::kForecastAggressiveUpTo) return "aggressive";
  return "emergency";
}

int LevelRank(std::string_view level) {
  if (level == "minimal") return 0;
  if (level == "balanced") return 1;
  if (level == "aggressive") return 2;
  if (level == "emergency") return 3;
  return -1;
}

std::string_view QuotaLevel(double share_left, double forecast_share, std::string_view* basis) {
  const std::string_view by_left = OptimizationLevel(share_left);
  const std::string_view by_forecast = ForecastLevel(forecast_share);
  const bool forecast_stricter = LevelRank(by_forecast) > LevelRank(by_left);
  if (basis != nullptr) *basis = forecast_stricter ? "forecast" : "share_left";
  return forecast_stricter ? by_forecast : by_left;
}

int64_t RunsLeft(int64_t tokens_left, double tokens_per_run) {
  if (!(tokens_per_run > 0)) return -1;
  if (tokens_left <= 0) return 0;
  const double runs = std::floor(double(tokens_left) / tokens_per_run);
  return runs < 9e18 ? static_cast<int64_t>(runs) : INT64_MAX;  // a defined conversion
}

// ---- tracker ---------------------------------------------------------------------

namespace {

std::string AmountText(BudgetUnit u, double v) {
  switch (u) {
    case BudgetUnit::kUsd:
      return absl::StrFormat("$%.2f", v);
    case BudgetUnit::kRequests:
      return absl::StrFormat("%.0f requests", v);
    case BudgetUnit::kTokens:
      break;
  }
  return absl::StrCat(Tokens(v), " tokens");
}

std::string ScopeName(const BudgetSpec& b, const std::string& value) {
  if (b.key.empty()) return "all traffic";
  return absl::StrCat(b.key, " ", value);
}

}  // namespace

BudgetTracker::BudgetTracker(std::vector<BudgetSpec> specs, absl::TimeZone tz, double warn_share,
                             int64_t retain_ns)
    : specs_(std::move(specs)), tz_(tz), warn_share_(warn_share), retain_ns_(retain_ns) {
  for (const BudgetSpec& b : specs_) {
    const std::optional<Dim> d = ParseDim(b.key);
    dims_.push_back(d && b.key == DimName(*d) ? int(*d) : -1);
    rolling_ |= b.period == BudgetPeriod::kRolling;
  }
  last_.resize(specs_.size());
}

int64_t BudgetTracker::Due(const State& s, const BudgetSpec& b) const {
  int64_t due = INT64_MAX;
  if (b.period != BudgetPeriod::kLifetime && b.period != BudgetPeriod::kRolling)
    due = s.period_end_ns != 0 ? s.period_end_ns : INT64_MIN;
  if (retain_ns_ > 0 && s.verdict == Verdict::kAllow)
    due = std::min(due, s.last_ns + retain_ns_ + 1);
  return due;
}

double BudgetTracker::Amount(const BudgetSpec& b, const Observation& o, int64_t* unpriced) const {
  switch (b.unit) {
    case BudgetUnit::kTokens:
      return double(o.tokens.total());
    case BudgetUnit::kRequests:
      return double(o.requests);
    case BudgetUnit::kUsd:
      if (std::isnan(o.cost)) {
        *unpriced += o.tokens.total();
        return 0;
      }
      return o.cost;
  }
  return 0;
}

void BudgetTracker::Roll(State& s, const BudgetSpec& b, int64_t t) {
  switch (b.period) {
    case BudgetPeriod::kLifetime:
      return;
    case BudgetPeriod::kRolling: {
      const int64_t width = std::max<int64_t>(1, b.window_ns / State::kSlots);
      const int64_t index = t / width;
      if (s.slots.empty()) s.slots.assign(State::kSlots, 0);
      if (s.slot_index == INT64_MIN) s.slot_index = index;
      if (index <= s.slot_index) return;  // the newest bucket, or a late record
      const int64_t steps = std::min<int64_t>(index - s.slot_index, State::kSlots);
      for (int64_t i = 1; i <= steps; ++i) {
        double& slot = s.slots[size_t((s.slot_index + i) % State::kSlots)];
        s.consumed -= slot;
        slot = 0;
      }
      s.slot_index = index;
      s.judge_at = 0;
      if (s.consumed < 1e-9) s.consumed = 0;
      // Fallen back below a threshold: it may fire again.
      for (size_t i = 0; i < b.thresholds.size(); ++i)
        if (s.consumed < b.thresholds[i] * b.limit) s.crossed &= ~(1u << i);
      return;
    }
    default:
      if (s.period_end_ns != 0 && t < s.period_end_ns) return;
      const Period p = CalendarPeriod(b.period, t, tz_);
      s.period_start_ns = p.start_ns;
      s.period_end_ns = p.end_ns;
      s.consumed = 0;
      s.unpriced_tokens = 0;
      s.crossed = 0;
      s.judge_at = 0;
      return;
  }
}

void BudgetTracker::Observe(const Observation& o, const AlertFn* alert) {
  if (!o.counted()) return;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const BudgetSpec& b = specs_[i];
    std::string_view value;
    if (!b.key.empty()) {
      value = dims_[i] >= 0        ? o.dims[dims_[i]].name
              : o.event != nullptr ? o.event->tag(b.key)
                                   : std::string_view();
      if (value.empty() || (!b.value.empty() && value != b.value)) continue;
    }
    int64_t unpriced = 0;
    const double amount = Amount(b, o, &unpriced);
    if (amount <= 0 && unpriced == 0) continue;
    // Which scope: a dimension's value has its id already (one per name),
    // all traffic is one scope, another tag's value is hashed.
    const uint64_t id = dims_[i] >= 0 ? o.dims[dims_[i]].id
                        : b.key.empty()
                            ? 0
                            : absl::HashOf(absl::string_view(value.data(), value.size()));
    LastState& last = last_[i];
    if (last.state == nullptr || last.id != id || last.version != states_version_) {
      auto [it, inserted] = states_.try_emplace(absl::HashOf(i, id));
      if (inserted) {
        ++states_version_;
        it->second.spec = int(i);
        it->second.value = std::string(value);
      }
      last = {id, states_version_, &it->second};
    }
    State& s = *last.state;
    s.last_ns = std::max(s.last_ns, o.time_ns);
    Roll(s, b, o.time_ns);
    // A record from a calendar period already over, or older than the
    // rolling window, counts nowhere.
    bool counts = b.period == BudgetPeriod::kLifetime || b.period == BudgetPeriod::kRolling ||
                  o.time_ns >= s.period_start_ns;
    if (counts && b.period == BudgetPeriod::kRolling) {
      const int64_t width = std::max<int64_t>(1, b.window_ns / State::kSlots);
      const int64_t index = o.time_ns / width;
      counts = index > s.slot_index - State::kSlots;
      if (counts)
        s.slots[size_t(((index % State::kSlots) + State::kSlots) % State::kSlots)] += amount;
    }
    if (counts) {
      s.consumed += amount;
      s.unpriced_tokens += unpriced;
      if (amount < 0 || s.consumed >= s.judge_at) Judge(s, b, &o, o.time_ns, alert);
    }
    next_due_ = std::min(next_due_, Due(s, b));
  }
}

void BudgetTracker::Judge(State& s, const BudgetSpec& b, const Observation* cause, int64_t t,
                          const AlertFn* alert) {
  for (size_t i = 0; i < b.thresholds.size(); ++i) {
    const uint32_t bit = 1u << i;
    if ((s.crossed & bit) || s.consumed < b.thresholds[i] * b.limit) continue;
    s.crossed |= bit;
    if (cause != nullptr) Raise(alert, MakeFinding(s, b.thresholds[i], t), cause);
  }
  const double share = s.consumed / b.limit;
  Verdict v = Verdict::kAllow;
  if (share >= 1.0) {
    v = b.hard ? Verdict::kDeny : Verdict::kWarn;
  } else if (share >= warn_share_) {
    v = Verdict::kWarn;
  }
  if (v != s.verdict) {
    s.verdict = v;
    changes_.push_back({s.spec, s.value, v});
  }
  // The next consumption that crosses a threshold or changes the verdict,
  // a little lower so that rounding in `share` cannot skip a change.
  double at = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < b.thresholds.size(); ++i)
    if (!(s.crossed & (1u << i))) at = std::min(at, b.thresholds[i] * b.limit);
  if (v == Verdict::kAllow) at = std::min(at, warn_share_ * b.limit);
  if (share < 1.0) at = std::min(at, b.limit);
  s.judge_at = at * (1 - 1e-9);
}

void BudgetTracker::Advance(int64_t now_ns) {
  // Before next_due_ every calendar period is still running (Roll and Judge
  // would change nothing: Observe judged each scope after its last change)
  // and no scope is idle long enough to forget.
  if (!rolling_ && now_ns < next_due_) return;
  int64_t next = INT64_MAX;
  for (auto it = states_.begin(); it != states_.end();) {
    auto cur = it++;
    State& s = cur->second;
    const BudgetSpec& b = specs_[size_t(s.spec)];
    if (b.period != BudgetPeriod::kLifetime) {
      Roll(s, b, now_ns);
      Judge(s, b, nullptr, now_ns, nullptr);
    }
    if (retain_ns_ > 0 && s.last_ns < now_ns - retain_ns_ && s.verdict == Verdict::kAllow &&
        (b.period == BudgetPeriod::kLifetime || b.period == BudgetPeriod::kRolling ||
         s.period_end_ns <= now_ns)) {
      states_.erase(cur);
      ++states_version_;
    } else {
      next = std::min(next, Due(s, b));
    }
  }
  next_due_ = next;
}

BudgetStatus BudgetTracker::Status(const State& s, int64_t now_ns) const {
  const BudgetSpec& b = specs_[size_t(s.spec)];
  BudgetStatus st;
  st.spec = s.spec;
  st.value = s.value;
  st.consumed = s.consumed;
  st.share = s.consumed / b.limit;
  st.period_start_ns = s.period_start_ns;
  st.period_end_ns = s.period_end_ns;
  st.unpriced_tokens = s.unpriced_tokens;
  st.verdict = s.verdict;
  if (s.period_end_ns != 0) {
    st.forecast =
        Forecast(s.consumed, s.period_start_ns, std::max(now_ns, s.last_ns), s.period_end_ns);
  }
  return st;
}

std::vector<BudgetStatus> BudgetTracker::Statuses(int64_t now_ns) const {
  std::vector<BudgetStatus> out;
  out.reserve(states_.size());
  for (const auto& [k, s] : states_) out.push_back(Status(s, now_ns));
  std::sort(out.begin(), out.end(), [](const BudgetStatus& a, const BudgetStatus& b) {
    return a.share != b.share ? a.share > b.share : a.value < b.value;
  });
  return out;
}

std::vector<BudgetTracker::Change> BudgetTracker::TakeChanges() {
  std::vector<Change> out;
  out.swap(changes_);
  return out;
}

Finding BudgetTracker::MakeFinding(const State& s, double threshold, int64_t t) const {
  const BudgetSpec& b = specs_[size_t(s.spec)];
  const BudgetStatus st = Status(s, t);
  Finding f;
  f.kind = "budget";
  f.subject = ScopeName(b, s.value);
  if (!b.key.empty()) f.keys = {{b.key, s.value}};
  f.keys.emplace_back("budget", b.text);
  f.time_ns = t;
  f.tokens = b.unit == BudgetUnit::kTokens ? int64_t(s.consumed) : 0;
  f.severity = threshold >= 1.0   ? Severity::kCritical
               : threshold >= 0.8 ? Severity::kWarning
                                  : Severity::kInfo;
  f.evidence = {
      {"consumed", s.consumed}, {"limit", b.limit}, {"share", st.share}, {"threshold", threshold}};
  std::string when;
  switch (b.period) {
    case BudgetPeriod::kLifetime:
      when = b.key.empty() ? "so far" : absl::StrCat("in this ", b.key);
      break;
    case BudgetPeriod::kRolling:
      when = absl::StrCat("in the last ", Minutes(b.window_ns));
      break;
    default:
      when = absl::StrCat("this ", std::string(BudgetPeriodName(b.period)));
      break;
  }
  std::string outlook;
  if (st.forecast >= 0) {
    const double fshare = st.forecast / b.limit;
    std::string_view basis;
    const std::string_view level = QuotaLevel(std::max(0.0, 1 - st.share), fshare, &basis);
    f.evidence.emplace_back("forecast", st.forecast);
    f.evidence.emplace_back("forecast_share", fshare);
    f.evidence.emplace_back("level", double(LevelRank(level)));
    outlook = absl::StrCat("; at this rate ", absl::StrFormat("%.0f%%", fshare * 100),
                           " by the end of the ", std::string(BudgetPeriodName(b.period)),
                           " (optimization level ", std::string(level), ")");
  }
  if (b.unit == BudgetUnit::kUsd)
    f.evidence.emplace_back("unpriced_tokens", double(s.unpriced_tokens));
  f.rule = absl::StrCat("budget ", b.text, ": alerts at ",
                        absl::StrJoin(b.thresholds, ", ",
                                      [](std::string* out, double x) {
                                        absl::StrAppend(out, absl::StrFormat("%.0f%%", x * 100));
                                      }),
                        b.hard ? " of the limit; denies at 100%" : " of the limit");
  std::string what;
  if (threshold >= 1.0) {
    what = b.hard ? absl::StrCat(
                        ". It is over its hard budget: the guard denies further calls in this "
                        "scope until ",
                        b.period == BudgetPeriod::kLifetime ? std::string("the budget is raised")
                        : b.period == BudgetPeriod::kRolling
                            ? std::string("the window has room again")
                            : absl::StrCat("the period ends (", Iso(s.period_end_ns), ")"))
                  : ". It is over its budget (soft: warnings only)";
  } else {
    what = b.hard ? ". At 100% the guard denies further calls" : "";
  }
  // Which threshold this alert is for (one record can cross several: each
  // alert names its own), then where consumption stands.
  f.recommendation =
      absl::StrCat("Budget rule: ", f.subject, " crossed ",
                   absl::StrFormat("%.0f%%", threshold * 100), " of ", AmountText(b.unit, b.limit),
                   " ", when, ": it has used ", absl::StrFormat("%.0f%%", st.share * 100), " (",
                   AmountText(b.unit, s.consumed), ")", outlook, what, ".");
  return f;
}

}  // namespace rules
}  // namespace tokmeter
