// Grouping, windows, percentiles and calendar buckets (aggregate.h).
#include "src/analysis/aggregate.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "src/model/thresholds.h"

namespace tokmeter::analysis {

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

// The start of the window of `width_ns` holding `t` (aligned to multiples of
// the width since the epoch; floor, also before 1970).
int64_t WindowStart(int64_t t, int64_t width_ns) {
  return t - (((t % width_ns) + width_ns) % width_ns);
}

}  // namespace

struct Grouper::Slot {
  Group group;
  absl::flat_hash_set<uint32_t> runs;
  absl::flat_hash_map<uint32_t, Agg> by_model;  // model id → sums
};

Grouper::Grouper(const EventStore& store, Dim dim) : store_(&store), dim_(dim) {}
Grouper::Grouper(const EventStore& store, Calendar cal, const absl::TimeZone& tz)
    : store_(&store), calendar_(true), cal_(cal), tz_(tz) {}
Grouper::~Grouper() = default;

// Events mostly come in time order, so the bucket of the previous event is
// checked first: one key formatting per day (month), not per event.
Grouper::Slot& Grouper::CalendarSlot(int64_t time_ns) {
  if (bucket_ != nullptr && time_ns >= bucket_lo_ && time_ns < bucket_hi_) return *bucket_;
  const absl::Time t = absl::FromUnixNanos(time_ns);
  absl::Time lo, hi;
  if (cal_ == Calendar::kDay) {
    const absl::CivilDay d = absl::ToCivilDay(t, tz_);
    lo = absl::FromCivil(d, tz_);
    hi = absl::FromCivil(d + 1, tz_);
  } else {
    const absl::CivilMonth m = absl::ToCivilMonth(t, tz_);
    lo = absl::FromCivil(m, tz_);
    hi = absl::FromCivil(m + 1, tz_);
  }
  std::string key = absl::FormatTime(cal_ == Calendar::kDay ? "%Y-%m-%d" : "%Y-%m", t, tz_);
  std::unique_ptr<Slot>& slot = by_key_[key];
  if (!slot) {
    slot = std::make_unique<Slot>();
    slot->group.key = std::move(key);
  }
  bucket_lo_ = absl::ToUnixNanos(lo);
  bucket_hi_ = absl::ToUnixNanos(hi);
  bucket_ = slot.get();
  return *slot;
}

void Grouper::Add(const StoredEvent& r) {
  if (r.rollup) return;
  Slot* s;
  if (calendar_) {
    s = &CalendarSlot(r.time_ns);
  } else {
    std::unique_ptr<Slot>& slot = by_id_[r.dim(dim_)];
    if (!slot) {
      slot = std::make_unique<Slot>();
      slot->group.key = store_->str(r.dim(dim_));
    }
    s = slot.get();
  }
  s->group.agg.Add(r);
  s->by_model[r.dim(Dim::kModel)].Add(r);
  if (r.dim(Dim::kRun)) s->runs.insert(r.dim(Dim::kRun));
}

std::vector<Group> Grouper::Take() {
  std::vector<Group> out;
  out.reserve(by_id_.size() + by_key_.size());
  auto take = [&](Slot& s) {
    // Records without the tag that carry nothing (a trace's root span, a
    // session marker) would only add an empty "(untagged)" row.
    const Agg& a = s.group.agg;
    if (s.group.key.empty() && a.total() == 0 && a.requests == 0 && a.tool_calls == 0 &&
        a.rate_limited == 0 && a.retries == 0 && a.errors == 0)
      return;
    s.group.runs = static_cast<int64_t>(s.runs.size());
    for (const auto& [model, agg] : s.by_model) s.group.by_model[store_->str(model)] = agg;
    out.push_back(std::move(s.group));
  };
  if (calendar_) {
    for (auto& [key, slot] : by_key_) take(*slot);  // std::map: by key ascending
  } else {
    for (auto& [id, slot] : by_id_) take(*slot);
    std::sort(out.begin(), out.end(), [](const Group& a, const Group& b) {
      if (a.agg.total() != b.agg.total()) return a.agg.total() > b.agg.total();
      return a.key < b.key;
    });
  }
  by_id_.clear();
  by_key_.clear();
  bucket_ = nullptr;
  return out;
}

std::vector<Group> GroupBy(const EventStore& store, std::span<const StoredEvent> recs, Dim dim) {
  Grouper g(store, dim);
  for (const StoredEvent& r : recs) g.Add(r);
  return g.Take();
}

std::vector<Group> GroupByCalendar(const EventStore& store, std::span<const StoredEvent> recs,
                                   Calendar cal, const absl::TimeZone& tz) {
  Grouper g(store, cal, tz);
  for (const StoredEvent& r : recs) g.Add(r);
  return g.Take();
}

void Summary::Add(const StoredEvent& r) {
  total.Add(r);
  if (!r.rollup && !r.priced() && r.tokens.total() > 0) unpriced_models.insert(r.dim(Dim::kModel));
}

std::vector<std::string> Summary::UnpricedModels(const EventStore& store) const {
  std::vector<std::string> out;
  for (uint32_t m : unpriced_models) out.push_back(m ? store.str(m) : std::string("(unknown)"));
  std::sort(out.begin(), out.end());
  return out;
}

Summary Summarize(std::span<const StoredEvent> recs) {
  Summary s;
  for (const StoredEvent& r : recs) s.Add(r);
  return s;
}

Agg Total(std::span<const StoredEvent> recs) {
  Agg a;
  for (const StoredEvent& r : recs) a.Add(r);
  return a;
}

std::vector<Window> Windows(std::span<const StoredEvent> recs, int64_t width_ns) {
  std::map<int64_t, Agg> by_start;
  for (const StoredEvent& r : recs) {
    if (r.rollup) continue;
    by_start[WindowStart(r.time_ns, width_ns)].Add(r);
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

namespace {

int64_t TopValue(const StoredEvent& r, Dim dim) {
  return dim == Dim::kTool ? r.tool_calls : r.tokens.total();
}

// The largest `n` (all when n < 0) of `sums`, by value, then key.
std::vector<std::pair<std::string, int64_t>> Largest(
    const EventStore& store, const absl::flat_hash_map<uint32_t, int64_t>& sums, int n) {
  std::vector<std::pair<std::string, int64_t>> out;
  out.reserve(sums.size());
  for (const auto& [k, v] : sums) out.emplace_back(std::string(store.str(k)), v);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (n >= 0 && out.size() > size_t(n)) out.resize(size_t(n));
  return out;
}

}  // namespace

std::vector<std::pair<std::string, int64_t>> TopKeys(const EventStore& store,
                                                     std::span<const StoredEvent> recs, Dim dim,
                                                     int n) {
  absl::flat_hash_map<uint32_t, int64_t> sums;
  for (const StoredEvent& r : recs) {
    if (r.rollup || r.dim(dim) == 0) continue;
    sums[r.dim(dim)] += TopValue(r, dim);
  }
  return Largest(store, sums, n);
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
