// The group rules and large_run (groups.h).
#include "src/rules/groups.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/rules/stats.h"
#include "src/rules/text.h"

namespace tokmeter::rules {
namespace {

std::string Label(const std::string& name) { return name.empty() ? "(untagged)" : name; }

Finding GroupFinding(Dim dim, const std::string& name, std::string kind) {
  Finding f;
  f.kind = std::move(kind);
  f.subject = absl::StrCat(std::string(DimName(dim)), " ", Label(name));
  if (!name.empty()) f.keys = {{std::string(DimName(dim)), name}};
  return f;
}

}  // namespace

GroupRules::GroupRules(const RuleOptions&) {}

void GroupRules::Add(Agg& a, const Observation& o) {
  a.tokens.Add(o.tokens);
  a.requests += o.requests;
  if (o.cache_reported) {
    a.cache_tokens.Add(o.tokens);
    a.cache_requests += o.requests;
  }
}

void GroupRules::Observe(const Observation& o, const AlertFn* alert) {
  if (!o.counted()) return;
  const Key& run = o.dim(Dim::kRun);
  Run* r = nullptr;
  bool new_run = false;
  if (run && last_run_ != nullptr && last_run_id_ == run.id) {
    r = last_run_;
  } else if (run) {
    auto [it, inserted] = runs_.try_emplace(run.id);
    r = &it->second;
    new_run = inserted;
    last_run_id_ = run.id;
    last_run_ = r;
  }
  for (int i = 0; i < 4; ++i) {
    const Key& k = o.dim(kGroupDims[i]);
    if (k && i < 3) seen_[i] = true;
    LastGroup& last = last_group_[i];
    if (last.agg == nullptr || last.id != k.id) {
      Agg& found = groups_[i][k.id];
      if (found.name.empty() && k) found.name = std::string(k.name);
      last = {k.id, &found};
    }
    Agg& a = *last.agg;
    Add(a, o);
    // A run counts once in each group it wrote to.
    if (r != nullptr && (new_run || !InGroup(run.id, *r, i, k.id))) {
      ++a.runs;
      if (new_run) {
        r->group[i] = k.id;
      } else {
        other_groups_[run.id].emplace_back(i, k.id);
      }
    }
  }
  if (r == nullptr) return;
  if (new_run) {
    // A run named by its trace id reads better by its session when it has one.
    const Key& session = o.dim(Dim::kSession);
    r->name = std::string(run.name);
    if (session && run.name == o.trace_id && session.name != o.trace_id) r->session = session.name;
    if (o.dim(Dim::kWorkflow)) r->workflow = std::string(o.dim(Dim::kWorkflow).name);
    r->first_ns = o.time_ns;
  }
  r->first_ns = std::min(r->first_ns, o.time_ns);
  r->last_ns = std::max(r->last_ns, o.time_ns);
  r->tokens += o.tokens.total();
  if (!r->alerted && r->tokens >= thresholds::kLargeRunTokens) {
    r->alerted = true;
    Raise(alert, RunFinding(*r, 0, 0, true), &o);
  }
}

bool GroupRules::InGroup(uint64_t run, const Run& r, int i, uint64_t group) const {
  if (r.group[i] == group) return true;
  auto it = other_groups_.find(run);
  if (it == other_groups_.end()) return false;
  for (const auto& [d, g] : it->second)
    if (d == i && g == group) return true;
  return false;
}

void GroupRules::ObservePrevious(const Observation& o) {
  if (!o.counted()) return;
  has_previous_ = true;
  for (int i = 0; i < 4; ++i) {
    const Key& k = o.dim(kGroupDims[i]);
    Agg& a = previous_[i][k.id];
    if (a.name.empty() && k) a.name = std::string(k.name);
    Add(a, o);
  }
}

void GroupRules::SetPreviousTotals(std::map<std::string, int64_t> tokens_by_group) {
  previous_totals_ = std::move(tokens_by_group);
  has_previous_totals_ = true;
}

Dim GroupRules::PrimaryDim() const {
  for (int i = 0; i < 3; ++i)
    if (seen_[i]) return kGroupDims[i];
  return Dim::kModel;
}

void GroupRules::Forget(int64_t before_ns) {
  last_run_ = nullptr;
  for (auto it = runs_.begin(); it != runs_.end();) {
    auto cur = it++;
    if (cur->second.last_ns < before_ns) {
      other_groups_.erase(cur->first);
      runs_.erase(cur);
    }
  }
}

Finding GroupRules::RunFinding(const Run& r, double median, size_t runs_in_group,
                               bool absolute) const {
  Finding f;
  f.kind = "large_run";
  if (!r.workflow.empty()) {
    const std::string& run = r.session.empty() ? r.name : r.session;
    f.subject = absl::StrCat("workflow ", r.workflow, " run ", run);
    f.keys = {{"workflow", r.workflow}, {r.session.empty() ? "run" : "session", run}};
  } else if (!r.session.empty()) {
    f.subject = absl::StrCat("session ", r.session);
    f.keys = {{"session", r.session}};
  } else {
    f.subject = absl::StrCat("run ", r.name);
    f.keys = {{"run", r.name}};
  }
  f.time_ns = r.first_ns;
  f.end_ns = r.last_ns;
  f.tokens = r.tokens;
  // A total to review, not a fault in itself.
  f.severity = Severity::kInfo;
  f.evidence = {{"tokens", double(r.tokens)},
                {"median_run_tokens", median},
                {"runs_in_group", double(runs_in_group)},
                {"threshold_tokens", double(thresholds::kLargeRunTokens)}};
  f.rule = absl::StrFormat(
      "a run with >= %s tokens, or >= %.0fx the median run of its group (an unusually high "
      "total -> review)",
      Tokens(double(thresholds::kLargeRunTokens)), thresholds::kLargeRunMedianMultiple);
  f.recommendation = absl::StrCat(
      "Large-run rule: ", Tokens(double(r.tokens)), " tokens in one run",
      runs_in_group > 0 ? absl::StrCat(" (median run ", Tokens(median), ")") : std::string(),
      ". Review it: context size, repeated work, test/build output sent to the model.");
  return f;
}

void GroupRules::AppendFindings(std::vector<Finding>* out) const {
  const Dim dim = PrimaryDim();
  const int di =
      int(std::find(std::begin(kGroupDims), std::end(kGroupDims), dim) - std::begin(kGroupDims));
  for (const auto& [id, a] : groups_[di]) {
    const int64_t prompt = a.cache_tokens.prompt();
    if (prompt >= thresholds::kMinPromptTokensToJudge && a.cache_requests > 0) {
      const double hit = CacheHitRate(a.cache_tokens);
      if (a.cache_tokens.cache_read == 0) {
        Finding f = GroupFinding(dim, a.name, "no_cache");
        f.tokens = a.tokens.total();
        f.severity = Severity::kWarning;
        f.evidence = {{"prompt_tokens", double(prompt)},
                      {"cache_read_tokens", 0},
                      {"cache_hit_rate", 0},
                      {"requests", double(a.cache_requests)}};
        f.rule = "zero cache hits -> enable prompt caching";
        f.recommendation = absl::StrCat(
            "No-cache rule: ", Tokens(double(prompt)),
            " prompt tokens and not one cache hit. Enable prompt caching (stable prefix: system "
            "prompt and tool definitions first, cache breakpoints).");
        out->push_back(std::move(f));
      } else if (hit < thresholds::kLowCacheHitRate) {
        Finding f = GroupFinding(dim, a.name, "low_cache");
        f.tokens = a.tokens.total();
        f.severity = Severity::kInfo;
        f.evidence = {{"cache_hit_rate", hit},
                      {"threshold", thresholds::kLowCacheHitRate},
                      {"input_tokens", double(a.cache_tokens.input)},
                      {"cache_read_tokens", double(a.cache_tokens.cache_read)}};
        f.rule = absl::StrFormat("cache hit rate < %.0f%% (cache efficiency dropped)",
                                 thresholds::kLowCacheHitRate * 100);
        f.recommendation =
            absl::StrCat("Low-cache rule: cache hit rate ", absl::StrFormat("%.1f%%", hit * 100),
                         ". Keep prompts deterministic (stable order, pinned templates) so the "
                         "prefix is reused.");
        out->push_back(std::move(f));
      }
    }
    const int64_t all_prompt = a.tokens.prompt();
    const double io = InputOutputRatio(a.tokens);
    if (all_prompt >= thresholds::kMinPromptTokensToJudge && a.requests > 0 &&
        a.tokens.output > 0 && io > thresholds::kHighIoRatio) {
      Finding f = GroupFinding(dim, a.name, "high_io_ratio");
      f.tokens = a.tokens.total();
      f.severity = io > 10 * thresholds::kHighIoRatio ? Severity::kWarning : Severity::kInfo;
      f.evidence = {{"input_output_ratio", io},
                    {"prompt_tokens", double(all_prompt)},
                    {"output_tokens", double(a.tokens.output)}};
      f.rule = "input/output > 100:1 -> reduce system prompt or tool surface";
      f.recommendation = absl::StrCat(
          "High input/output rule: ", absl::StrFormat("%.0f", io),
          ":1. Reduce the system prompt and the tool surface (fewer/lighter tool schemas), "
          "prune context.");
      out->push_back(std::move(f));
    }
    const double runs = double(std::max<int64_t>(a.runs, 1));
    const double per_run = double(a.requests) / runs;
    const double per_request = a.requests > 0 ? double(a.tokens.total()) / double(a.requests) : 0;
    if (per_run >= thresholds::kManySmallMinRequestsPerRun &&
        per_request < thresholds::kSmallRequestTokens) {
      Finding f = GroupFinding(dim, a.name, "many_small_requests");
      f.tokens = a.tokens.total();
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
      out->push_back(std::move(f));
    }
    // Against the previous period.
    const Agg* before = nullptr;
    if (auto b = previous_[di].find(id); has_previous_ && b != previous_[di].end())
      before = &b->second;
    int64_t prev_total = -1;
    if (has_previous_totals_) {
      auto p = previous_totals_.find(Label(a.name));
      if (p != previous_totals_.end()) prev_total = p->second;
    } else if (before != nullptr) {
      prev_total = before->tokens.total();
    }
    if (prev_total >= thresholds::kMinPromptTokensToJudge) {
      const int64_t total = a.tokens.total();
      const double growth = double(total - prev_total) / double(prev_total);
      if (growth >= thresholds::kIncreasingMinGrowth) {
        Finding f = GroupFinding(dim, a.name, "increasing");
        f.tokens = total - prev_total;
        f.severity = growth >= 1.0 ? Severity::kWarning : Severity::kInfo;
        f.evidence = {
            {"tokens", double(total)}, {"previous_tokens", double(prev_total)}, {"growth", growth}};
        f.rule =
            absl::StrFormat("tokens up >= %.0f%% vs the previous period (increasing consumption)",
                            thresholds::kIncreasingMinGrowth * 100);
        f.recommendation = absl::StrCat(
            "Increasing rule: ", absl::StrFormat("%+.0f%%", growth * 100),
            " tokens vs the previous period (", Tokens(double(prev_total)), " -> ",
            Tokens(double(total)), "). Check what changed: prompts, tools, schedules.");
        out->push_back(std::move(f));
      }
    }
    if (before != nullptr && before->tokens.output >= thresholds::kRatioMinGroupOutput &&
        a.tokens.output >= thresholds::kRatioMinGroupOutput && before->tokens.prompt() > 0 &&
        a.tokens.prompt() > 0) {
      const double now = double(a.tokens.output) / double(a.tokens.prompt());
      const double then = double(before->tokens.output) / double(before->tokens.prompt());
      if (then > 0 && now >= thresholds::kRatioGroupRiseMultiple * then) {
        Finding f = GroupFinding(dim, a.name, "output_ratio_rise");
        f.tokens = a.tokens.output;
        f.severity = Severity::kWarning;
        f.evidence = {{"output_prompt_ratio", now},
                      {"previous_output_prompt_ratio", then},
                      {"rise", now / then}};
        f.rule = absl::StrFormat(
            "output/prompt >= %.0fx the previous period's, with >= %s output tokens in both",
            thresholds::kRatioGroupRiseMultiple, Tokens(double(thresholds::kRatioMinGroupOutput)));
        f.recommendation = absl::StrCat(
            "Output-ratio rule: output/prompt went from ", absl::StrFormat("%.3f", then), " to ",
            absl::StrFormat("%.3f", now),
            ". Set max_tokens, constrain the answer format, check for retries that regenerate "
            "long outputs.");
        out->push_back(std::move(f));
      }
    }
  }
  // large_run: against the runs of the same group.
  absl::flat_hash_map<uint64_t, std::vector<double>> by_group;
  for (const auto& [id, r] : runs_) by_group[r.group[di]].push_back(double(r.tokens));
  absl::flat_hash_map<uint64_t, double> median;
  for (const auto& [g, v] : by_group) median[g] = Percentile(v, 0.5);
  for (const auto& [id, r] : runs_) {
    const std::vector<double>& v = by_group[r.group[di]];
    const double m = median[r.group[di]];
    const bool absolute = r.tokens >= thresholds::kLargeRunTokens;
    // Runs of one workflow do the same job and compare; interactive sessions
    // vary by nature, so only the absolute limit applies to them.
    const bool relative = dim == Dim::kWorkflow && int(v.size()) >= thresholds::kLargeRunMinRuns &&
                          r.tokens >= thresholds::kLargeRunMinTokens &&
                          double(r.tokens) >= thresholds::kLargeRunMedianMultiple * m;
    if (absolute || relative) out->push_back(RunFinding(r, m, v.size(), absolute));
  }
}

}  // namespace tokmeter::rules
