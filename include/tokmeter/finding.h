// tokmeter/finding.h — what a rule reports: a finding, with the evidence
// that triggered it. The same type is printed by `tokmeter detect`, handed to
// the live monitor's callbacks and written by the sinks as an alert record.
#ifndef TOKMETER_FINDING_H_
#define TOKMETER_FINDING_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokmeter {

enum class Severity { kInfo, kWarning, kCritical };

inline std::string_view SeverityName(Severity s) {  // "info" | "warning" | "critical"
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "info";
}

struct Finding {
  // The rule: budget | spike | loop | fanout | context_bloat | retry_storm |
  // background | output_ratio_rise | cache_miss_streak | high_io_ratio |
  // no_cache | low_cache | large_run | many_small_requests | increasing |
  // data_gap (docs/RULES.md).
  std::string kind;
  Severity severity = Severity::kWarning;
  // What it is about, as people name it: "session s-42", "job nightly-audit",
  // "workflow smoke run 17", "window 14:05–14:20 UTC".
  std::string subject;
  // The same, for scripts: the tags that name the culprit, e.g.
  // {{"session", "s-42"}} or {{"workflow", "smoke"}, {"run", "17"}}.
  std::vector<std::pair<std::string, std::string>> keys;
  // Named numbers, in a stable order.
  std::vector<std::pair<std::string, double>> evidence;
  std::string rule;            // the rule and its threshold
  std::string recommendation;  // what to do about it
  int64_t time_ns = 0;         // when it started (0: not about a time)
  int64_t end_ns = 0;          // when it ended, for episodes (0: a moment, or still going)
  int64_t tokens = 0;          // tokens at stake (orders findings)

  double Evidence(std::string_view name) const {  // NaN when absent
    for (const auto& [k, v] : evidence)
      if (k == name) return v;
    return std::numeric_limits<double>::quiet_NaN();
  }
  std::string_view Key(std::string_view name) const {  // "" when absent
    for (const auto& [k, v] : keys)
      if (k == name) return v;
    return {};
  }
};

}  // namespace tokmeter

#endif  // TOKMETER_FINDING_H_
