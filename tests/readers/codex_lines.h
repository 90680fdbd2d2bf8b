// Pieces of Codex CLI session-log lines for the reader tests (codex_test.cc,
// follow_test.cc): the usage object and the timestamps. The lines around them
// are each test's own.
#ifndef TOKMETER_TESTS_READERS_CODEX_LINES_H_
#define TOKMETER_TESTS_READERS_CODEX_LINES_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace tokmeter::analysis::testing {

// Codex's usage object: input includes cached (and cache-write) tokens,
// output includes reasoning. cache_write < 0: no cache_write_input_tokens.
struct CodexUsage {
  int64_t in = 0, cached = 0, out = 0, reasoning = 0, cache_write = -1;
};

inline std::string CodexUsageJson(const CodexUsage& u) {
  std::string s = "{\"input_tokens\":" + std::to_string(u.in) +
                  ",\"cached_input_tokens\":" + std::to_string(u.cached);
  if (u.cache_write >= 0) s += ",\"cache_write_input_tokens\":" + std::to_string(u.cache_write);
  s += ",\"output_tokens\":" + std::to_string(u.out) +
       ",\"reasoning_output_tokens\":" + std::to_string(u.reasoning) +
       ",\"total_tokens\":" + std::to_string(u.in + u.out) + "}";
  return s;
}

// "2026-08-01T09:MM:SS.mmmZ" from seconds after 09:00.
inline std::string CodexTs(double s) {
  int ms = int(s * 1000 + 0.5);
  char buf[40];
  snprintf(buf, sizeof buf, "2026-08-01T%02d:%02d:%02d.%03dZ", 9 + ms / 3600000, (ms / 60000) % 60,
           (ms / 1000) % 60, ms % 1000);
  return buf;
}

}  // namespace tokmeter::analysis::testing

#endif  // TOKMETER_TESTS_READERS_CODEX_LINES_H_
