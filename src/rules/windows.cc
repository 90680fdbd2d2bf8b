// spike and retry_storm (windows.h).
#include "src/rules/windows.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/rules/stats.h"
#include "src/rules/text.h"

namespace tokmeter::rules {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Names the culprit of a window rule: the job (or session) with at least
// half of the total, when there is one.
void NameCulprit(const std::vector<std::pair<std::string, int64_t>>& s,
                 const std::vector<std::pair<std::string, int64_t>>& j, int64_t total, Finding& f) {
  if (!j.empty()) f.keys.emplace_back("job", j[0].first);
  if (!s.empty()) f.keys.emplace_back("session", s[0].first);
  if (!j.empty() && 2 * j[0].second >= total) {
    f.subject = absl::StrCat("job ", j[0].first);
  } else if (!s.empty() && 2 * s[0].second >= total) {
    f.subject = absl::StrCat("session ", s[0].first);
  }
}

std::string Contributors(const std::vector<std::pair<std::string, int64_t>> (&top)[4]) {
  std::string who;
  for (int d = 0; d < 4; ++d) {
    for (const auto& [name, n] : top[d]) {
      absl::StrAppend(&who, who.empty() ? "" : ", ", kTopNames[d], " ", name, " (",
                      d == 2 ? absl::StrCat(n, " calls") : Tokens(double(n)), ")");
    }
  }
  return who.empty() ? std::string("(no session, job, tool or model names)") : who;
}

}  // namespace

Baseline MakeBaseline(std::vector<int64_t> v) {
  Baseline b;
  b.windows = int(v.size());
  if (v.empty()) return b;
  std::vector<double> d(v.begin(), v.end());
  b.p50 = Percentile(d, 0.50);
  b.p95 = Percentile(std::move(d), 0.95);
  if (b.windows < thresholds::kSpikeMinBaselineWindows) return b;
  b.threshold = std::max<int64_t>({thresholds::kSpikeMinTokens,
                                   int64_t(std::ceil(thresholds::kSpikeMedianMultiple * b.p50)),
                                   int64_t(std::ceil(thresholds::kSpikeP95Multiple * b.p95))});
  return b;
}

// ---- spike -------------------------------------------------------------------

SpikeRule::SpikeRule(const RuleOptions& o)
    : width_(o.window_ns > 0 ? o.window_ns : thresholds::kDefaultWindowNs),
      baseline_windows_(int(std::max<int64_t>(1, thresholds::kSpikeBaselineNs / width_))) {}

Baseline SpikeRule::LiveBaseline(int64_t index, bool interactive) const {
  std::vector<int64_t> v;
  for (auto it = windows_.lower_bound(index - baseline_windows_);
       it != windows_.end() && it->first < index; ++it) {
    const Window& w = it->second;
    if (w.tokens >= thresholds::kSpikeBaselineMinWindowTokens && !w.live_spike &&
        w.interactive == interactive)
      v.push_back(w.tokens);
  }
  return MakeBaseline(std::move(v));
}

void SpikeRule::Observe(const Observation& o, const AlertFn* alert) {
  if (!o.counted()) return;
  const int64_t total = o.tokens.total();
  if (total <= 0 && o.requests == 0 && o.rate_limited == 0) return;
  const int64_t last = FloorDiv(o.time_ns, width_);
  // A turn summary's tokens were spent over the turn, not at its end: they
  // are spread over the windows it lasted (at most a day of them).
  int64_t first = last;
  if (o.turn_level && o.duration_ns > 0)
    first = std::max(last - baseline_windows_, FloorDiv(o.time_ns - o.duration_ns, width_));
  if (first == last) {
    Add(last, o, 1.0, alert);
    return;
  }
  const int64_t start = o.time_ns - o.duration_ns;
  for (int64_t i = first; i <= last; ++i) {
    const int64_t lo = std::max(start, i * width_), hi = std::min(o.time_ns, (i + 1) * width_);
    Add(i, o, double(std::max<int64_t>(0, hi - lo)) / double(o.duration_ns), alert);
  }
}

