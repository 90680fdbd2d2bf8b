// src/analysis/store.h — the events of one analysis run, kept compact, and the
// aggregate every view sums into.
//
// Flow: readers call EventStore::Add(UsageEvent) for each event, which makes
// one compact record (~200 bytes, every string interned once). What happens to
// the record depends on what the command needs:
//   - kept (the default): Finish() sorts by time; aggregate.h, detectors.h and
//     quota.h read the records;
//   - kept only while it can still fall in the reported period (KeepFrom):
//     commands whose period ends at the latest event (report, top --window,
//     quota) hold that period, not the whole history;
//   - streamed (StreamTo): handed to an accumulator of aggregate.h and not
//     kept, so memory grows with the groups, not with the events.
#ifndef TOKMETER_ANALYSIS_STORE_H_
#define TOKMETER_ANALYSIS_STORE_H_

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "src/analysis/event.h"
#include "src/rules/observation.h"

namespace tokmeter::analysis {

// The tags a view can group by (the rules' dimensions).
using ::tokmeter::rules::Dim;
using ::tokmeter::rules::DimName;
using ::tokmeter::rules::kNumDims;
using ::tokmeter::rules::ParseDim;

// Debian's abseil is built with its own absl::string_view (not an alias of
// std::string_view); convert at the boundary.
inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// One stored event. Strings are ids into EventStore's pool (0 = empty).
struct StoredEvent {
  int64_t time_ns = 0;
  int64_t duration_ns = -1;
  TokenBuckets tokens;
  int64_t retry_wait_ms = 0;
  uint64_t fingerprint = 0;
  double cost = 0;         // USD; NaN when the model has no price
  int32_t requests = 0;    // LLM requests (llm spans count at least 1)
  int32_t tool_calls = 0;  // tool spans count at least 1
  int32_t retries = 0;
  int32_t rate_limited = 0;  // 429s (status 429 counts at least 1)
  int32_t errors = 0;
  int32_t status = 0;
  int32_t input_index = 0;
  uint32_t kind = 0, name = 0, trace = 0;
  // Rule fields (EventStore::WithoutDetectorFields leaves them 0). None
  // keeps a string per event: args is a hash of the `args` tag, span and
  // parent are EventStore::IdKey()s.
  uint64_t args = 0;
  uint64_t span = 0;    // turn-level events: the turn's own id
  uint64_t parent = 0;  // other events: the turn (or span) they belong to
  uint32_t dims[kNumDims] = {};
  uint32_t seq = 0;  // order of EventStore::Add (ties in time keep it)
  // The flags of rules::Observation (src/rules/observation.h): background
  // work (tagged `job` or `heartbeat=true`), a roll-up (never summed into
  // totals, only used per turn), a turn-level record, and whether the source
  // reports cache fields.
  bool background = false;
  bool heartbeat = false;
  bool rollup = false;
  bool turn_level = false;
  bool cache_reported = true;

  uint32_t dim(Dim d) const { return dims[static_cast<int>(d)]; }
  bool priced() const { return !std::isnan(cost); }
};

// Cost of one event: nullopt = unpriced model. Events without tokens should
// return 0.
using CostFn = std::function<std::optional<double>(const UsageEvent&)>;

// Sums of records. Cost: `cost_usd` sums priced records only;
// `unpriced_tokens` counts the tokens of the others, so a group whose every
// token is unpriced has no cost at all (HasCost() false), never 0.
struct Agg {
  TokenBuckets tokens;
  int64_t events = 0;
  int64_t requests = 0;
  int64_t tool_calls = 0;
  int64_t rate_limited = 0;
  int64_t retries = 0;
  int64_t retry_wait_ms = 0;
  int64_t errors = 0;
  double cost_usd = 0;
  int64_t unpriced_tokens = 0;
  int64_t request_duration_ns = 0;  // summed over records with requests > 0
  int64_t timed_requests = 0;       // requests whose duration is known
  int64_t first_ns = 0, last_ns = 0;

  void Add(const StoredEvent& r);
  void Merge(const Agg& o);
  int64_t total() const { return tokens.total(); }
  bool HasCost() const { return !(unpriced_tokens > 0 && priced_tokens() == 0); }
  int64_t priced_tokens() const { return total() - unpriced_tokens; }
  // Mean duration of one request in ms; -1 when unknown.
  double MeanRequestMs() const {
    return timed_requests > 0 ? double(request_duration_ns) / 1e6 / double(timed_requests) : -1;
  }
};

// Records in one malloc'd block grown with realloc. Past glibc's mmap
// threshold realloc moves the pages (mremap) instead of copying them, so
// growing never holds two copies of the records, as std::vector's doubling
// does for a moment (~400 MB extra for 1 GB of tokmeter JSONL).
class RecArray {
 public:
  RecArray() = default;
  RecArray(const RecArray&) = delete;
  RecArray& operator=(const RecArray&) = delete;
  ~RecArray() { std::free(data_); }

