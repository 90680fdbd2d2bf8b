// src/analysis/aggregate.h — grouping by tag, calendar buckets in a time
// zone, fixed windows with percentiles (tokens per 5 minutes, p95 and max),
// per-workflow overview and period trends. Pure functions of records.
#ifndef TOKMETER_ANALYSIS_AGGREGATE_H_
#define TOKMETER_ANALYSIS_AGGREGATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "src/analysis/store.h"
#include "src/rules/stats.h"

namespace tokmeter::analysis {

// The percentile of the rules (src/rules/stats.h), used by every view.
using ::tokmeter::rules::Percentile;

struct Distribution {
  int64_t count = 0;
  double p50 = 0, p95 = 0, max = 0, mean = 0;
};
Distribution Distribute(const std::vector<double>& values);

// One group of a GroupBy: its key ("" = events without that tag) and sums,
// with a per-model breakdown.
struct Group {
  std::string key;
  Agg agg;
  std::map<std::string, Agg> by_model;  // model ("" = unknown) → sums
  int64_t runs = 0;                     // distinct Dim::kRun values
};

enum class Calendar { kDay, kMonth };

// Builds groups one record at a time, so a command can group while it reads
// (EventStore::StreamTo): memory grows with the groups, not the events.
// GroupBy and GroupByCalendar are this over a span. Roll-ups are skipped.
class Grouper {
 public:
  // By the tag `dim`; Take() sorts by total tokens, largest first (ties by
  // key).
  Grouper(const EventStore& store, Dim dim);
  // By calendar bucket ("%Y-%m-%d" or "%Y-%m") of the event time in `tz`;
  // Take() sorts by key ascending.
  Grouper(const EventStore& store, Calendar cal, const absl::TimeZone& tz);
  Grouper(Grouper&&) = default;
  ~Grouper();

  void Add(const StoredEvent& r);
  std::vector<Group> Take();

 private:
  struct Slot;
  Slot& CalendarSlot(int64_t time_ns);

  const EventStore* store_;
  Dim dim_ = Dim::kSession;
  bool calendar_ = false;
  Calendar cal_ = Calendar::kDay;
  absl::TimeZone tz_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<Slot>> by_id_;  // tag groups
  std::map<std::string, std::unique_ptr<Slot>> by_key_;         // calendar groups
  int64_t bucket_lo_ = 1, bucket_hi_ = 0;                       // [lo, hi) of bucket_
  Slot* bucket_ = nullptr;
};

std::vector<Group> GroupBy(const EventStore& store, std::span<const StoredEvent> recs, Dim dim);
std::vector<Group> GroupByCalendar(const EventStore& store, std::span<const StoredEvent> recs,
                                   Calendar cal, const absl::TimeZone& tz);

// Totals of `recs` (roll-ups skipped).
Agg Total(std::span<const StoredEvent> recs);

// The totals every command's document opens with, built one record at a
// time: sums and the models that had tokens but no price.
struct Summary {
  Agg total;
  absl::flat_hash_set<uint32_t> unpriced_models;  // model ids (0 = unknown model)

  void Add(const StoredEvent& r);
  // Model names, sorted; "(unknown)" for events without a model.
  std::vector<std::string> UnpricedModels(const EventStore& store) const;
};
Summary Summarize(std::span<const StoredEvent> recs);

// A fixed window [start_ns, start_ns + width) holding at least one event.
struct Window {
  int64_t start_ns = 0;
  Agg agg;
};
// Windows aligned to multiples of `width_ns` since the Unix epoch, sorted by
// start; only windows with events are returned.
std::vector<Window> Windows(std::span<const StoredEvent> recs, int64_t width_ns);
// Distribution of total tokens over `windows`.
Distribution WindowDistribution(const std::vector<Window>& windows);

// The largest `n` values of `dim` inside `recs` by total tokens; for
// Dim::kTool by tool calls (tool spans carry no tokens). n < 0: all.
std::vector<std::pair<std::string, int64_t>> TopKeys(const EventStore& store,
                                                     std::span<const StoredEvent> recs, Dim dim,
                                                     int n);

// One row of a trend table: a group's figures now and in the previous
// period. `growth` = (now − before) / before; 0 when before is 0.
struct TrendRow {
  std::string key;
  int64_t tokens_now = 0, tokens_before = 0;
  double cost_now = 0, cost_before = 0;
  double cache_hit_rate_now = 0, cache_hit_rate_before = 0;
  bool has_before = false;
  double growth() const {
    return tokens_before > 0 ? double(tokens_now - tokens_before) / double(tokens_before) : 0;
  }
};

// Period helpers: the start of the day / month holding `t` in `tz`.
absl::Time StartOfDay(absl::Time t, const absl::TimeZone& tz);
absl::Time StartOfMonth(absl::Time t, const absl::TimeZone& tz);
absl::Time StartOfNextMonth(absl::Time t, const absl::TimeZone& tz);

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_AGGREGATE_H_