void SpikeRule::Add(int64_t index, const Observation& o, double share, const AlertFn* alert) {
  auto part = [share](int64_t n) { return int64_t(std::llround(double(n) * share)); };
  const int64_t total = part(o.tokens.total());
  Window& w = windows_[index];
  w.tokens += total;
  w.requests += index == FloorDiv(o.time_ns, width_) ? o.requests : 0;
  w.rate_limited += index == FloorDiv(o.time_ns, width_) ? o.rate_limited : 0;
  w.top[0].Add(o.dim(Dim::kSession), total);
  w.top[1].Add(o.dim(Dim::kJob), total);
  w.top[2].Add(o.dim(Dim::kTool), part(o.tool_calls));
  w.top[3].Add(o.dim(Dim::kModel), total);
  if (total <= 0) return;
  if (!o.background && !w.interactive) {
    w.interactive = true;
    w.live_threshold = -1;  // judged against interactive windows from now on
  }
  if (w.live_threshold < 0) w.live_threshold = LiveBaseline(index, w.interactive).threshold;
  if (w.live_spike || w.tokens < w.live_threshold) return;
  w.live_spike = true;
  const bool new_episode = last_live_spike_ == INT64_MIN ||
                           (index - last_live_spike_ - 1) * width_ > thresholds::kSpikeMergeGapNs;
  last_live_spike_ = std::max(last_live_spike_, index);
  if (!new_episode || alert == nullptr) return;
  Judged j{index, &w, LiveBaseline(index, w.interactive), true};
  Raise(alert, MakeFinding(MakeEpisode({&j})), &o);
}

void SpikeRule::Forget(int64_t before_ns) {
  const int64_t index = FloorDiv(before_ns, width_);
  windows_.erase(windows_.begin(), windows_.lower_bound(index));
}

std::vector<SpikeRule::Judged> SpikeRule::Judge() const {
  std::vector<Judged> out;
  out.reserve(windows_.size());
  // (index, tokens) of the baseline windows, per kind: background only, interactive.
  std::deque<std::pair<int64_t, int64_t>> trailing[2];
  std::vector<int64_t> v;
  for (const auto& [index, w] : windows_) {
    auto& mine = trailing[w.interactive ? 1 : 0];
    for (auto& t : trailing)
      while (!t.empty() && t.front().first < index - baseline_windows_) t.pop_front();
    v.clear();
    for (const auto& t : mine) v.push_back(t.second);
    Baseline b = MakeBaseline(v);
    const bool spike = w.tokens > 0 && w.tokens >= b.threshold;
    out.push_back({index, &w, b, spike});
    if (!spike && w.tokens >= thresholds::kSpikeBaselineMinWindowTokens)
      mine.emplace_back(index, w.tokens);
  }
  return out;
}

WindowView SpikeRule::View(const Judged& j) const {
  WindowView v;
  v.start_ns = j.index * width_;
  v.width_ns = width_;
  v.tokens = j.w->tokens;
  v.requests = j.w->requests;
  v.rate_limited = j.w->rate_limited;
  v.spike = j.spike;
  v.baseline = j.base;
  for (int d = 0; d < 4; ++d) v.top[d] = j.w->top[d].Top(thresholds::kSpikeTopContributors);
  return v;
}

std::vector<WindowView> SpikeRule::Windows(int64_t from_ns, int64_t to_ns) const {
  std::vector<WindowView> out;
  for (const Judged& j : Judge()) {
    const int64_t start = j.index * width_;
    if ((from_ns != 0 && start + width_ <= from_ns) || (to_ns != 0 && start >= to_ns)) continue;
    out.push_back(View(j));
  }
  return out;
}

WindowView SpikeRule::At(int64_t t_ns) const {
  const int64_t index = FloorDiv(t_ns, width_);
  auto it = windows_.find(index);
  if (it == windows_.end()) {
    WindowView v;
    v.start_ns = index * width_;
    v.width_ns = width_;
    v.baseline = LiveBaseline(index, true);
    return v;
  }
  Judged j{index, &it->second, LiveBaseline(index, it->second.interactive), it->second.live_spike};
  return View(j);
}

SpikeEpisode SpikeRule::MakeEpisode(const std::vector<const Judged*>& windows) const {
  SpikeEpisode e;
  e.start_ns = windows.front()->index * width_;
  e.end_ns = (windows.back()->index + 1) * width_;
  e.baseline = windows.front()->base;
  e.windows = int(windows.size());
  TopSketch top[4];
  for (const Judged* j : windows) {
    e.tokens += j->w->tokens;
    e.requests += j->w->requests;
    e.rate_limited += j->w->rate_limited;
    e.peak_tokens = std::max(e.peak_tokens, j->w->tokens);
    for (int d = 0; d < 4; ++d) top[d].Merge(j->w->top[d]);
  }
  for (int d = 0; d < 4; ++d) e.top[d] = top[d].Top(thresholds::kSpikeTopContributors);
  return e;
}

