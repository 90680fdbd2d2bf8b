// background (background.h).
#include "src/rules/background.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/rules/text.h"

namespace tokmeter::rules {
namespace {
int64_t HourOf(int64_t ns) {
  const int64_t h = thresholds::kIdleBucketNs;
  return ns / h - ((ns % h != 0) && (ns < 0));
}
}  // namespace

BackgroundRule::BackgroundRule(const RuleOptions&) {}

void BackgroundRule::Observe(const Observation& o) {
  if (!o.counted()) return;
  Hour& h = hours_[HourOf(o.time_ns)];
  const int64_t t = o.tokens.total();
  h.tokens += t;
  if (!o.background) {
    h.busy = true;
    return;
  }
  // A cron job by its id; heartbeat work without one by its session.
  const bool by_session =
      o.heartbeat && (!o.dim(Dim::kJob) || o.dim(Dim::kJob).name == "heartbeat");
  const Key& k = by_session ? o.dim(Dim::kSession) : o.dim(Dim::kJob);
  if (!k) return;
  Source& s = h.sources[k.id ^ (by_session ? 0x9e3779b97f4a7c15ull : 0)];
  if (s.name.empty()) {
    s.name = std::string(k.name);
    s.heartbeat_session = by_session;
    s.first_idle_ns = o.time_ns;
  }
  s.first_idle_ns = std::min(s.first_idle_ns, o.time_ns);
  s.tokens += t;
  s.idle_requests += o.requests;
}

BackgroundRule::Totals BackgroundRule::Sum(int64_t from, int64_t to) const {
  Totals out;
  for (auto it = hours_.lower_bound(from); it != hours_.end() && it->first < to; ++it) {
    const Hour& h = it->second;
    out.all += h.tokens;
    for (const auto& [k, s] : h.sources) {
      Source& dst = out.sources[k];
      if (dst.name.empty()) {
        dst.name = s.name;
        dst.heartbeat_session = s.heartbeat_session;
        dst.first_idle_ns = 0;
      }
      dst.tokens += s.tokens;
      out.background += s.tokens;
      if (h.busy) continue;
      if (dst.idle_tokens == 0) dst.first_idle_ns = s.first_idle_ns;  // hours come in order
      dst.idle_tokens += s.tokens;
      dst.idle_requests += s.idle_requests;
      ++dst.runs;
      out.idle += s.tokens;
    }
  }
  return out;
}

std::vector<Finding> BackgroundRule::Judge(const Totals& t) const {
  std::vector<Finding> out;
  for (const auto& [k, s] : t.sources) {
    const double share = t.all > 0 ? double(s.idle_tokens) / double(t.all) : 0;
    const double hourly = s.runs > 0 ? double(s.idle_tokens) / double(s.runs) : 0;
    if (s.idle_tokens < thresholds::kBackgroundMinIdleTokens ||
        share < thresholds::kBackgroundMinIdleShare ||
        hourly < double(thresholds::kBackgroundMinHourlyTokens))
      continue;
    Finding f;
    f.kind = "background";
    f.time_ns = s.first_idle_ns;
    f.tokens = s.idle_tokens;
    if (s.heartbeat_session) {
      f.subject = absl::StrCat("heartbeat session ", s.name);
      f.keys = {{"session", s.name}, {"heartbeat", "true"}};
    } else {
      f.subject = absl::StrCat("job ", s.name);
      f.keys = {{"job", s.name}};
    }
    const double source_share = t.all > 0 ? double(s.idle_tokens) / double(t.all) : 0;
    f.severity = source_share >= 0.5 ? Severity::kCritical : Severity::kWarning;
    f.evidence = {{"idle_tokens", double(s.idle_tokens)},
                  {"idle_hours", double(s.runs)},
                  {"tokens_per_idle_hour", hourly},
                  {"idle_requests", double(s.idle_requests)},
                  {"source_tokens", double(s.tokens)},
                  {"idle_share", source_share},
                  {"all_idle_background_tokens", double(t.idle)},
                  {"total_tokens", double(t.all)}};
    f.rule = absl::StrFormat(
        "a cron job or heartbeat session spending >= %s tokens and >= %.0f%% of all tokens in "
        "hours without interactive use, >= %s per such hour (usage that grows while people are "
        "idle)",
        Tokens(double(thresholds::kBackgroundMinIdleTokens)),
        thresholds::kBackgroundMinIdleShare * 100,
        Tokens(double(thresholds::kBackgroundMinHourlyTokens)));
    f.recommendation = absl::StrCat(
        "Background rule: ", f.subject, " spent ", Tokens(double(s.idle_tokens)), " tokens (",
        absl::StrFormat("%.1f%%", source_share * 100), " of all) in ", s.runs,
        " hour(s) while nobody was using the agent. Run it less often, make each run cheaper, or "
        "skip work when nothing changed.");
    out.push_back(std::move(f));
  }
  return out;
}

void BackgroundRule::Advance(int64_t now_ns, const AlertFn* alert) {
  const int64_t done = HourOf(now_ns);  // hours before this one are over
  if (done <= judged_until_) return;
  judged_until_ = done;
  if (hours_.empty()) return;
  for (Finding& f : Judge(Sum(hours_.begin()->first, done))) {
    const uint64_t id = absl::HashOf(f.subject);
    if (alerted_.insert(id).second) Raise(alert, f, nullptr);
  }
}

void BackgroundRule::Forget(int64_t before_ns) {
  hours_.erase(hours_.begin(), hours_.lower_bound(HourOf(before_ns)));
}

void BackgroundRule::AppendFindings(std::vector<Finding>* out) const {
  if (hours_.empty()) return;
  for (Finding& f : Judge(Sum(hours_.begin()->first, hours_.rbegin()->first + 1)))
    out->push_back(std::move(f));
}

}  // namespace tokmeter::rules
