// src/sinks/json_writer.h — the pieces of tokmeter's JSONL output: escaped
// UTF-8 strings, RFC 3339 timestamps, integers, millisecond durations.
//
// Written by hand rather than through Boost.JSON's serializer because the
// flusher formats millions of lines per second: a line is written through a
// raw pointer into space reserved for its worst case, with no per-field
// capacity checks. Every line it writes is checked against Boost.JSON's
// parser in the tests.
#ifndef TOKMETER_SINKS_JSON_WRITER_H_
#define TOKMETER_SINKS_JSON_WRITER_H_

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tokmeter::internal {

// Bytes an escaped JSON string of `n` input bytes can take, quotes included
// (a control byte becomes \u00XX: 6 bytes).
constexpr size_t JsonStringBound(size_t n) { return 6 * n + 2; }
inline constexpr size_t kTimestampBytes = 32;  // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" + quotes
inline constexpr size_t kIntBytes = 20;

// Writes `s` as a JSON string (with quotes) at `p`; returns the end.
// Control characters, `"` and `\` are escaped; invalid UTF-8 (overlongs,
// surrogates, cut sequences, bytes past U+10FFFF) becomes U+FFFD, so the
// output is always valid UTF-8. Needs JsonStringBound(s.size()) bytes.
char* WriteJsonString(char* p, std::string_view s);

inline char* WriteInt(char* p, int64_t v) { return std::to_chars(p, p + kIntBytes, v).ptr; }

// `ns` as milliseconds with up to 6 decimals, trailing zeros trimmed
// (1250000000 -> "1250.0", 1234567 -> "1.234567"). At most 28 bytes.
char* WriteDurationMs(char* p, int64_t ns);

// "16 hex digits" / "32 hex digits", quoted.
char* WriteHexId(char* p, uint64_t id);
char* WriteHexId(char* p, uint64_t hi, uint64_t lo);

template <size_t N>
inline char* WriteLiteral(char* p, const char (&s)[N]) {
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

// RFC 3339 UTC with nanoseconds: "2026-11-23T09:00:00.123456789Z" (quoted).
// Caches the formatted second, so consecutive timestamps cost a few stores.
class TimestampFormatter {
 public:
  char* Write(char* p, int64_t unix_ns);
  void Append(std::string& out, int64_t unix_ns);

 private:
  int64_t cached_sec_ = INT64_MIN;
  char prefix_[24] = {};  // "YYYY-MM-DDTHH:MM:SS."
  size_t prefix_len_ = 0;
};

// std::string conveniences over the writers above (tests, cold paths).
void AppendJsonString(std::string& out, std::string_view s);
void AppendDurationMs(std::string& out, int64_t ns);

}  // namespace tokmeter::internal

#endif  // TOKMETER_SINKS_JSON_WRITER_H_
