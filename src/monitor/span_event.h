// src/monitor/span_event.h — the usage event of a closed span or roll-up, as
// the JSONL reader would make it from the line the JSONL sink writes for it.
// The live monitor sees exactly what `tokmeter detect` later reads.
#ifndef TOKMETER_MONITOR_SPAN_EVENT_H_
#define TOKMETER_MONITOR_SPAN_EVENT_H_

#include <array>

#include "src/model/usage_event.h"
#include "tokmeter/record.h"

namespace tokmeter::monitor_internal {

// Holds the text the event points to (hex ids, integer and boolean tag
// values); the event is valid while the buffer and the record are.
struct EventText {
  char trace_id[32];
  char span_id[16];
  char parent_id[16];
  std::array<std::array<char, 24>, 2 * UsageEvent::kMaxTags> values;
  size_t used = 0;  // values written for the current event
};

void FromSpan(const SpanRecord& s, EventText& text, UsageEvent& e);
void FromRollup(const RollupRecord& r, EventText& text, UsageEvent& e);

}  // namespace tokmeter::monitor_internal

#endif  // TOKMETER_MONITOR_SPAN_EVENT_H_
