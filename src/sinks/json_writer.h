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

#include <bit>
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

// Escapes s[i..) at `out`, where byte i goes, the bytes before it having
// been copied as they are; closes the string. WriteJsonString's slow path.
char* WriteJsonStringFrom(char* out, std::string_view s, size_t i);

// A byte a JSON string cannot carry as it is: a control, '"', '\\', or the
// start of a UTF-8 check (non-ASCII).
constexpr bool NeedsAttention(unsigned char c) {
  return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

// Nonzero when a byte of the 8 in `w` needs attention (NeedsAttention, eight
// at once). Exact as a yes/no (a borrow only crosses from a byte that is
// itself one of those).
inline uint64_t SpecialBytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t slash = w ^ (kOnes * '\\');
  const uint64_t below_space = (w - kOnes * 0x20) & ~w;
  const uint64_t is_quote = (quote - kOnes) & ~quote;
  const uint64_t is_slash = (slash - kOnes) & ~slash;
  return (below_space | is_quote | is_slash | w) & (kOnes * 0x80);
}

// Writes `s` as a JSON string (with quotes) at `p`; returns the end.
// Control characters, `"` and `\` are escaped; invalid UTF-8 (overlongs,
// surrogates, cut sequences, bytes past U+10FFFF) becomes U+FFFD, so the
// output is always valid UTF-8. Needs JsonStringBound(s.size()) bytes.
// Plain text is checked and copied 8 bytes at a time, inline; the first
// byte that needs attention hands over to WriteJsonStringFrom.
inline char* WriteJsonString(char* out, std::string_view s) {
  *out++ = '"';
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (SpecialBytes(w) != 0) return WriteJsonStringFrom(out + i, s, i);
    std::memcpy(out + i, &w, 8);
  }
  for (; i < n; ++i) {
    if (NeedsAttention(static_cast<unsigned char>(p[i]))) return WriteJsonStringFrom(out + i, s, i);
    out[i] = p[i];
  }
  out[n] = '"';
  return out + n + 1;
}

// "00" "01" ... "99": two digits per lookup.
inline constexpr auto kDigitPairs = [] {
  struct Table {
    char v[200] = {};
  } t;
  for (int i = 0; i < 100; ++i) {
    t.v[2 * i] = char('0' + i / 10);
    t.v[2 * i + 1] = char('0' + i % 10);
  }
  return t;
}();

inline void Write2Digits(char* p, uint32_t v) { std::memcpy(p, kDigitPairs.v + 2 * v, 2); }

inline void Write4Digits(char* p, uint32_t v) {
  Write2Digits(p, v / 100);
  Write2Digits(p + 2, v % 100);
}

// The 8 digits of v < 10^8, leading zeros kept, in a few multiplications
// over all digits at once (P. Khuong's SWAR conversion): two 4-digit halves
// in 32-bit lanes, split into 2-digit 16-bit lanes, then into bytes.
inline void Write8Digits(char* p, uint32_t v) {
  const uint64_t merged = uint64_t(v / 10000) | (uint64_t(v % 10000) << 32);
  // Truncating division by 100 in each 32-bit lane: 10486 / 2^20 ~ 1/100.
  const uint64_t top = ((merged * 10486) >> 20) & ((uint64_t{0x7F} << 32) | 0x7F);
  const uint64_t bottom = merged - 100 * top;  // the last two digits of each half
  const uint64_t hundreds = (bottom << 16) + top;
  // Truncating division by 10 in each 16-bit lane: 103 / 2^10 ~ 1/10.
  uint64_t tens = ((hundreds * 103) >> 10) & 0x000F000F000F000FULL;
  tens += (hundreds - 10 * tens) << 8;
  // Byte k is digit k (most significant first) on a little-endian machine.
  uint64_t ascii = tens + 0x3030303030303030ULL;
  if constexpr (std::endian::native == std::endian::big) ascii = __builtin_bswap64(ascii);
  std::memcpy(p, &ascii, 8);
}

// 1 to 4 digits of v < 10000, no leading zeros.
inline char* WriteUpTo4Digits(char* p, uint32_t v) {
  if (v < 100) {
    if (v < 10) {
      *p = char('0' + v);
      return p + 1;
    }
    Write2Digits(p, v);
    return p + 2;
  }
  if (v < 1000) {
    *p = char('0' + v / 100);
    Write2Digits(p + 1, v % 100);
    return p + 3;
  }
  Write4Digits(p, v);
  return p + 4;
}

// `v` in decimal, at most kIntBytes bytes. The values the flusher writes
// (counters, status codes, thread ids) are mostly below 10^8: 32-bit
// arithmetic, four digits at a time.
inline char* WriteInt(char* p, int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  if (v < 0) {
    *p++ = '-';
    u = 0 - u;
  }
  if (u < 10000) return WriteUpTo4Digits(p, uint32_t(u));
  if (u < 100000000) {
    p = WriteUpTo4Digits(p, uint32_t(u) / 10000);
    Write4Digits(p, uint32_t(u) % 10000);
    return p + 4;
  }
  // Up to 20 digits: the top (1-12 digits) recursively, then 8 digits.
  p = WriteInt(p, int64_t(u / 100000000));
  Write8Digits(p, uint32_t(u % 100000000));
  return p + 8;
}