std::vector<SpikeEpisode> SpikeRule::Episodes() const {
  std::vector<SpikeEpisode> out;
  const std::vector<Judged> judged = Judge();
  std::vector<const Judged*> episode;
  for (const Judged& j : judged) {
    if (!j.spike) continue;
    if (!episode.empty() &&
        (j.index - episode.back()->index - 1) * width_ > thresholds::kSpikeMergeGapNs) {
      out.push_back(MakeEpisode(episode));
      episode.clear();
    }
    episode.push_back(&j);
  }
  if (!episode.empty()) out.push_back(MakeEpisode(episode));
  return out;
}

Finding SpikeRule::MakeFinding(const SpikeEpisode& e) const {
  Finding f;
  f.kind = "spike";
  f.time_ns = e.start_ns;
  f.end_ns = e.end_ns;
  f.tokens = e.tokens;
  const double p50 = e.baseline.p50, p95 = e.baseline.p95;
  const double median_multiple = p50 > 0 ? double(e.peak_tokens) / p50 : 0;
  f.subject = absl::StrCat("window ", Iso(f.time_ns), " to ", ClockTime(f.end_ns));
  NameCulprit(e.top[0], e.top[1], e.tokens, f);
  f.severity = median_multiple >= 4 * thresholds::kSpikeMedianMultiple ? Severity::kCritical
                                                                       : Severity::kWarning;
  const double minutes = double(width_) / 60e9;
  f.evidence = {{"window_tokens", double(e.peak_tokens)},
                {"episode_tokens", double(e.tokens)},
                {"windows", double(e.windows)},
                {"minutes", double(f.end_ns - f.time_ns) / 60e9},
                {"window_minutes", minutes},
                {"baseline_p50", p50},
                {"baseline_p95", p95},
                {"baseline_windows", double(e.baseline.windows)},
                {"median_multiple", median_multiple},
                {"p95_multiple", p95 > 0 ? double(e.peak_tokens) / p95 : 0},
                {"requests", double(e.requests)},
                {"rate_limited", double(e.rate_limited)}};
  f.rule = absl::StrFormat(
      "a %.0f-minute window with >= %.0fx the median and >= %.0fx the p95 of the windows of the "
      "same kind (interactive, or background only) in the previous %d h, and >= %s tokens "
      "(rate limits fail on spikes, not on daily totals)",
      minutes, thresholds::kSpikeMedianMultiple, thresholds::kSpikeP95Multiple,
      int(thresholds::kSpikeBaselineNs / 3'600'000'000'000), Tokens(thresholds::kSpikeMinTokens));
  f.recommendation = absl::StrCat(
      "Spike rule: ", Tokens(double(e.tokens)), " tokens in ", Minutes(f.end_ns - f.time_ns),
      " from ", ClockTime(f.time_ns), " UTC; the busiest window was ",
      absl::StrFormat("%.1f", median_multiple), "x the usual (median ", Tokens(p50),
      "). Top contributors: ", Contributors(e.top), ". Look there for a loop, retries or fan-out.");
  return f;
}

void SpikeRule::AppendFindings(std::vector<Finding>* out) const {
  for (const SpikeEpisode& e : Episodes()) out->push_back(MakeFinding(e));
}

// ---- retry_storm ---------------------------------------------------------------

StormRule::StormRule(const RuleOptions& o)
    : width_(o.window_ns > 0 ? o.window_ns : thresholds::kDefaultWindowNs),
      span_(std::max<int64_t>(1, width_ / thresholds::kStormBucketNs)) {}

int64_t StormRule::SumBefore(int64_t minute) const {
  int64_t n = 0;
  for (auto it = minutes_.lower_bound(minute - span_ + 1);
       it != minutes_.end() && it->first <= minute; ++it)
    n += it->second.rate_limited;
  return n;
}

int64_t StormRule::RecentRateLimited(int64_t t_ns) const {
  return SumBefore(FloorDiv(t_ns, thresholds::kStormBucketNs));
}

