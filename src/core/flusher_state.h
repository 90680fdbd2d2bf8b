// src/core/flusher_state.h — what the flusher remembers between passes:
// traces (tags, totals), open turns, span fragments. Owned by the runtime,
// used only under its pass lock.
#ifndef TOKMETER_CORE_FLUSHER_STATE_H_
#define TOKMETER_CORE_FLUSHER_STATE_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "tokmeter/record.h"

namespace tokmeter::internal {

struct TraceState {
  std::string kind, name;
  uint64_t root_span_id = 0;
  int64_t start_unix_ns = 0;
  bool started = false;          // a TraceStart record was seen
  std::vector<OwnedTag> tags;    // last value per key
  std::vector<Tag> tag_views;    // views of `tags`, rebuilt when they change
  uint64_t version = 0;          // bumped on every change
  uint64_t emitted_version = 0;  // version last handed to the sinks
  Counters totals;
  int64_t spans = 0;
  int64_t end_unix_ns = 0;
  uint64_t closed_pass = 0;  // pass that saw the root close; 0 = open
  uint64_t last_pass = 0;    // last pass that touched it
};

struct TurnState {
  TraceId trace_id;
  uint64_t parent_turn = 0;  // the enclosing turn, if any
  std::string name;
  Counters totals;
  int64_t spans = 0;
  int64_t start_unix_ns = 0, end_unix_ns = 0;
  uint64_t closed_pass = 0;  // 0 = still open
};

struct FlusherState {
  absl::node_hash_map<TraceId, TraceState> traces;
  absl::flat_hash_map<uint64_t, TurnState> turns;
  // Items of open spans that overflowed their inline buffer, by span id.
  absl::flat_hash_map<uint64_t, std::string> fragments;
  // Spans decoded but held back to the next pass (their trace's start record
  // was not visible yet), with their strings owned.
  std::vector<OwnedSpan> held;
  uint64_t pass = 0;
};

}  // namespace tokmeter::internal

#endif  // TOKMETER_CORE_FLUSHER_STATE_H_
