// Grouping, windows, percentiles and calendar buckets (aggregate.h).
#include "src/analysis/aggregate.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "src/analysis/rules.h"

namespace tokmeter::analysis {

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double rank = std::clamp(q, 0.0, 1.0) * double(values.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, values.size() - 1);
  double frac = rank - double(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

Distribution Distribute(const std::vector<double>& values) {
  Distribution d;
  d.count = static_cast<int64_t>(values.size());
  if (values.empty()) return d;
  d.p50 = Percentile(values, 0.50);
  d.p95 = Percentile(values, 0.95);
  double sum = 0;
  for (double v : values) {
    d.max = std::max(d.max, v);
    sum += v;
  }
  d.mean = sum / double(values.size());
  return d;
}

namespace {

std::vector<Group> Finish(const EventStore& store, absl::flat_hash_map<uint32_t, Group>& groups,
                          absl::flat_hash_map<uint32_t, absl::flat_hash_set<uint32_t>>& runs) {
  std::vector<Group> out;
  out.reserve(groups.size());
  for (auto& [id, g] : groups) {
    g.runs = static_cast<int64_t>(runs[id].size());
    out.push_back(std::move(g));
  }
  std::sort(out.begin(), out.end(), [](const Group& a, const Group& b) {
    if (a.agg.total() != b.agg.total()) return a.agg.total() > b.agg.total();
    return a.key < b.key;
  });
  return out;
}

}  // namespace

std::vector<Group> GroupBy(const EventStore& store, std::span<const Rec> recs, Dim dim) {
  absl::flat_hash_map<uint32_t, Group> groups;
  absl::flat_hash_map<uint32_t, absl::flat_hash_set<uint32_t>> runs;
  for (const Rec& r : recs) {
    if (r.rollup) continue;
    uint32_t k = r.dim(dim);
    Group& g = groups[k];
    if (g.agg.events == 0) g.key = std::string(store.str(k));
    g.agg.Add(r);
    g.by_model[std::string(store.str(r.dim(Dim::kModel)))].Add(r);
    if (r.dim(Dim::kRun)) runs[k].insert(r.dim(Dim::kRun));
  }
  return Finish(store, groups, runs);
}

std::vector<Group> GroupByCalendar(const EventStore& store, std::span<const Rec> recs, Calendar cal,
                                   const absl::TimeZone& tz) {
  std::map<std::string, Group> groups;
  std::map<std::string, absl::flat_hash_set<uint32_t>> runs;
  const char* fmt = cal == Calendar::kDay ? "%Y-%m-%d" : "%Y-%m";
  for (const Rec& r : recs) {
    if (r.rollup) continue;
    std::string key = absl::FormatTime(fmt, absl::FromUnixNanos(r.time_ns), tz);
    Group& g = groups[key];
    g.key = key;
    g.agg.Add(r);
    g.by_model[std::string(store.str(r.dim(Dim::kModel)))].Add(r);
    if (r.dim(Dim::kRun)) runs[key].insert(r.dim(Dim::kRun));
  }
  std::vector<Group> out;
  for (auto& [k, g] : groups) {
    g.runs = static_cast<int64_t>(runs[k].size());
    out.push_back(std::move(g));
  }
  return out;
}

Agg Total(std::span<const Rec> recs) {
  Agg a;
  for (const Rec& r : recs) a.Add(r);
  return a;
}

std::vector<Window> Windows(std::span<const Rec> recs, int64_t width_ns) {
  std::map<int64_t, Agg> by_start;
  for (const Rec& r : recs) {
    if (r.rollup) continue;
    int64_t start = r.time_ns - (((r.time_ns % width_ns) + width_ns) % width_ns);
    by_start[start].Add(r);
  }
  std::vector<Window> out;
  out.reserve(by_start.size());
  for (auto& [s, a] : by_start) out.push_back(Window{s, a});
  return out;
}

Distribution WindowDistribution(const std::vector<Window>& windows) {
  std::vector<double> v;
  v.reserve(windows.size());
  for (const Window& w : windows) v.push_back(double(w.agg.total()));
  return Distribute(v);
}

bool IsSpike(double window_tokens, const Distribution& dist) {
  return dist.count >= rules::kSpikeMinWindows && window_tokens >= double(rules::kSpikeMinTokens) &&
         window_tokens >= rules::kSpikeMedianMultiple * dist.p50 && window_tokens > dist.p95;
}

std::vector<std::pair<std::string, int64_t>> TopKeys(const EventStore& store,
                                                     std::span<const Rec> recs, Dim dim, int n) {
  absl::flat_hash_map<uint32_t, int64_t> sums;
  for (const Rec& r : recs) {
    if (r.rollup || r.dim(dim) == 0) continue;
    sums[r.dim(dim)] += dim == Dim::kTool ? r.tool_calls : r.tokens.total();
  }
  std::vector<std::pair<std::string, int64_t>> out;
  for (auto& [k, v] : sums) out.emplace_back(std::string(store.str(k)), v);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (n >= 0 && out.size() > size_t(n)) out.resize(size_t(n));
  return out;
}

std::vector<std::pair<std::string, int64_t>> RunTotals(const EventStore& store,
                                                       std::span<const Rec> recs) {
  return TopKeys(store, recs, Dim::kRun, -1);
}

SpikeReport FindSpikes(const EventStore& store, std::span<const Rec> recs, int64_t width_ns) {
  SpikeReport rep;
  rep.width_ns = width_ns;
  rep.windows = Windows(recs, width_ns);
  rep.dist = WindowDistribution(rep.windows);
  for (const Window& w : rep.windows) {
    double t = double(w.agg.total());
    if (!IsSpike(t, rep.dist)) continue;
    Spike s;
    s.window = w;
    s.median_multiple = rep.dist.p50 > 0 ? t / rep.dist.p50 : 0;
    auto lo = std::lower_bound(recs.begin(), recs.end(), w.start_ns,
                               [](const Rec& r, int64_t v) { return r.time_ns < v; });
    auto hi = std::lower_bound(lo, recs.end(), w.start_ns + width_ns,
                               [](const Rec& r, int64_t v) { return r.time_ns < v; });
    std::span<const Rec> in = recs.subspan(size_t(lo - recs.begin()), size_t(hi - lo));
    s.top_sessions = TopKeys(store, in, Dim::kSession, rules::kSpikeTopContributors);
    s.top_jobs = TopKeys(store, in, Dim::kJob, rules::kSpikeTopContributors);
    s.top_tools = TopKeys(store, in, Dim::kTool, rules::kSpikeTopContributors);
    rep.spikes.push_back(std::move(s));
  }
  return rep;
}

absl::Time StartOfDay(absl::Time t, const absl::TimeZone& tz) {
  absl::CivilDay d = absl::ToCivilDay(t, tz);
  return absl::FromCivil(d, tz);
}

absl::Time StartOfMonth(absl::Time t, const absl::TimeZone& tz) {
  absl::CivilMonth m = absl::ToCivilMonth(t, tz);
  return absl::FromCivil(m, tz);
}

absl::Time StartOfNextMonth(absl::Time t, const absl::TimeZone& tz) {
  absl::CivilMonth m = absl::ToCivilMonth(t, tz);
  return absl::FromCivil(m + 1, tz);
}

}  // namespace tokmeter::analysis
