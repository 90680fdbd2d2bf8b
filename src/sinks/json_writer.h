// src/sinks/json_writer.h — the pieces of tokmeter's JSONL output: escaped
// UTF-8 strings, RFC 3339 timestamps, integers, millisecond durations.
//
// Written by hand rather than through Boost.JSON's serializer because the
// flusher formats millions of lines per second into one reused buffer; every
// line it writes is checked against Boost.JSON's parser in the tests.
#ifndef TOKMETER_SINKS_JSON_WRITER_H_
#define TOKMETER_SINKS_JSON_WRITER_H_

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokmeter::internal {

// Appends `s` as a JSON string (with quotes). Control characters, `"` and
// `\` are escaped; invalid UTF-8 (overlongs, surrogates, cut sequences, bytes
// past U+10FFFF) is replaced by U+FFFD, so the output is always valid UTF-8.
void AppendJsonString(std::string& out, std::string_view s);

inline void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

// `ns` as milliseconds with up to 6 decimals, trailing zeros trimmed
// (1250000000 -> "1250.0", 1234567 -> "1.234567").
void AppendDurationMs(std::string& out, int64_t ns);

// RFC 3339 UTC with nanoseconds: 2026-11-23T09:00:00.123456789Z. Caches the
// formatted second, so consecutive timestamps cost a few stores.
class TimestampFormatter {
 public:
  void Append(std::string& out, int64_t unix_ns);

 private:
  int64_t cached_sec_ = INT64_MIN;
  char prefix_[20] = {};  // "YYYY-MM-DDTHH:MM:SS."
};

// 16 or 32 lowercase hex digits, quoted.
void AppendHexId(std::string& out, uint64_t id);
void AppendHexId(std::string& out, uint64_t hi, uint64_t lo);

}  // namespace tokmeter::internal

#endif  // TOKMETER_SINKS_JSON_WRITER_H_
