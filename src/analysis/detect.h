// src/analysis/detect.h — the rules (src/rules) over the records of a store:
// what `tokmeter detect`, `report` and `compare` print.
#ifndef TOKMETER_ANALYSIS_DETECT_H_
#define TOKMETER_ANALYSIS_DETECT_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "src/analysis/reader.h"
#include "src/analysis/store.h"
#include "src/rules/engine.h"
#include "tokmeter/finding.h"

namespace tokmeter::analysis {

using ::tokmeter::Finding;
using ::tokmeter::Severity;
using ::tokmeter::SeverityName;

// What the rules see of a stored record: its strings from the store, its
// interned ids as keys.
rules::Observation ToObservation(const StoredEvent& r, const EventStore& store);
// The same, into `o` (a default-constructed Observation: every field the
// record holds is set, the others keep their defaults).
void ToObservation(const StoredEvent& r, const EventStore& store, rules::Observation& o);

struct DetectInput {
  const EventStore* store = nullptr;
  std::span<const StoredEvent> recs;      // the period analysed
  std::span<const StoredEvent> previous;  // the previous period, for `increasing`
  bool has_previous = false;
  // Total tokens per group of PrimaryDim() in a previous report (report
  // --previous; "(untagged)" for events without the tag). When set,
  // `increasing` compares with these instead of `previous`.
  const std::map<std::string, int64_t>* previous_group_tokens = nullptr;
  // Inputs as read; data_gap reports the empty ones, bad lines and drops.
  const std::vector<InputSummary>* inputs = nullptr;
  int64_t window_ns = 0;  // 0 = thresholds::kDefaultWindowNs
};

// Every rule's findings, sorted (rules::SortFindings).
std::vector<Finding> Detect(const DetectInput& in);

// data_gap: inputs that are empty, have malformed lines, or lost records.
std::vector<Finding> DataGapFindings(const std::vector<InputSummary>& inputs);

// The dimension reports group by: workflow if any record has one, else
// agent, else job, else model (the group rules' choice).
Dim PrimaryDim(std::span<const StoredEvent> recs);

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_DETECT_H_