void StormRule::Observe(const Observation& o, const AlertFn* alert) {
  if (!o.counted() || (o.rate_limited <= 0 && o.retries <= 0)) return;
  const int64_t m = FloorDiv(o.time_ns, thresholds::kStormBucketNs);
  Minute& b = minutes_[m];
  b.rate_limited += o.rate_limited;
  b.retries += o.retries;
  b.retry_wait_ms += o.retry_wait_ms;
  if (o.rate_limited <= 0) return;
  b.sessions.Add(o.dim(Dim::kSession), o.rate_limited);
  b.jobs.Add(o.dim(Dim::kJob), o.rate_limited);
  if (o.fingerprint != 0) b.calls.Add(Key{o.fingerprint, ""}, o.rate_limited);
  if (SumBefore(m) < thresholds::kRetryStormMin429) return;
  const bool new_episode = live_episode_end_ == INT64_MIN || m - live_episode_end_ > span_;
  live_episode_end_ = std::max(live_episode_end_, m);
  if (!new_episode || alert == nullptr) return;
  auto first = minutes_.lower_bound(m - span_ + 1);
  while (first->second.rate_limited == 0) ++first;
  Raise(alert, MakeFinding(first->first, m), &o);
}

void StormRule::Forget(int64_t before_ns) {
  minutes_.erase(minutes_.begin(),
                 minutes_.lower_bound(FloorDiv(before_ns, thresholds::kStormBucketNs)));
}

Finding StormRule::MakeFinding(int64_t first, int64_t last) const {
  int64_t rate_limited = 0, retries = 0, wait_ms = 0, peak = 0;
  TopSketch sessions, jobs, calls;
  for (auto it = minutes_.lower_bound(first); it != minutes_.end() && it->first <= last; ++it) {
    rate_limited += it->second.rate_limited;
    retries += it->second.retries;
    wait_ms += it->second.retry_wait_ms;
    sessions.Merge(it->second.sessions);
    jobs.Merge(it->second.jobs);
    calls.Merge(it->second.calls);
    peak = std::max(peak, SumBefore(it->first));
  }
  Finding f;
  f.kind = "retry_storm";
  f.time_ns = first * thresholds::kStormBucketNs;
  f.end_ns = (last + 1) * thresholds::kStormBucketNs;
  auto identical = calls.Top(1);
  f.subject = absl::StrCat("429s from ", ClockTime(f.time_ns), " UTC");
  NameCulprit(sessions.Top(1), jobs.Top(1), rate_limited, f);
  f.severity =
      rate_limited >= 4 * thresholds::kRetryStormMin429 ? Severity::kCritical : Severity::kWarning;
  const double minutes = double(width_) / 60e9;
  f.evidence = {{"rate_limited", double(rate_limited)},
                {"peak_in_window", double(peak)},
                {"retries", double(retries)},
                {"retry_wait_ms", double(wait_ms)},
                {"identical_requests", identical.empty() ? 0.0 : double(identical[0].second)},
                {"minutes", double(f.end_ns - f.time_ns) / 60e9}};
  f.rule = absl::StrFormat(">= %d HTTP 429s within %.0f minutes (a retry storm)",
                           thresholds::kRetryStormMin429, minutes);
  f.recommendation = absl::StrCat(
      "Retry-storm rule: ", rate_limited, " rate-limited responses in ",
      Minutes(f.end_ns - f.time_ns), " from ", ClockTime(f.time_ns), " UTC (", f.subject,
      "). Honour retry-after, use exponential backoff with jitter, cap retries and concurrent "
      "retrying tasks.");
  return f;
}

void StormRule::AppendFindings(std::vector<Finding>* out) const {
  // Minutes with 429s that fall in some window holding >= the threshold.
  std::vector<int64_t> marked;
  for (const auto& [m, b] : minutes_) {
    if (b.rate_limited == 0 || SumBefore(m) < thresholds::kRetryStormMin429) continue;
    for (auto it = minutes_.lower_bound(m - span_ + 1); it != minutes_.end() && it->first <= m;
         ++it) {
      if (it->second.rate_limited > 0 && (marked.empty() || it->first > marked.back()))
        marked.push_back(it->first);
    }
  }
  size_t i = 0;
  while (i < marked.size()) {
    size_t j = i;
    while (j + 1 < marked.size() && marked[j + 1] - marked[j] <= span_) ++j;
    out->push_back(MakeFinding(marked[i], marked[j]));
    i = j + 1;
  }
}

}  // namespace tokmeter::rules