  void push_back(const StoredEvent& r) {
    if (size_ == cap_) Grow();
    ::new (data_ + size_) StoredEvent(r);
    ++size_;
  }
  void shrink(size_t n) { size_ = std::min(n, size_); }  // drops the tail
  StoredEvent* begin() { return data_; }
  StoredEvent* end() { return data_ + size_; }
  const StoredEvent* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  static_assert(std::is_trivially_copyable_v<StoredEvent> &&
                std::is_trivially_destructible_v<StoredEvent>);
  void Grow() {
    const size_t cap = cap_ == 0 ? 1024 : cap_ * 2;
    void* p = std::realloc(static_cast<void*>(data_), cap * sizeof(StoredEvent));
    if (p == nullptr) throw std::bad_alloc();
    data_ = static_cast<StoredEvent*>(p);
    cap_ = cap;
  }
  StoredEvent* data_ = nullptr;
  size_t size_ = 0, cap_ = 0;
};

// Receives each record of a streaming store.
using RecFn = std::function<void(const StoredEvent&)>;
// The earliest event time a command still needs, given the latest event time
// read so far. It must not decrease as `latest_ns` grows.
using HorizonFn = std::function<int64_t(int64_t latest_ns)>;

// Collects events; not thread-safe (ReadInputs calls back from one thread at
// a time).
class EventStore {
 public:
  explicit EventStore(CostFn cost = nullptr);

  // Streaming: every later record goes to `fn` and none is kept.
  void StreamTo(RecFn fn) { stream_ = std::move(fn); }
  // Keeps only records at or after horizon(latest event time); older ones
  // are dropped in batches (amortized O(1) per event).
  void KeepFrom(HorizonFn horizon) { horizon_ = std::move(horizon); }

  // Records will only be grouped (aggregate.h), never given to detectors:
  // their args, span and parent stay 0, and those per-call ids are not
  // interned.
  void WithoutDetectorFields() { detector_fields_ = false; }

  // Copies what it needs from `e` (its views may die after the call).
  void Add(const UsageEvent& e);
  // Drops records older than the horizon and sorts the rest by time. Call
  // once after the last Add().
  void Finish();

  // Event times over every event added, kept or not (0 when none).
  int64_t earliest_ns() const { return earliest_ns_; }
  int64_t latest_ns() const { return latest_ns_; }

  std::span<const StoredEvent> records() const { return {recs_.data(), recs_.size()}; }
  // Records with time in [from_ns, to_ns) (0 = unbounded); needs Finish().
  std::span<const StoredEvent> Range(int64_t from_ns, int64_t to_ns) const;
  const std::string& str(uint32_t id) const { return strings_[id]; }
  // Interns `s` (tests use this to build keys).
  uint32_t Intern(std::string_view s);
  // The id of an interned string; 0 when `s` was never interned.
  uint32_t Find(std::string_view s) const;
  // A span id as the fanout rule keys it (0 for none): a 16-digit hex id
  // (tokmeter, OTLP) is its value, kept without a string — one string per
  // tool call would grow with the events; another id is interned, its
  // string id marked by the top bit.
  uint64_t IdKey(std::string_view id);
  // The id of an IdKey() again: 16 hex digits, or the interned text.
  std::string IdText(uint64_t key) const;

 private:
  // The record Add() makes of `e` (interns its strings).
  StoredEvent Make(const UsageEvent& e);
  void Prune();
  // Intern() for field `field` of Make(): consecutive events mostly repeat
  // a field's string (the same trace, session), or alternate between two
  // (model requests and tool calls: kind, name, model, tool), so the last
  // two of each field are compared before the table is asked.
  uint32_t InternField(int field, std::string_view s);
  static constexpr int kInternFields = 3 + kNumDims;  // kind, name, trace, dims
  struct LastInterned {
    std::string_view text[2];  // views of strings_
    uint32_t id[2] = {0, 0};
    int older = 0;  // the one a miss replaces
  };
  LastInterned last_[kInternFields];

  CostFn cost_;
  RecFn stream_;
  HorizonFn horizon_;
  size_t prune_at_ = 1 << 16;  // Prune() when recs_ reaches this size
  uint32_t next_seq_ = 0;
  uint64_t adds_ = 0;
  int64_t horizon_ns_ = INT64_MIN;  // horizon_ at the last refresh
  int64_t earliest_ns_ = 0, latest_ns_ = 0;
  bool any_ = false;
  bool detector_fields_ = true;
  RecArray recs_;
  std::deque<std::string> strings_;                       // deque: its strings never move
  absl::flat_hash_map<absl::string_view, uint32_t> ids_;  // keys view strings_
};

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_STORE_H_
