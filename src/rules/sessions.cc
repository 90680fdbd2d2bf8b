// loop, context_bloat, output_ratio_rise, cache_miss_streak (sessions.h).
#include "src/rules/sessions.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/rules/text.h"

namespace tokmeter::rules {
namespace {

// The observations the sequence rules compare: one request or one turn,
// that counts, with a prompt, that was not a 429.
bool IsStep(const Observation& o) {
  return o.counted() && o.rate_limited == 0 && (o.requests > 0 || o.turn_level) &&
         o.tokens.prompt() > 0;
}

bool Near(int64_t a, int64_t b, double tolerance, int64_t slack) {
  const int64_t d = std::llabs(a - b);
  return d <= slack || double(d) <= tolerance * double(std::max(a, b));
}

void Extend(int64_t& tokens_end, int64_t& last_ns, int64_t& count, const Observation& o,
            int64_t tokens) {
  tokens_end = tokens;
  last_ns = std::max(last_ns, o.time_ns);
  ++count;
}

}  // namespace

SessionRules::SessionRules(const RuleOptions& o) : opts_(o) {}

void SessionRules::Observe(const Observation& o, const AlertFn* alert) {
  const Key& k = o.thread();
  if (!k) return;
  // Offline runs (no retain_ns) close the sessions nobody writes to any
  // more: memory follows the sessions active at once, not all of them.
  if (idle_.Tick(o.time_ns) && opts_.retain_ns == 0) {
    for (auto it = threads_.begin(); it != threads_.end();) {
      auto cur = it++;
      if (idle_.Idle(cur->second->touched, cur->second->last_ns)) {
        Close(*cur->second);
        threads_.erase(cur);
      }
    }
  }
  auto [it, inserted] = threads_.try_emplace(k.id);
  if (inserted) it->second = std::make_unique<Thread>();
  Thread& t = *it->second;
  if (inserted) {
    t.name = std::string(k.name);
    t.dim = o.thread_dim();
  }
  if (t.workflow.empty() && o.dim(Dim::kWorkflow))
    t.workflow = std::string(o.dim(Dim::kWorkflow).name);
  t.touched = idle_.observed();
  t.last_ns = std::max(t.last_ns, o.time_ns);
  if (o.counted()) t.tokens += o.tokens.total();
  if (!o.counted() || o.rate_limited > 0) return;
  if (o.requests > 0 && !o.turn_level && !o.dim(Dim::kTool)) ++t.requests;
  if (o.fingerprint != 0 || (o.args != 0 && o.dim(Dim::kTool))) {
    ObserveCall(t, o, alert);
  } else if (IsStep(o)) {
    ObserveNear(t, o, alert);
  }
  if (IsStep(o)) {
    ObserveGrowth(t, o, alert);
    ObserveRatio(t, o, alert);
    ObserveMisses(t, o, alert);
  }
}

// ---- loop: the same call ---------------------------------------------------------

void SessionRules::ObserveCall(Thread& t, const Observation& o, const AlertFn* alert) {
  const uint64_t key = o.fingerprint != 0 ? o.fingerprint : (o.args ^ o.dim(Dim::kTool).id) | 1;
  auto it =
      std::find_if(t.calls.begin(), t.calls.end(), [&](const Call& c) { return c.key == key; });
  // The same tool call asked for again in one step (parallel tool use: no
  // model request of the session since it was last counted) is one decision
  // of the model, not a repeat. A session without model requests in the log
  // has no steps: every call counts.
  if (it != t.calls.end() && it->tool && t.requests > 0 && it->step == uint32_t(t.requests)) return;
  if (it != t.calls.end() && o.time_ns - it->run.last_ns > thresholds::kLoopHorizonNs) {
    // Too long since the last repeat: a new run of this call.
    if (it->run.open) closed_.push_back(LoopFinding(t, *it));
    it->run = Run{};
  }
  if (it == t.calls.end()) {
    if (t.calls.size() >= kMaxCalls) {
      // Forget the least recently used call (its episode, if any, ends);
      // the new one takes its place.
      it = std::min_element(t.calls.begin(), t.calls.end(),
                            [](const Call& a, const Call& b) { return a.used < b.used; });
      if (it->run.open) closed_.push_back(LoopFinding(t, *it));
      *it = Call{key, {}, {}, 0, bool(o.dim(Dim::kTool))};
    } else {
      t.calls.push_back(Call{key, {}, {}, 0, bool(o.dim(Dim::kTool))});
      it = t.calls.end() - 1;
    }
  }
  it->used = ++t.call_clock;
  Call& c = *it;
  c.step = uint32_t(t.requests);
  int64_t& kind_calls = t.keyed_calls[c.tool ? 1 : 0];
  ++kind_calls;
  if (c.run.count == 0) {
    c.run.first_ns = c.run.last_ns = o.time_ns;
    c.run.tokens_before = t.tokens - o.tokens.total();
    c.calls_before = kind_calls - 1;
  }
  if (c.what.empty() && c.run.count >= 1) {
    c.what = o.dim(Dim::kTool) ? absl::StrCat("tool ", std::string(o.dim(Dim::kTool).name))
                               : absl::StrCat(std::string(o.kind), " ", std::string(o.name));
  }
  Extend(c.run.tokens_end, c.run.last_ns, c.run.count, o, t.tokens);
  const double share = double(c.run.count) / double(kind_calls - c.calls_before);
  if (!c.run.open && c.run.count >= opts_.loop_repeats && share >= thresholds::kLoopMinShare) {
    c.run.open = true;
    Raise(alert, LoopFinding(t, c), &o);
  }
}

void SessionRules::ObserveNear(Thread& t, const Observation& o, const AlertFn* alert) {
  const int64_t prompt = o.tokens.prompt(), output = o.tokens.output;
  const bool near =
      t.prev_prompt >= 0 && o.time_ns - t.prev_ns <= thresholds::kNearMaxGapNs &&
      o.time_ns >= t.prev_ns && o.tool_calls == t.prev_tools &&
      Near(prompt, t.prev_prompt, thresholds::kNearPromptTolerance, thresholds::kNearPromptSlack) &&
      Near(output, t.prev_output, thresholds::kNearOutputTolerance, thresholds::kNearOutputSlack);
  t.prev_prompt = prompt;
  t.prev_output = output;
  t.prev_tools = o.tool_calls;
  t.prev_ns = o.time_ns;
  if (!near) {
    if (t.near.open) closed_.push_back(NearFinding(t));
    t.near = Run{};
    t.near.first_ns = t.near.last_ns = o.time_ns;
    t.near.tokens_before = t.tokens - o.tokens.total();
  }
  Extend(t.near.tokens_end, t.near.last_ns, t.near.count, o, t.tokens);
  if (!t.near.open && t.near.count >= thresholds::kNearMinStreak) {
    t.near.open = true;
    Raise(alert, NearFinding(t), &o);
  }
}

// ---- context_bloat ---------------------------------------------------------------

void SessionRules::ObserveGrowth(Thread& t, const Observation& o, const AlertFn* alert) {
  if (o.rollup) return;
  // One point per turn (the turn's first request) when requests name their
  // turn; every request or turn summary otherwise.
  if (!o.turn_level && o.parent) {
    if (o.parent.id == t.last_parent) return;
    t.last_parent = o.parent.id;
  }
  // A turn summary sums its model calls: their average prompt is the point.
  const int64_t raw = o.tokens.prompt();
  const int64_t calls = !o.turn_level    ? 1
                        : o.requests > 0 ? o.requests
                                         : 1 + std::max<int64_t>(0, o.tool_calls);
  const int64_t p = raw / std::max<int64_t>(1, calls);
  if (!t.prompts.empty() && double(p) < thresholds::kBloatResetShare * double(t.prompts.back())) {
    // A compaction or a new conversation: growth counts from here.
    if (t.bloat.open) closed_.push_back(BloatFinding(t));
    t.bloat = Run{};
    t.prompts.clear();
    t.prompt_times.clear();
    t.prev_point = 0;
  }
  t.prompts.push_back(p);
  t.prompt_times.push_back(o.time_ns);
  if (int(t.prompts.size()) > thresholds::kBloatMaxSteps) {
    t.prompts.pop_front();
    t.prompt_times.pop_front();
  }
  const int64_t prev_point = t.prev_point;
  t.prev_point = p;
  if (t.bloat.open) {
    // The episode goes on while the prompt keeps its size.
    Extend(t.bloat.tokens_end, t.bloat.last_ns, t.bloat.count, o, t.tokens);
    t.bloat_last = p;
    return;
  }
  const int n = int(t.prompts.size());
  // Past where agents compact, and staying there: one large prompt (the
  // compaction request itself sends the whole history) is not enough.
  if (n < thresholds::kBloatMinRequests || p < thresholds::kBloatMinLastPrompt ||
      prev_point < thresholds::kBloatMinLastPrompt)
    return;
  auto median3 = [](int64_t a, int64_t b, int64_t c) {
    return std::max(std::min(a, b), std::min(std::max(a, b), c));
  };
  const Steps& v = t.prompts;
  const int64_t tail = median3(v[n - 3], v[n - 2], v[n - 1]);
  // The longest run of the last prompts (>= kBloatMinRequests of them) that
  // grew steadily: earlier turns of another pace must not hide it.
  const double need = o.turn_level ? 1.0 : thresholds::kBloatIncreasingShare;
  int increases = 0;
  int64_t largest_step = 0;
  auto add_step = [&](int i) {  // the step from v[i - 1] to v[i]
    increases += v[i] > v[i - 1];
    largest_step = std::max(largest_step, v[i] - v[i - 1]);
  };
  const int shortest = n - thresholds::kBloatMinRequests;
  for (int i = shortest + 2; i < n; ++i) add_step(i);
  int from = -1;
  int64_t from_head = 0;
  for (int s = shortest; s >= 0; --s) {
    add_step(s + 1);
    const int64_t head = median3(v[s], v[s + 1], v[s + 2]);
    if (double(tail) >= thresholds::kBloatGrowthFactor * double(std::max<int64_t>(1, head)) &&
        double(increases) >= need * double(n - 1 - s) &&
        double(largest_step) <= thresholds::kBloatMaxStepShare * double(p - v[s])) {
      from = s;
      from_head = head;
    }
  }
  if (from < 0) return;
  t.bloat = Run{};
  t.bloat.open = true;
  t.bloat.first_ns = t.prompt_times[from];
  t.bloat.last_ns = o.time_ns;
  t.bloat.count = n - from;
  t.bloat_first = v[from];
  t.bloat_last = p;
  t.bloat_points = n - from;
  t.bloat_growth = double(tail) / double(std::max<int64_t>(1, from_head));
  int64_t sum = 0;
  for (int i = from; i < n; ++i) sum += v[i];
  t.bloat.tokens_before = t.tokens - sum;
  t.bloat.tokens_end = t.tokens;
  Raise(alert, BloatFinding(t), &o);
}

// ---- output_ratio_rise -----------------------------------------------------------

void SessionRules::ObserveRatio(Thread& t, const Observation& o, const AlertFn* alert) {
  if (o.rollup) return;
  const double ratio = double(o.tokens.output) / double(o.tokens.prompt());
  if (t.ratio_baseline < 0) {
    t.ratio_seed.push_back(ratio);
    if (int(t.ratio_seed.size()) >= thresholds::kRatioBaselineRequests) {
      std::vector<double> v = t.ratio_seed;
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      t.ratio_baseline = v[v.size() / 2];
      t.ratio_seed = {};
    }
    return;
  }
  const bool high = t.ratio_baseline > 0 &&
                    ratio >= thresholds::kRatioRiseMultiple * t.ratio_baseline &&
                    o.tokens.output >= thresholds::kRatioMinOutput;
  if (!high) {
    if (t.ratio.open) closed_.push_back(RatioFinding(t));
    t.ratio = Run{};
    t.ratio_max = 0;
    return;
  }
  if (t.ratio.count == 0) {
    t.ratio.first_ns = o.time_ns;
    t.ratio.tokens_before = t.tokens - o.tokens.total();
  }
  Extend(t.ratio.tokens_end, t.ratio.last_ns, t.ratio.count, o, t.tokens);
  t.ratio_max = std::max(t.ratio_max, ratio);
  if (!t.ratio.open && t.ratio.count >= thresholds::kRatioMinStreak) {
    t.ratio.open = true;
    Raise(alert, RatioFinding(t), &o);
  }
}

// ---- cache_miss_streak -----------------------------------------------------------

void SessionRules::ObserveMisses(Thread& t, const Observation& o, const AlertFn* alert) {
  if (o.rollup || !o.cache_reported) return;
  const bool warm = t.last_request_ns != INT64_MIN && o.time_ns >= t.last_request_ns &&
                    o.time_ns - t.last_request_ns <= thresholds::kCacheTtlNs;
  t.last_request_ns = o.time_ns;
  if (o.tokens.prompt() < thresholds::kCacheMissMinPrompt) return;
  // After a pause longer than the cache lives, a miss is expected: it
  // neither counts nor breaks the streak.
  if (o.tokens.cache_read == 0 && !warm) return;
  if (o.tokens.cache_read > 0) {
    if (t.misses.open) closed_.push_back(MissFinding(t));
    t.misses = Run{};
    return;
  }
  if (t.misses.count == 0) {
    t.misses.first_ns = o.time_ns;
    t.misses.tokens_before = t.tokens - o.tokens.total();
  }
  Extend(t.misses.tokens_end, t.misses.last_ns, t.misses.count, o, t.tokens);
  if (!t.misses.open && t.misses.count >= thresholds::kCacheMissStreak) {
    t.misses.open = true;
    Raise(alert, MissFinding(t), &o);
  }
}

// ---- findings --------------------------------------------------------------------

Finding SessionRules::Episode(const Thread& t, std::string kind, const Run& run) const {
  Finding f;
  f.kind = std::move(kind);
  f.time_ns = run.first_ns;
  f.end_ns = run.last_ns;
  f.tokens = run.tokens_end - run.tokens_before;
  f.severity = Severity::kWarning;
  if (t.dim == Dim::kRun && !t.workflow.empty()) {
    f.subject = absl::StrCat("workflow ", t.workflow, " run ", t.name);
    f.keys = {{"workflow", t.workflow}, {"run", t.name}};
  } else {
    f.subject = absl::StrCat(std::string(DimName(t.dim)), " ", t.name);
    f.keys = {{std::string(DimName(t.dim)), t.name}};
  }
  return f;
}

Finding SessionRules::LoopEpisode(const Thread& t, const Run& run, std::string_view what) const {
  Finding f = Episode(t, "loop", run);
  f.subject.append(": ").append(what);
  f.severity =
      f.tokens >= thresholds::kLoopCriticalTokens ? Severity::kCritical : Severity::kWarning;
  f.evidence = {{"repeats", double(run.count)},
                {"tokens", double(f.tokens)},
                {"seconds", double(run.last_ns - run.first_ns) / 1e9}};
  return f;
}

Finding SessionRules::LoopFinding(const Thread& t, const Call& c) const {
  const std::string what = c.what.empty() ? std::string("one call") : c.what;
  Finding f = LoopEpisode(t, c.run, what);
  f.rule = absl::StrFormat(
      "the same call (fingerprint, or tool + args) >= %d times in one session, each within %s of "
      "the previous (a tool call once per model request), and >= %.0f%% of its calls meanwhile "
      "(a hidden loop)",
      opts_.loop_repeats, Minutes(thresholds::kLoopHorizonNs), thresholds::kLoopMinShare * 100);
  f.recommendation = absl::StrCat(
      "Loop rule: ", what, " was called ", c.run.count, " times with identical arguments in ",
      Minutes(c.run.last_ns - c.run.first_ns), "; the session spent ", Tokens(double(f.tokens)),
      " tokens meanwhile. Make success detection explicit, cache the result, or cap repeats of "
      "identical calls.");
  return f;
}

Finding SessionRules::NearFinding(const Thread& t) const {
  Finding f = LoopEpisode(t, t.near, "near-identical requests");
  f.evidence.insert(f.evidence.end(), {{"prompt_tokens", double(t.prev_prompt)},
                                       {"output_tokens", double(t.prev_output)},
                                       {"tool_calls", double(t.prev_tools)}});
  f.rule = absl::StrFormat(
      ">= %d consecutive requests or turns in one session, each within %.0f s of the previous, "
      "with the same tool calls and prompt and output within %.0f%% and %.0f%% (repeated "
      "near-identical prompts)",
      thresholds::kNearMinStreak, double(thresholds::kNearMaxGapNs) / 1e9,
      thresholds::kNearPromptTolerance * 100, thresholds::kNearOutputTolerance * 100);
  f.recommendation = absl::StrCat(
      "Loop rule: ", t.near.count, " near-identical requests (prompt ~",
      Tokens(double(t.prev_prompt)), ", output ~", Tokens(double(t.prev_output)), ") in ",
      Minutes(t.near.last_ns - t.near.first_ns), ", ", Tokens(double(f.tokens)),
      " tokens. Something re-runs the same step: make success detection explicit or cap "
      "retries of a step.");
  return f;
}

Finding SessionRules::BloatFinding(const Thread& t) const {
  Finding f = Episode(t, "context_bloat", t.bloat);
  const double growth = double(t.bloat_last) / double(std::max<int64_t>(1, t.bloat_first));
  f.severity = growth >= 10 ? Severity::kCritical : Severity::kWarning;
  f.evidence = {{"first_prompt_tokens", double(t.bloat_first)},
                {"last_prompt_tokens", double(t.bloat_last)},
                {"growth", growth},
                {"median_growth", t.bloat_growth},
                {"steps", double(t.bloat_points)},
                {"tokens", double(f.tokens)}};
  f.rule = absl::StrFormat(
      "the prompt grows >= %.0fx (median of the last three vs the first three) over >= %d "
      "consecutive turns or requests, steadily (>= %.0f%% of the steps increasing, none more "
      "than %.0f%% of the growth), and stays >= %s tokens (input growing turn after turn "
      "without compaction)",
      thresholds::kBloatGrowthFactor, thresholds::kBloatMinRequests,
      thresholds::kBloatIncreasingShare * 100, thresholds::kBloatMaxStepShare * 100,
      Tokens(double(thresholds::kBloatMinLastPrompt)));
  f.recommendation =
      absl::StrCat("Context-bloat rule: the prompt grew from ", Tokens(double(t.bloat_first)),
                   " to ", Tokens(double(t.bloat_last)), " tokens (",
                   absl::StrFormat("%.1f", growth), "x) in ", t.bloat_points,
                   " steps. Prune or summarise history, send snapshots instead of "
                   "full history, avoid re-sending large blobs.");
  return f;
}

Finding SessionRules::RatioFinding(const Thread& t) const {
  Finding f = Episode(t, "output_ratio_rise", t.ratio);
  f.evidence = {{"baseline_ratio", t.ratio_baseline},
                {"max_ratio", t.ratio_max},
                {"requests", double(t.ratio.count)},
                {"tokens", double(f.tokens)}};
  f.rule = absl::StrFormat(
      "%d requests in a row with output/prompt >= %.0fx the session's own baseline (the median "
      "of its first %d) and >= %s output tokens each",
      thresholds::kRatioMinStreak, thresholds::kRatioRiseMultiple,
      thresholds::kRatioBaselineRequests, Tokens(double(thresholds::kRatioMinOutput)));
  f.recommendation = absl::StrCat(
      "Output-ratio rule: output/prompt rose from ", absl::StrFormat("%.3f", t.ratio_baseline),
      " to ", absl::StrFormat("%.3f", t.ratio_max), " over ", t.ratio.count,
      " requests. Set max_tokens, constrain the answer format, check for a retry loop that "
      "regenerates long outputs.");
  return f;
}

Finding SessionRules::MissFinding(const Thread& t) const {
  Finding f = Episode(t, "cache_miss_streak", t.misses);
  f.evidence = {{"requests", double(t.misses.count)}, {"tokens", double(f.tokens)}};
  f.rule = absl::StrFormat(
      "%d requests in a row, each within %s of the previous, with a prompt >= %s tokens and no "
      "cache read (the cache is not being hit)",
      thresholds::kCacheMissStreak, Minutes(thresholds::kCacheTtlNs),
      Tokens(double(thresholds::kCacheMissMinPrompt)));
  f.recommendation = absl::StrCat(
      "Cache-miss rule: ", t.misses.count,
      " requests in a row read nothing from the prompt "
      "cache (",
      Tokens(double(f.tokens)),
      " tokens). Keep the prompt prefix stable (system "
      "prompt and tools first, no timestamps or shuffled context in it) and within the cache "
      "TTL.");
  return f;
}

void SessionRules::OpenLoops(const Thread& t, std::vector<Finding>* out) const {
  std::array<const Call*, kMaxCalls> open;
  size_t n = 0;
  for (const Call& c : t.calls)
    if (c.run.open) open[n++] = &c;
  for (size_t i = 1; i < n; ++i)  // insertion sort: a handful at most
    for (size_t j = i; j > 0 && open[j - 1]->used > open[j]->used; --j)
      std::swap(open[j - 1], open[j]);
  for (size_t i = 0; i < n; ++i) out->push_back(LoopFinding(t, *open[i]));
}

void SessionRules::Close(Thread& t) {
  OpenLoops(t, &closed_);
  if (t.near.open) closed_.push_back(NearFinding(t));
  if (t.bloat.open) closed_.push_back(BloatFinding(t));
  if (t.ratio.open) closed_.push_back(RatioFinding(t));
  if (t.misses.open) closed_.push_back(MissFinding(t));
}

void SessionRules::Forget(int64_t before_ns) {
  for (auto it = threads_.begin(); it != threads_.end();) {
    auto cur = it++;
    if (cur->second->last_ns < before_ns) {
      Close(*cur->second);
      threads_.erase(cur);
    }
  }
  // Findings of episodes that ended before the retained span go too.
  closed_.erase(
      std::remove_if(closed_.begin(), closed_.end(),
                     [&](const Finding& f) { return std::max(f.time_ns, f.end_ns) < before_ns; }),
      closed_.end());
}

void SessionRules::AppendFindings(std::vector<Finding>* out) const {
  out->insert(out->end(), closed_.begin(), closed_.end());
  for (const auto& [k, thread] : threads_) {
    const Thread& t = *thread;
    OpenLoops(t, out);
    if (t.near.open) out->push_back(NearFinding(t));
    if (t.bloat.open) out->push_back(BloatFinding(t));
    if (t.ratio.open) out->push_back(RatioFinding(t));
    if (t.misses.open) out->push_back(MissFinding(t));
  }
}

}  // namespace tokmeter::rules
