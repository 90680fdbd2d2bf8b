// tests/rules/describe.h — a finding as one line of text, every field in it,
// for tests that compare the findings of two paths.
#ifndef TOKMETER_TESTS_RULES_DESCRIBE_H_
#define TOKMETER_TESTS_RULES_DESCRIBE_H_

#include <string>

#include "tokmeter/finding.h"

namespace tokmeter::rules::testing {

inline std::string Describe(const Finding& f) {
  std::string s = f.kind + " | " + f.subject + " | " + std::string(SeverityName(f.severity)) +
                  " | " + std::to_string(f.time_ns) + "-" + std::to_string(f.end_ns) + " | " +
                  std::to_string(f.tokens);
  for (const auto& [k, v] : f.keys) s += " | " + k + "=" + v;
  for (const auto& [k, v] : f.evidence) s += " | " + k + ":" + std::to_string(v);
  return s;
}

}  // namespace tokmeter::rules::testing

#endif  // TOKMETER_TESTS_RULES_DESCRIBE_H_
