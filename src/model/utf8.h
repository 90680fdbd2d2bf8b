// src/model/utf8.h — UTF-8 validation, written once: the JSONL writer, the
// OTLP encoder and tag truncation use it; invalid sequences become U+FFFD
// wherever tokmeter writes text.
#ifndef TOKMETER_MODEL_UTF8_H_
#define TOKMETER_MODEL_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace tokmeter::model {

// The replacement character U+FFFD, encoded.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence at s[0..n) (n >= 1): 1 for ASCII, 2-4
// for a well-formed multi-byte sequence (no overlongs, no surrogates,
// nothing past U+10FFFF), 0 when the bytes there are not valid UTF-8.
size_t Utf8SequenceLength(const unsigned char* s, size_t n);

// Length of the first invalid sequence's start in `s`, or s.size() when `s`
// is valid UTF-8.
size_t Utf8ValidPrefix(std::string_view s);

// `s` with each invalid byte replaced by U+FFFD.
std::string Utf8Repaired(std::string_view s);

// The longest prefix of s[0..len) of at most `max` bytes that does not end
// inside a multi-byte sequence (for cutting long values).
size_t Utf8Prefix(const char* s, size_t len, size_t max);

}  // namespace tokmeter::model

#endif  // TOKMETER_MODEL_UTF8_H_
