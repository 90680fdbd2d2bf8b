// src/rules/observation.h — what the rules see of one usage event.
//
// Every rule is fed one Observation at a time, offline (`tokmeter detect`,
// `tokmeter watch`: one per event a reader produced) and live (the monitor:
// one per span the flusher closed). FromEvent() is the one mapping from a
// usage event to an observation — which tag names the session, what counts
// as background work, which records are turns — so both paths see the same
// thing.
//
// Keys: each named thing (a session, a job, a turn) is identified by a
// 64-bit key, 0 for none. The caller chooses how keys are made — an
// interner's ids (detect: the event store's strings) or a hash of the name
// (the live monitor, watch: HashKeys) — the rules only compare them. Names
// are views, valid during the call; rules copy the few they keep.
#ifndef TOKMETER_RULES_OBSERVATION_H_
#define TOKMETER_RULES_OBSERVATION_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "src/model/usage_event.h"
#include "tokmeter/buckets.h"

namespace tokmeter::rules {

// The tags rules and views group by. kRun is the unit "runs" are counted in.
enum class Dim : uint8_t {
  kSession,
  kJob,
  kTool,
  kModel,
  kWorkflow,
  kUser,
  kChannel,
  kAgent,
  kProvider,
  kRun,
};
inline constexpr int kNumDims = 10;
std::string_view DimName(Dim d);  // "session", "job", …
// "session", "job", … (also the plural "sessions"); nullopt when unknown.
std::optional<Dim> ParseDim(std::string_view name);

struct Key {
  uint64_t id = 0;  // 0: none
  std::string_view name;
  explicit operator bool() const { return id != 0; }
};

struct Observation {
  int64_t time_ns = 0;
  int64_t duration_ns = -1;
  TokenBuckets tokens;
  double cost = std::numeric_limits<double>::quiet_NaN();  // USD; NaN: unpriced
  int64_t requests = 0;    // LLM requests (an llm span counts at least 1)
  int64_t tool_calls = 0;  // a tool span counts at least 1
  int64_t retries = 0;
  int64_t retry_wait_ms = 0;
  int64_t rate_limited = 0;  // 429s (status 429 counts at least 1)
  int64_t errors = 0;
  int64_t status = 0;
  std::string_view kind, name;
  Key dims[kNumDims];
  uint64_t fingerprint = 0;  // 0: none; equal values are the same call
  uint64_t args = 0;         // hash of the `args` tag (0: none); with the tool, the call
  // The record's own turn id when it is turn-level (a turn span, a turn
  // summary, a roll-up); the id of its parent (the turn its request or tool
  // call belongs to) otherwise. 0: none.
  Key turn;
  Key parent;
  std::string_view trace_id, span_id;  // where it came from (alerts point back)
  bool background = false;             // tagged `job`, or `heartbeat=true`
  bool heartbeat = false;              // tagged `heartbeat=true`
  bool rollup = false;                 // repeats other records' counters: never summed
  bool turn_level = false;             // one record per turn (turn summaries, turn spans)
  bool cache_reported = true;          // the source reports cache reads and writes
  const UsageEvent* event = nullptr;   // the event it was made from, for other tags

  const Key& dim(Dim d) const { return dims[static_cast<int>(d)]; }
  Key& dim(Dim d) { return dims[static_cast<int>(d)]; }
  // The sequence per-session rules follow: the session, or the run when the
  // source names no session (proxy logs of one workflow run).
  const Key& thread() const { return dim(Dim::kSession) ? dim(Dim::kSession) : dim(Dim::kRun); }
  Dim thread_dim() const { return dim(Dim::kSession) ? Dim::kSession : Dim::kRun; }
  // Any tag's value: the dims first, then the event's tags ("" when absent).
  std::string_view tag(std::string_view key) const;
  // Counts toward totals (roll-ups repeat other records).
  bool counted() const { return !rollup; }
};

// The observation of one usage event: names, counts and flags; keys stay 0
// (HashKeys, or the caller's interner, sets them). `e` must outlive `o`.
Observation FromEvent(const UsageEvent& e);
// Sets every key to a 64-bit hash of its name (0 for an empty name).
void HashKeys(Observation& o);
uint64_t HashName(std::string_view name);  // never 0 for a non-empty name

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_OBSERVATION_H_