// `ns` as milliseconds with up to 6 decimals, trailing zeros trimmed
// (1250000000 -> "1250.0", 1234567 -> "1.234567"). At most 28 bytes.
inline char* WriteDurationMs(char* p, int64_t ns) {
  if (ns < 0) {
    *p++ = '-';
    ns = ns == INT64_MIN ? INT64_MAX : -ns;
  }
  p = WriteInt(p, ns / 1000000);
  *p++ = '.';
  // 6 decimals: the 8 digits of frac * 100 are the 6 and two zeros.
  Write8Digits(p, static_cast<uint32_t>(ns % 1000000) * 100);
  // Trailing zeros trimmed, one kept: the last digit that is not '0'.
  if constexpr (std::endian::native == std::endian::little) {
    uint64_t digits;
    std::memcpy(&digits, p, 8);
    const uint64_t nonzero = digits ^ 0x3030303030303030ULL;  // byte k: digit k - '0'
    return p + (nonzero == 0 ? 1 : (63 - __builtin_clzll(nonzero)) / 8 + 1);
  }
  int len = 6;
  while (len > 1 && p[len - 1] == '0') --len;
  return p + len;
}

// The 8 hex digits of `v`, most significant first.
inline void Write8Hex(char* p, uint32_t v) {
  // Spread the nibbles one per byte: byte k holds nibble k (0 = lowest).
  uint64_t x = v;
  x = ((x & 0xFFFF0000u) << 16) | (x & 0xFFFFu);
  x = ((x & 0x0000FF000000FF00ULL) << 8) | (x & 0x000000FF000000FFULL);
  x = ((x & 0x00F000F000F000F0ULL) << 4) | (x & 0x000F000F000F000FULL);
  // '0'..'9' for 0..9, 'a'..'f' for 10..15.
  const uint64_t letters = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
  x += 0x3030303030303030ULL + letters * ('a' - '0' - 10);
  // Nibble 7 goes to the lowest address.
  if constexpr (std::endian::native == std::endian::little) x = __builtin_bswap64(x);
  std::memcpy(p, &x, 8);
}

// "16 hex digits" / "32 hex digits", quoted.
inline char* WriteHexId(char* p, uint64_t id) {
  p[0] = '"';
  Write8Hex(p + 1, uint32_t(id >> 32));
  Write8Hex(p + 9, uint32_t(id));
  p[17] = '"';
  return p + 18;
}
inline char* WriteHexId(char* p, uint64_t hi, uint64_t lo) {
  p[0] = '"';
  Write8Hex(p + 1, uint32_t(hi >> 32));
  Write8Hex(p + 9, uint32_t(hi));
  Write8Hex(p + 17, uint32_t(lo >> 32));
  Write8Hex(p + 25, uint32_t(lo));
  p[33] = '"';
  return p + 34;
}

template <size_t N>
inline char* WriteLiteral(char* p, const char (&s)[N]) {
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

// RFC 3339 UTC with nanoseconds: "2026-11-23T09:00:00.123456789Z" (quoted).
// Caches the formatted second, so consecutive timestamps cost a few stores.
class TimestampFormatter {
 public:
  char* Write(char* p, int64_t unix_ns) {
    const int64_t sec =
        unix_ns >= 0 ? unix_ns / 1000000000 : -((-unix_ns + 999999999) / 1000000000);
    const auto frac = static_cast<uint32_t>(unix_ns - sec * 1000000000);
    if (sec != cached_sec_) Refresh(sec);
    *p++ = '"';
    // All of prefix_ (a fixed-size copy); the digits overwrite what is past
    // the prefix, and a prefix is at least 14 bytes, so nothing is written
    // beyond the timestamp's own end.
    static_assert(sizeof(prefix_) <= 14 + 11);
    std::memcpy(p, prefix_, sizeof(prefix_));
    p += prefix_len_;
    *p = char('0' + frac / 100000000);
    Write8Digits(p + 1, frac % 100000000);
    p[9] = 'Z';
    p[10] = '"';
    return p + 11;
  }
  void Append(std::string& out, int64_t unix_ns);

 private:
  void Refresh(int64_t sec);  // formats the prefix of second `sec`

  int64_t cached_sec_ = INT64_MIN;
  char prefix_[24] = {};  // "YYYY-MM-DDTHH:MM:SS."
  size_t prefix_len_ = 0;
};

// std::string conveniences over the writers above (tests, cold paths).
void AppendJsonString(std::string& out, std::string_view s);
void AppendDurationMs(std::string& out, int64_t ns);

}  // namespace tokmeter::internal

#endif  // TOKMETER_SINKS_JSON_WRITER_H_
