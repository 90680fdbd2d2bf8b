// src/rules/text.h — how findings write numbers and times.
#ifndef TOKMETER_RULES_TEXT_H_
#define TOKMETER_RULES_TEXT_H_

#include <cstdint>
#include <string>

namespace tokmeter::rules {

std::string Iso(int64_t unix_ns);        // 2026-02-16T21:35:00Z
std::string ClockTime(int64_t unix_ns);  // 21:35:00 (UTC)
std::string Tokens(double n);            // 1.25M, 48.2K, 950
std::string Minutes(int64_t ns);         // 15 min, 2.5 h

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_TEXT_H_
