// Event storage and the aggregate sums (store.h).
#include "src/analysis/store.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_format.h"
#include "src/analysis/reader.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis {
void Agg::Add(const StoredEvent& r) {
  if (r.rollup) return;
  if (events == 0 || r.time_ns < first_ns) first_ns = r.time_ns;
  if (events == 0 || r.time_ns > last_ns) last_ns = r.time_ns;
  ++events;
  tokens.Add(r.tokens);
  requests += r.requests;
  tool_calls += r.tool_calls;
  rate_limited += r.rate_limited;
  retries += r.retries;
  retry_wait_ms += r.retry_wait_ms;
  errors += r.errors;
  if (r.priced()) {
    cost_usd += r.cost;
  } else {
    unpriced_tokens += r.tokens.total();
  }
  if (r.requests > 0 && r.duration_ns >= 0) {
    request_duration_ns += r.duration_ns;
    timed_requests += r.requests;
  }
}

void Agg::Merge(const Agg& o) {
  if (o.events == 0) return;
  if (events == 0 || o.first_ns < first_ns) first_ns = o.first_ns;
  if (events == 0 || o.last_ns > last_ns) last_ns = o.last_ns;
  events += o.events;
  tokens.Add(o.tokens);
  requests += o.requests;
  tool_calls += o.tool_calls;
  rate_limited += o.rate_limited;
  retries += o.retries;
  retry_wait_ms += o.retry_wait_ms;
  errors += o.errors;
  cost_usd += o.cost_usd;
  unpriced_tokens += o.unpriced_tokens;
  request_duration_ns += o.request_duration_ns;
  timed_requests += o.timed_requests;
}

EventStore::EventStore(CostFn cost) : cost_(std::move(cost)) {
  strings_.emplace_back();
  ids_.emplace(absl::string_view(), 0);
}

