// The detector rules (detectors.h); thresholds live in rules.h.
#include "src/analysis/detectors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "src/analysis/aggregate.h"
#include "src/model/thresholds.h"

namespace tokmeter::analysis {
namespace {

std::string Iso(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

std::string Label(const EventStore& s, uint32_t id) {
  return id ? std::string(s.str(id)) : std::string("(untagged)");
}

std::string Tokens(double v) {
  if (v >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e4) return absl::StrFormat("%.1fK", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

int64_t WindowNs(const DetectInput& in) {
  return in.window_ns > 0 ? in.window_ns : thresholds::kDefaultWindowNs;
}

}  // namespace

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "info";
}

double Finding::Evidence(std::string_view name) const {
  for (const auto& [k, v] : evidence)
    if (k == name) return v;
  return std::numeric_limits<double>::quiet_NaN();
}

Dim PrimaryDim(std::span<const StoredEvent> recs) {
  for (Dim d : {Dim::kWorkflow, Dim::kAgent, Dim::kJob}) {
    for (const StoredEvent& r : recs)
      if (!r.rollup && r.dim(d)) return d;
  }
  return Dim::kModel;
}

// spike: thresholds::kSpike* over the window distribution (aggregate.h IsSpike).
std::vector<Finding> DetectSpikes(const DetectInput& in) {
  std::vector<Finding> out;
  const int64_t width = WindowNs(in);
  SpikeReport rep = FindSpikes(*in.store, in.recs, width);
  for (const Spike& s : rep.spikes) {
    Finding f;
    f.kind = "spike";
    f.time_ns = s.window.start_ns;
    f.tokens = s.window.agg.total();
    f.subject = absl::StrCat("window ", Iso(s.window.start_ns));
    f.severity = s.median_multiple >= 4 * thresholds::kSpikeMedianMultiple ? Severity::kCritical
                                                                           : Severity::kWarning;
    f.evidence = {{"window_tokens", double(f.tokens)},
                  {"window_minutes", double(width) / 60e9},
                  {"p50", rep.dist.p50},
                  {"p95", rep.dist.p95},
                  {"max", rep.dist.max},
                  {"median_multiple", s.median_multiple},
                  {"requests", double(s.window.agg.requests)},
                  {"rate_limited", double(s.window.agg.rate_limited)}};
    f.rule = absl::StrFormat(
        "window tokens >= %.0fx the median window and >= %d (rate limits fail on spikes, "
        "not on daily totals)",
        thresholds::kSpikeMedianMultiple, thresholds::kSpikeMinTokens);
    std::string who;
    if (!s.top_sessions.empty())
      absl::StrAppend(&who, " session ", s.top_sessions[0].first, " (",
                      Tokens(double(s.top_sessions[0].second)), ")");
    if (!s.top_jobs.empty())
      absl::StrAppend(&who, " job ", s.top_jobs[0].first, " (",
                      Tokens(double(s.top_jobs[0].second)), ")");
    if (!s.top_tools.empty())
      absl::StrAppend(&who, " tool ", s.top_tools[0].first, " (",
                      Tokens(double(s.top_tools[0].second)), ")");
    f.recommendation =
        absl::StrCat("Spike rule: ", Tokens(double(f.tokens)), " tokens in one window, ",
                     absl::StrFormat("%.1f", s.median_multiple),
                     "x the median window. Look at the top contributors:",
                     who.empty() ? " (no session/job/tool tags)" : who,
                     "; check for loops, retries or fan-out in that window.");
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
struct LoopKey {
  uint32_t session;
  uint64_t fp;
  uint32_t tool;
  uint64_t args;
  bool operator==(const LoopKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const LoopKey& k) {
    return H::combine(std::move(h), k.session, k.fp, k.tool, k.args);
  }
};
}  // namespace

// loop: the same fingerprint (or tool + args) >= kLoopMinRepeats times in a
// session, 429s excluded.
std::vector<Finding> DetectLoops(const DetectInput& in) {
  struct Stat {
    int64_t count = 0, tokens = 0, first = 0, last = 0;
    uint32_t tool = 0, kind = 0, name = 0;
  };
  auto key_of = [](const StoredEvent& r) -> std::optional<LoopKey> {
    if (r.rollup || r.rate_limited > 0) return std::nullopt;
    if (r.fingerprint != 0) return LoopKey{r.dim(Dim::kSession), r.fingerprint, 0, 0};
    if (r.args != 0 && r.dim(Dim::kTool) != 0)
      return LoopKey{r.dim(Dim::kSession), 0, r.dim(Dim::kTool), r.args};
    return std::nullopt;
  };
  // Pass 1 counts keys by their 64-bit hash in 16-byte slots (a log with a
  // distinct fingerprint per request has as many keys as requests); pass 2
  // keeps statistics only for keys counted often enough. A hash collision
  // can add a candidate, never lose one, and pass 2 counts exactly.
  absl::flat_hash_map<uint64_t, int64_t> counts;
  const absl::Hash<LoopKey> hash;
  for (const StoredEvent& r : in.recs)
    if (auto k = key_of(r)) ++counts[hash(*k)];
  absl::flat_hash_map<LoopKey, Stat> stats;
  for (const StoredEvent& r : in.recs) {
    std::optional<LoopKey> k = key_of(r);
    if (!k) continue;
    auto c = counts.find(hash(*k));
    if (c == counts.end() || c->second < thresholds::kLoopMinRepeats) continue;
    Stat& s = stats[*k];
    if (s.count == 0) {
      s.first = r.time_ns;
      s.tool = r.dim(Dim::kTool);
      s.kind = r.kind;
      s.name = r.name;
    }
    ++s.count;
    s.tokens += r.tokens.total();
    s.last = r.time_ns;
  }
  counts = {};
  std::vector<Finding> out;
  for (const auto& [k, s] : stats) {
    if (s.count < thresholds::kLoopMinRepeats) continue;
    const EventStore& st = *in.store;
    Finding f;
    f.kind = "loop";
    f.time_ns = s.first;
    f.tokens = s.tokens;
    std::string what = s.tool ? absl::StrCat("tool ", st.str(s.tool))
                              : absl::StrCat(st.str(s.kind), " ", st.str(s.name));
    f.subject = absl::StrCat("session ", Label(st, k.session), ": ", what);
    f.severity =
        s.count >= 4 * thresholds::kLoopMinRepeats ? Severity::kCritical : Severity::kWarning;
    f.evidence = {{"repeats", double(s.count)},
                  {"tokens", double(s.tokens)},
                  {"seconds", double(s.last - s.first) / 1e9}};
    if (k.fp) f.evidence.emplace_back("fingerprint", double(k.fp));
    f.rule = absl::StrFormat(
        "the same call (fingerprint or tool+args) >= %d times in one session (a hidden loop)",
        thresholds::kLoopMinRepeats);
    f.recommendation = absl::StrCat("Loop rule: ", what, " was called ", s.count,
                                    " times with identical arguments in ",
                                    absl::StrFormat("%.0f", f.evidence[2].second),
                                    " s. Make success detection explicit, cache the result, or cap "
                                    "repeats of identical calls.");
    out.push_back(std::move(f));
  }
  return out;
}

// fanout: one turn (the parent span of tool spans, or a turn summary) with
// >= kFanoutMinToolCalls tool calls.
std::vector<Finding> DetectFanout(const DetectInput& in) {
  struct Turn {
    int64_t tools = 0, summary_tools = 0, time = 0;
    uint32_t session = 0, name = 0;
  };
  // (trace, span IdKey, name id): a turn is its span id, or its name when a
  // summary has no id.
  std::map<std::tuple<uint32_t, uint64_t, uint32_t>, Turn> turns;
  const EventStore& st = *in.store;
  for (const StoredEvent& r : in.recs) {
    if (r.rollup || st.str(r.kind) == "turn_summary" || st.str(r.kind) == "turn") {
      if (r.tool_calls == 0) continue;
      Turn& t = turns[{r.trace, r.span, r.span ? 0 : r.name}];
      t.summary_tools = std::max<int64_t>(t.summary_tools, r.tool_calls);
      t.time = r.time_ns;
      t.session = r.dim(Dim::kSession);
      t.name = r.name;
    } else if (!r.rollup && r.tool_calls > 0 && r.parent != 0) {
      Turn& t = turns[{r.trace, r.parent, 0}];
      t.tools += r.tool_calls;
      if (t.time == 0) t.time = r.time_ns;
      t.session = r.dim(Dim::kSession);
    }
  }
  std::vector<Finding> out;
  for (const auto& [key, t] : turns) {
    int64_t n = std::max(t.tools, t.summary_tools);
    if (n < thresholds::kFanoutMinToolCalls) continue;
    Finding f;
    f.kind = "fanout";
    f.time_ns = t.time;
    const auto& [trace, span, name] = key;
    f.subject = absl::StrCat("session ", Label(st, t.session), " turn ",
                             span   ? st.IdText(span)
                             : name ? std::string(st.str(name))
                                    : std::string("?"));
    f.severity =
        n >= 4 * thresholds::kFanoutMinToolCalls ? Severity::kCritical : Severity::kWarning;
    f.evidence = {{"tool_calls", double(n)}};
    f.rule = absl::StrFormat("one turn with >= %d tool calls (tool-call fan-out)",
                             thresholds::kFanoutMinToolCalls);
    f.recommendation = absl::StrCat("Fan-out rule: one turn made ", n,
                                    " tool calls. Narrow searches and scans, batch tool calls, "
                                    "limit sub-agent spawns per turn.");
    out.push_back(std::move(f));
  }
  return out;
}

// context_bloat: prompts growing request after request in one session.
std::vector<Finding> DetectContextBloat(const DetectInput& in) {
  absl::flat_hash_map<uint32_t, std::vector<const StoredEvent*>> by_session;
  for (const StoredEvent& r : in.recs) {
    if (r.rollup || r.requests == 0 || r.rate_limited > 0 || r.tokens.prompt() == 0) continue;
    by_session[r.dim(Dim::kSession)].push_back(&r);
  }
  std::vector<Finding> out;
  for (const auto& [session, v] : by_session) {
    if (int(v.size()) < thresholds::kBloatMinRequests) continue;
    int64_t first = v.front()->tokens.prompt();
    int64_t last = v.back()->tokens.prompt();
    int increases = 0;
    int64_t sum = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      sum += v[i]->tokens.prompt();
      if (i > 0 && v[i]->tokens.prompt() > v[i - 1]->tokens.prompt()) ++increases;
    }
    double share = double(increases) / double(v.size() - 1);
    double growth = first > 0 ? double(last) / double(first) : 0;
    if (growth < thresholds::kBloatGrowthFactor || share < thresholds::kBloatIncreasingShare ||
        last < thresholds::kBloatMinLastPrompt)
      continue;
    Finding f;
    f.kind = "context_bloat";
    f.time_ns = v.front()->time_ns;
    f.tokens = sum;
    f.subject = absl::StrCat("session ", Label(*in.store, session));
    f.severity = growth >= 10 ? Severity::kCritical : Severity::kWarning;
    f.evidence = {{"requests", double(v.size())},       {"first_prompt_tokens", double(first)},
                  {"last_prompt_tokens", double(last)}, {"growth", growth},
                  {"increasing_share", share},          {"prompt_tokens", double(sum)}};
    f.rule = absl::StrFormat(
        "prompt grows >= %.0fx over >= %d requests, >= %.0f%% of steps increasing (input "
        "growing turn after turn)",
        thresholds::kBloatGrowthFactor, thresholds::kBloatMinRequests,
        thresholds::kBloatIncreasingShare * 100);
    f.recommendation = absl::StrCat(
        "Context-bloat rule: the prompt grew from ", Tokens(double(first)), " to ",
        Tokens(double(last)), " tokens (", absl::StrFormat("%.1f", growth), "x) over ", v.size(),
        " requests. Prune or summarise history, send snapshots instead of full history, "
        "avoid re-sending large blobs.");
    out.push_back(std::move(f));
  }
  return out;
}

// retry_storm: >= kRetryStormMin429 429s inside one window; adjacent storm
// windows merge into one finding.
std::vector<Finding> DetectRetryStorms(const DetectInput& in) {
  const int64_t width = WindowNs(in);
  std::vector<Window> windows = Windows(in.recs, width);
  std::vector<Finding> out;
  const EventStore& st = *in.store;
  size_t i = 0;
  while (i < windows.size()) {
    if (windows[i].agg.rate_limited < thresholds::kRetryStormMin429) {
      ++i;
      continue;
    }
    Agg storm;
    int64_t start = windows[i].start_ns, end = start + width;
    while (i < windows.size() && windows[i].agg.rate_limited >= thresholds::kRetryStormMin429 &&
           windows[i].start_ns <= end) {
      storm.Merge(windows[i].agg);
      end = windows[i].start_ns + width;
      ++i;
    }
    std::span<const StoredEvent> span = in.recs;
    auto lo = std::lower_bound(span.begin(), span.end(), start,
                               [](const StoredEvent& r, int64_t v) { return r.time_ns < v; });
    auto hi = std::lower_bound(lo, span.end(), end,
                               [](const StoredEvent& r, int64_t v) { return r.time_ns < v; });
    absl::flat_hash_map<uint32_t, int64_t> by_subject;
    absl::flat_hash_map<uint64_t, int64_t> by_fp;
    int64_t max_identical = 0;
    for (auto it = lo; it != hi; ++it) {
      if (it->rollup || it->rate_limited == 0) continue;
      uint32_t who = it->dim(Dim::kJob) ? it->dim(Dim::kJob) : it->dim(Dim::kSession);
      by_subject[who] += it->rate_limited;
      if (it->fingerprint) max_identical = std::max(max_identical, ++by_fp[it->fingerprint]);
    }
    uint32_t top = 0;
    int64_t top_n = -1;
    for (auto& [k, n] : by_subject)
      if (n > top_n || (n == top_n && st.str(k) < st.str(top))) top = k, top_n = n;
    Finding f;
    f.kind = "retry_storm";
    f.time_ns = start;
    f.tokens = storm.total();
    f.subject = absl::StrCat(top_n > 0 ? Label(st, top) : std::string("all"), " at ", Iso(start));
    f.severity = storm.rate_limited >= 4 * thresholds::kRetryStormMin429 ? Severity::kCritical
                                                                         : Severity::kWarning;
    f.evidence = {{"rate_limited", double(storm.rate_limited)},
                  {"requests", double(storm.requests)},
                  {"retries", double(storm.retries)},
                  {"retry_wait_ms", double(storm.retry_wait_ms)},
                  {"identical_requests", double(max_identical)},
                  {"minutes", double(end - start) / 60e9}};
    f.rule = absl::StrFormat(">= %d HTTP 429s in one %.0f-minute window (a retry storm)",
                             thresholds::kRetryStormMin429, double(width) / 60e9);
    f.recommendation = absl::StrCat(
        "Retry-storm rule: ", storm.rate_limited, " rate-limited responses in ",
        absl::StrFormat("%.0f", double(end - start) / 60e9),
        " minutes. Honour retry-after, use exponential backoff with jitter, cap retries and "
        "concurrent retrying tasks.");
    out.push_back(std::move(f));
  }
  return out;
}

// background: job/heartbeat tokens spent in hours with no interactive event.
std::vector<Finding> DetectBackground(const DetectInput& in) {
  absl::flat_hash_set<int64_t> busy;
  int64_t all = 0;
  for (const StoredEvent& r : in.recs) {
    if (r.rollup) continue;
    all += r.tokens.total();
    if (!r.background) busy.insert(r.time_ns / thresholds::kIdleBucketNs);
  }
  absl::flat_hash_map<uint32_t, std::pair<int64_t, int64_t>> by_job;  // idle, total
  int64_t idle = 0, background = 0, idle_requests = 0;
  int64_t first_idle = 0;
  for (const StoredEvent& r : in.recs) {
    if (r.rollup || !r.background) continue;
    int64_t t = r.tokens.total();
    background += t;
    auto& j = by_job[r.dim(Dim::kJob)];
    j.second += t;
    if (!busy.contains(r.time_ns / thresholds::kIdleBucketNs)) {
      if (idle == 0) first_idle = r.time_ns;
      idle += t;
      idle_requests += r.requests;
      j.first += t;
    }
  }
  std::vector<Finding> out;
  double share = all > 0 ? double(idle) / double(all) : 0;
  if (idle < thresholds::kBackgroundMinIdleTokens || share < thresholds::kBackgroundMinIdleShare)
    return out;
  const EventStore& st = *in.store;
  uint32_t top = 0;
  int64_t top_idle = -1;
  for (auto& [k, v] : by_job)
    if (v.first > top_idle) top = k, top_idle = v.first;
  Finding f;
  f.kind = "background";
  f.time_ns = first_idle;
  f.tokens = idle;
  f.subject = absl::StrCat("job ", Label(st, top));
  f.severity = share >= 0.5 ? Severity::kCritical : Severity::kWarning;
  f.evidence = {{"idle_background_tokens", double(idle)},
                {"background_tokens", double(background)},
                {"total_tokens", double(all)},
                {"idle_share", share},
                {"idle_requests", double(idle_requests)},
                {"top_job_idle_tokens", double(top_idle)}};
  f.rule = absl::StrFormat(
      "cron/heartbeat tokens in hours without interactive use >= %d and >= %.0f%% of all tokens "
      "(usage that grows while people are idle)",
      thresholds::kBackgroundMinIdleTokens, thresholds::kBackgroundMinIdleShare * 100);
  f.recommendation = absl::StrCat(
      "Background rule: ", Tokens(double(idle)), " tokens (",
      absl::StrFormat("%.1f%%", share * 100),
      " of all) were spent by cron/heartbeat work while nobody was using the agent; top: ",
      f.subject, ". Run it less often, make each poll cheaper, or skip work when nothing changed.");
  out.push_back(std::move(f));
  return out;
}

std::vector<Finding> DetectGroupRules(const DetectInput& in) {
  std::vector<Finding> out;
  const Dim dim = PrimaryDim(in.recs);
  const std::string dim_name(DimName(dim));
  std::vector<Group> groups = GroupBy(*in.store, in.recs, dim);
  std::map<std::string, Agg> before;
  if (in.has_previous)
    for (Group& g : GroupBy(*in.store, in.previous, dim)) before[g.key] = g.agg;
  for (const Group& g : groups) {
    const Agg& a = g.agg;
    const std::string subject =
        absl::StrCat(dim_name, " ", g.key.empty() ? std::string("(untagged)") : g.key);
    const int64_t prompt = a.tokens.prompt();
    if (prompt >= thresholds::kMinPromptTokensToJudge && a.requests > 0) {
      const double hit = CacheHitRate(a.tokens);
      if (a.tokens.cache_read == 0) {
        Finding f;
        f.kind = "no_cache";
        f.subject = subject;
        f.tokens = a.total();
        f.severity = Severity::kWarning;
        f.evidence = {{"prompt_tokens", double(prompt)},
                      {"cache_read_tokens", 0},
                      {"cache_hit_rate", 0},
                      {"requests", double(a.requests)}};
        f.rule = "zero cache hits -> enable prompt caching";
        f.recommendation = absl::StrCat(
            "No-cache rule: ", Tokens(double(prompt)),
            " prompt tokens and not one cache hit. Enable prompt caching (stable prefix: system "
            "prompt and tool definitions first, cache breakpoints).");
        out.push_back(std::move(f));
      } else if (hit < thresholds::kLowCacheHitRate) {
        Finding f;
        f.kind = "low_cache";
        f.subject = subject;
        f.tokens = a.total();
        f.severity = Severity::kInfo;
        f.evidence = {{"cache_hit_rate", hit},
                      {"threshold", thresholds::kLowCacheHitRate},
                      {"input_tokens", double(a.tokens.input)},
                      {"cache_read_tokens", double(a.tokens.cache_read)}};
        f.rule = absl::StrFormat("cache hit rate < %.0f%% (cache efficiency dropped)",
                                 thresholds::kLowCacheHitRate * 100);
        f.recommendation =
            absl::StrCat("Low-cache rule: cache hit rate ", absl::StrFormat("%.1f%%", hit * 100),
                         ". Keep prompts deterministic (stable order, pinned "
                         "templates) so the prefix is reused.");
        out.push_back(std::move(f));
      }
      const double io = InputOutputRatio(a.tokens);
      if (a.tokens.output > 0 && io > thresholds::kHighIoRatio) {
        Finding f;
        f.kind = "high_io_ratio";
        f.subject = subject;
        f.tokens = a.total();
        f.severity = io > 10 * thresholds::kHighIoRatio ? Severity::kWarning : Severity::kInfo;
        f.evidence = {{"input_output_ratio", io},
                      {"prompt_tokens", double(prompt)},
                      {"output_tokens", double(a.tokens.output)}};
        f.rule = "input/output > 100:1 -> reduce system prompt or tool surface";
        f.recommendation = absl::StrCat(
            "High input/output rule: ", absl::StrFormat("%.0f", io),
            ":1. Reduce the system prompt and the tool surface (fewer/lighter tool schemas), "
            "prune context.");
        out.push_back(std::move(f));
      }
    }
    const double runs = double(std::max<int64_t>(g.runs, 1));
    const double per_run = double(a.requests) / runs;
    const double per_request = a.requests > 0 ? double(a.total()) / double(a.requests) : 0;
    if (per_run >= thresholds::kManySmallMinRequestsPerRun &&
        per_request < thresholds::kSmallRequestTokens) {
      Finding f;
      f.kind = "many_small_requests";
      f.subject = subject;
      f.tokens = a.total();
      f.severity = Severity::kInfo;
      f.evidence = {{"requests", double(a.requests)},
                    {"runs", runs},
                    {"requests_per_run", per_run},
                    {"tokens_per_request", per_request}};
      f.rule =
          absl::StrFormat("many small requests (>= %.0f per run, < %.0f tokens each) -> batching",
                          thresholds::kManySmallMinRequestsPerRun, thresholds::kSmallRequestTokens);
      f.recommendation =
          absl::StrCat("Many-small-requests rule: ", absl::StrFormat("%.1f", per_run),
                       " requests per run averaging ", absl::StrFormat("%.0f", per_request),
                       " tokens. Batch related operations into one request.");
      out.push_back(std::move(f));
    }
    int64_t prev_total = -1;  // -1: no previous figure for this group
    if (in.previous_group_tokens != nullptr) {
      auto p = in.previous_group_tokens->find(g.key.empty() ? "(untagged)" : g.key);
      if (p != in.previous_group_tokens->end()) prev_total = p->second;
    } else if (auto b = before.find(g.key); in.has_previous && b != before.end()) {
      prev_total = b->second.total();
    }
    if (prev_total >= thresholds::kMinPromptTokensToJudge) {
      double growth = double(a.total() - prev_total) / double(prev_total);
      if (growth >= thresholds::kIncreasingMinGrowth) {
        Finding f;
        f.kind = "increasing";
        f.subject = subject;
        f.tokens = a.total() - prev_total;
        f.severity = growth >= 1.0 ? Severity::kWarning : Severity::kInfo;
        f.evidence = {{"tokens", double(a.total())},
                      {"previous_tokens", double(prev_total)},
                      {"growth", growth}};
        f.rule =
            absl::StrFormat("tokens up >= %.0f%% vs the previous period (increasing consumption)",
                            thresholds::kIncreasingMinGrowth * 100);
        f.recommendation = absl::StrCat(
            "Increasing rule: ", absl::StrFormat("%+.0f%%", growth * 100),
            " tokens vs the previous period (", Tokens(double(prev_total)), " -> ",
            Tokens(double(a.total())), "). Check what changed: prompts, tools, schedules.");
        out.push_back(std::move(f));
      }
    }
  }
  return out;
}

// large_run: runs above kLargeRunTokens, or above kLargeRunMedianMultiple ×
// the median run.
// Runs are compared with the runs of the same group (PrimaryDim): a long
// interactive session is not "large" next to many small heartbeat runs.
std::vector<Finding> DetectLargeRuns(const DetectInput& in) {
  const Dim dim = PrimaryDim(in.recs);
  absl::flat_hash_map<uint32_t, uint32_t> group_of_run;
  absl::flat_hash_map<uint32_t, std::vector<double>> group_runs;
  absl::flat_hash_map<uint32_t, int64_t> run_tokens;
  for (const StoredEvent& r : in.recs) {
    if (r.rollup || r.dim(Dim::kRun) == 0) continue;
    group_of_run.try_emplace(r.dim(Dim::kRun), r.dim(dim));
    run_tokens[r.dim(Dim::kRun)] += r.tokens.total();
  }
  for (auto& [run, t] : run_tokens) group_runs[group_of_run[run]].push_back(double(t));
  // One median per group (not per run: that sorted a group once per run).
  absl::flat_hash_map<uint32_t, double> group_median;
  for (const auto& [g, v] : group_runs) group_median[g] = Percentile(v, 0.5);
  std::vector<std::pair<std::string, int64_t>> runs = RunTotals(*in.store, in.recs);
  std::vector<Finding> out;
  for (auto& [k, t] : runs) {
    const uint32_t group = group_of_run[in.store->Find(k)];
    const std::vector<double>& v = group_runs[group];
    const double median = group_median[group];
    bool absolute = t >= thresholds::kLargeRunTokens;
    bool relative = int(v.size()) >= thresholds::kLargeRunMinRuns &&
                    t >= thresholds::kLargeRunMinTokens &&
                    double(t) >= thresholds::kLargeRunMedianMultiple * median;
    if (!absolute && !relative) continue;
    Finding f;
    f.kind = "large_run";
    f.subject = absl::StrCat("run ", k);
    f.tokens = t;
    f.severity = absolute ? Severity::kWarning : Severity::kInfo;
    f.evidence = {{"tokens", double(t)},
                  {"median_run_tokens", median},
                  {"runs_in_group", double(v.size())},
                  {"threshold_tokens", double(thresholds::kLargeRunTokens)}};
    f.rule = absl::StrFormat(
        "run total >= %d tokens or >= %.0fx the median run (an unusually high total -> "
        "review)",
        thresholds::kLargeRunTokens, thresholds::kLargeRunMedianMultiple);
    f.recommendation = absl::StrCat(
        "Large-run rule: ", Tokens(double(t)), " tokens in one run (median run ", Tokens(median),
        "). Review it: context size, repeated work, test/build output sent to the model.");
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Finding> DetectDataGaps(const DetectInput& in) {
  std::vector<Finding> out;
  if (in.inputs == nullptr) return out;
  for (const InputSummary& s : *in.inputs) {
    if (!s.empty && s.skipped_lines == 0 && s.dropped_records == 0) continue;
    Finding f;
    f.kind = "data_gap";
    f.subject = absl::StrCat("input ", s.path);
    f.severity = s.dropped_records > 0 ? Severity::kWarning : Severity::kInfo;
    f.evidence = {{"records", double(s.records)},
                  {"skipped_lines", double(s.skipped_lines)},
                  {"dropped_records", double(s.dropped_records)},
                  {"empty", s.empty ? 1.0 : 0.0}};
    f.rule = "inputs that are empty, have malformed lines, or lost records make totals incomplete";
    if (s.empty) {
      f.recommendation = "Data-gap rule: this input holds no usage records; is it instrumented?";
    } else {
      std::string lines;
      for (int64_t l : s.first_bad_lines) absl::StrAppend(&lines, lines.empty() ? "" : ", ", l);
      f.recommendation = absl::StrCat("Data-gap rule: ", s.skipped_lines, " malformed line(s)",
                                      lines.empty() ? "" : absl::StrCat(" (first: ", lines, ")"),
                                      " and ", s.dropped_records,
                                      " record(s) dropped by the writer; totals are lower bounds.");
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Finding> Detect(const DetectInput& in) {
  std::vector<Finding> all;
  for (auto* fn :
       {&DetectSpikes, &DetectLoops, &DetectFanout, &DetectContextBloat, &DetectRetryStorms,
        &DetectBackground, &DetectGroupRules, &DetectLargeRuns, &DetectDataGaps}) {
    std::vector<Finding> f = fn(in);
    all.insert(all.end(), std::make_move_iterator(f.begin()), std::make_move_iterator(f.end()));
  }
  std::stable_sort(all.begin(), all.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    if (a.tokens != b.tokens) return a.tokens > b.tokens;
    return std::tie(a.kind, a.subject) < std::tie(b.kind, b.subject);
  });
  return all;
}

}  // namespace tokmeter::analysis
