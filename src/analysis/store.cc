// Event storage and the aggregate sums (store.h).
#include "src/analysis/store.h"

#include <algorithm>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"
#include "src/analysis/reader.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis {
namespace {

constexpr std::string_view kDimNames[kNumDims] = {
    "session", "job", "tool", "model", "workflow", "user", "channel", "agent", "provider", "run"};

}  // namespace

std::string_view DimName(Dim d) { return kDimNames[static_cast<int>(d)]; }

std::optional<Dim> ParseDim(std::string_view name) {
  if (name.size() > 1 && name.back() == 's') {
    for (int i = 0; i < kNumDims; ++i)
      if (name.substr(0, name.size() - 1) == kDimNames[i]) return static_cast<Dim>(i);
  }
  for (int i = 0; i < kNumDims; ++i)
    if (name == kDimNames[i]) return static_cast<Dim>(i);
  return std::nullopt;
}

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
  StoredEvent r;
  r.time_ns = e.time_unix_ns;
  r.duration_ns = e.duration_ns;
  r.tokens = e.tokens;
  r.retry_wait_ms = e.retry_wait_ms;
  r.fingerprint = e.fingerprint;
  r.requests = static_cast<int32_t>(e.requests);
  r.tool_calls = static_cast<int32_t>(e.tool_calls);
  r.retries = static_cast<int32_t>(e.retries);
  r.rate_limited = static_cast<int32_t>(e.rate_limited);
  r.errors = static_cast<int32_t>(e.errors);
  r.status = static_cast<int32_t>(e.status);
  r.input_index = e.input_index;
  if (e.kind == "llm" && r.requests == 0) r.requests = 1;
  if (e.kind == "tool" && r.tool_calls == 0) r.tool_calls = 1;
  if (e.status == 429 && r.rate_limited == 0) r.rate_limited = 1;
  r.rollup = IsRollup(e);
  // Only per-turn roll-ups say how many tool calls one turn made; a whole
  // trace's roll-up would look like fan-out.
  if (r.rollup && e.tag("turn_kind") != "turn") r.tool_calls = 0;
  r.kind = Intern(e.kind);
  r.name = Intern(e.name);
  r.trace = Intern(e.trace_id);
  // Span ids are unique per event: interning every one would make the store
  // grow by a string per line. Only the detectors use them — the fanout
  // rule a turn's own id and a tool call's parent, the loop rule the tool
  // arguments — so only those are kept, and none for commands that only
  // group (WithoutDetectorFields).
  if (detector_fields_) {
    const bool turn_level = r.rollup || e.kind == "turn_summary" || e.kind == "turn";
    r.span = turn_level ? IdKey(e.span_id) : 0;
    r.parent = r.tool_calls > 0 ? IdKey(e.parent_id) : 0;
    const std::string_view args = e.tag("args");
    r.args = args.empty() ? 0 : absl::Hash<absl::string_view>{}(ToAbsl(args)) | 1;
  }

  auto set = [&r](Dim d, uint32_t id) { r.dims[static_cast<int>(d)] = id; };
  std::string_view session = e.tag("session");
  if (session.empty()) session = e.trace_id;
  set(Dim::kSession, Intern(session));
  std::string_view heartbeat = e.tag("heartbeat");
  std::string_view job = e.tag("job");
  r.background = !job.empty() || heartbeat == "true";
  if (job.empty() && heartbeat == "true") job = "heartbeat";
  set(Dim::kJob, Intern(job));
  std::string_view tool = e.tag("tool");
  if (tool.empty() && e.kind == "tool") tool = e.name;
  set(Dim::kTool, Intern(tool));
  set(Dim::kModel, Intern(e.model));
  set(Dim::kWorkflow, Intern(e.tag("workflow")));
  set(Dim::kUser, Intern(e.tag("user")));
  set(Dim::kChannel, Intern(e.tag("channel")));
  set(Dim::kAgent, Intern(e.tag("agent")));
  set(Dim::kProvider, Intern(e.provider));
  std::string_view run = e.tag("run");
  if (run.empty()) run = e.trace_id;
  if (run.empty()) run = session;
  set(Dim::kRun, Intern(run));

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