uint32_t EventStore::Intern(std::string_view s) {
  if (s.empty()) return 0;
  auto it = ids_.find(ToAbsl(s));
  if (it != ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(strings_.size());
  const std::string& kept = strings_.emplace_back(s);
  ids_.emplace(absl::string_view(kept.data(), kept.size()), id);  // a view of the one copy
  return id;
}

uint32_t EventStore::InternField(int field, std::string_view s) {
  LastInterned& last = last_[field];
  if (s == last.text[0]) return last.id[0];
  if (s == last.text[1]) return last.id[1];
  const int i = last.older;
  last.older = 1 - i;
  last.id[i] = Intern(s);
  last.text[i] = strings_[last.id[i]];
  return last.id[i];
}

uint32_t EventStore::Find(std::string_view s) const {
  auto it = ids_.find(ToAbsl(s));
  return it == ids_.end() ? 0 : it->second;
}

namespace {
constexpr uint64_t kInternedId = uint64_t{1} << 63;
bool IsInternedKey(uint64_t key) {
  return (key & kInternedId) != 0 && (key & ~kInternedId) <= UINT32_MAX;
}
}  // namespace

uint64_t EventStore::IdKey(std::string_view id) {
  if (id.empty()) return 0;
  if (id.size() == 16) {
    const uint64_t v = reader_internal::ParseHex64(id);
    if (v != 0 && !IsInternedKey(v)) return v;  // (else: kept as text, unambiguous)
  }
  return kInternedId | Intern(id);
}

std::string EventStore::IdText(uint64_t key) const {
  if (key == 0) return "";
  if (IsInternedKey(key)) return str(static_cast<uint32_t>(key & ~kInternedId));
  return absl::StrFormat("%016x", key);
}

void EventStore::Add(const UsageEvent& e) {
  const int64_t t = e.time_unix_ns;
  if (!any_ || t < earliest_ns_) earliest_ns_ = t;
  if (!any_ || t > latest_ns_) latest_ns_ = t;
  any_ = true;
  if (horizon_) {
    // An event older than a horizon already reached is never needed: skip
    // it before its strings are interned. The horizon only grows, so a
    // value refreshed every 4,096 events is a safe lower bound.
    if ((++adds_ & 4095) == 0) horizon_ns_ = horizon_(latest_ns_);
    if (t < horizon_ns_) return;
  }
  StoredEvent r = Make(e);
  if (stream_) {
    stream_(r);
    return;
  }
  r.seq = next_seq_++;
  recs_.push_back(r);
  if (horizon_ && recs_.size() >= prune_at_) Prune();
}

void EventStore::Prune() {
  const int64_t h = horizon_ns_ = horizon_(latest_ns_);
  recs_.shrink(size_t(std::remove_if(recs_.begin(), recs_.end(),
                                     [h](const StoredEvent& r) { return r.time_ns < h; }) -
                      recs_.begin()));
  // The next prune after as many records again as are kept: amortized O(1).
  prune_at_ = std::max<size_t>(size_t{1} << 16, 2 * recs_.size());
}

StoredEvent EventStore::Make(const UsageEvent& e) {
  // What the record holds is what the rules observe (one mapping, in
  // src/rules/observation.cc); the store interns its strings.
  const rules::Observation o = rules::FromEvent(e);
  StoredEvent r;
  r.time_ns = o.time_ns;
  r.duration_ns = o.duration_ns;
  r.tokens = o.tokens;
  r.retry_wait_ms = o.retry_wait_ms;
  r.fingerprint = o.fingerprint;
  r.requests = static_cast<int32_t>(o.requests);
  r.tool_calls = static_cast<int32_t>(o.tool_calls);
  r.retries = static_cast<int32_t>(o.retries);
  r.rate_limited = static_cast<int32_t>(o.rate_limited);
  r.errors = static_cast<int32_t>(o.errors);
  r.status = static_cast<int32_t>(o.status);
  r.input_index = e.input_index;
  r.rollup = o.rollup;
  r.background = o.background;
  r.heartbeat = o.heartbeat;
  r.turn_level = o.turn_level;
  r.cache_reported = o.cache_reported;
  r.kind = InternField(0, o.kind);
  r.name = InternField(1, o.name);
  r.trace = InternField(2, o.trace_id);
  // Span ids are unique per event: interning every one would make the store
  // grow by a string per line. Only the rules use them — a turn's own id and
  // the turn a request or tool call belongs to — so only those are kept, 16
  // hex digits without a string, and none for commands that only group
  // (WithoutDetectorFields).
  if (detector_fields_) {
    r.span = IdKey(o.turn.name);
    r.parent = IdKey(o.parent.name);
    r.args = o.args;
  }
  for (int d = 0; d < kNumDims; ++d) r.dims[d] = InternField(3 + d, o.dims[d].name);

  if (e.tokens.total() == 0) {
    r.cost = 0;
  } else if (cost_) {
    std::optional<double> c = cost_(e);
    r.cost = c ? *c : std::numeric_limits<double>::quiet_NaN();
  } else {
    r.cost = std::numeric_limits<double>::quiet_NaN();
  }
  return r;
}

void EventStore::Finish() {
  if (horizon_) Prune();
  // In place (std::stable_sort would allocate a second copy of every record);
  // `seq` keeps events of equal time in the order they were read.
  auto before = [](const StoredEvent& a, const StoredEvent& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.seq < b.seq;
  };
  if (!std::is_sorted(recs_.begin(), recs_.end(), before))
    std::sort(recs_.begin(), recs_.end(), before);
}

std::span<const StoredEvent> EventStore::Range(int64_t from_ns, int64_t to_ns) const {
  std::span<const StoredEvent> all = records();
  auto lo = all.begin();
  auto hi = all.end();
  auto by_time = [](const StoredEvent& r, int64_t t) { return r.time_ns < t; };
  if (from_ns != 0) lo = std::lower_bound(all.begin(), all.end(), from_ns, by_time);
  if (to_ns != 0) hi = std::lower_bound(lo, all.end(), to_ns, by_time);
  return all.subspan(size_t(lo - all.begin()), size_t(hi - lo));
}

}  // namespace tokmeter::analysis
