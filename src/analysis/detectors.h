// src/analysis/detectors.h — findings: what wastes tokens, with the evidence.
//
// Each detector is one rule of rules.h, written once. A finding names its
// kind, how serious it is, what it is about (subject), the numbers that
// triggered it, and a recommendation that cites the rule.
#ifndef TOKMETER_ANALYSIS_DETECTORS_H_
#define TOKMETER_ANALYSIS_DETECTORS_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/analysis/reader.h"
#include "src/analysis/store.h"

namespace tokmeter::analysis {

enum class Severity { kInfo, kWarning, kCritical };
std::string_view SeverityName(Severity s);  // "info" | "warning" | "critical"

struct Finding {
  // spike | loop | fanout | context_bloat | retry_storm | background |
  // high_io_ratio | no_cache | low_cache | large_run | many_small_requests |
  // increasing | data_gap
  std::string kind;
  Severity severity = Severity::kWarning;
  std::string subject;  // "session s-42", "workflow smoke", "input a.jsonl", …
  // Named numbers, in a stable order (JSON object keys).
  std::vector<std::pair<std::string, double>> evidence;
  std::string rule;            // the rule and its threshold, e.g. "input/output > 100:1"
  std::string recommendation;  // what to do; cites the rule
  int64_t time_ns = 0;         // when it happened, if it is about a time (0 otherwise)
  int64_t tokens = 0;          // tokens at stake (orders findings)

  double Evidence(std::string_view name) const;  // NaN when absent
};

struct DetectInput {
  const EventStore* store = nullptr;
  std::span<const StoredEvent> recs;      // the period analysed (time-sorted)
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

// Every detector, findings sorted by severity (critical first), then tokens.
std::vector<Finding> Detect(const DetectInput& in);

// The individual rules (tests call them one by one).
std::vector<Finding> DetectSpikes(const DetectInput& in);
std::vector<Finding> DetectLoops(const DetectInput& in);
std::vector<Finding> DetectFanout(const DetectInput& in);
std::vector<Finding> DetectContextBloat(const DetectInput& in);
std::vector<Finding> DetectRetryStorms(const DetectInput& in);
std::vector<Finding> DetectBackground(const DetectInput& in);
// The recommendation rules per group of PrimaryDim(): high_io_ratio, no_cache,
// low_cache, many_small_requests, increasing.
std::vector<Finding> DetectGroupRules(const DetectInput& in);
std::vector<Finding> DetectLargeRuns(const DetectInput& in);
std::vector<Finding> DetectDataGaps(const DetectInput& in);

// The dimension reports group by: workflow if any record has one, else
// agent, else job, else model.
Dim PrimaryDim(std::span<const StoredEvent> recs);

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_DETECTORS_H_
