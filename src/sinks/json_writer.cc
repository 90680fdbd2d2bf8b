#include "src/sinks/json_writer.h"

#include <cstring>

#include "absl/time/time.h"

namespace tokmeter::internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at s[0..n), or 0 if it is invalid.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlongs
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // no overlongs
    if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (n < len) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
  }
  return len;
}

// True for bytes that need attention: controls, '"', '\\', non-ASCII.
inline bool Special(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t run = 0;  // start of the pending run of plain bytes
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (!Special(c)) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(p + i, n - i);
      if (len != 0) {
        i += len;  // valid: copied with the run
        continue;
      }
      out.append(s.data() + run, i - run);
      out.append("\xEF\xBF\xBD");  // U+FFFD
      run = ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
    run = ++i;
  }
  out.append(s.data() + run, n - run);
  out.push_back('"');
}

void AppendDurationMs(std::string& out, int64_t ns) {
  if (ns < 0) {
    out.push_back('-');
    ns = ns == INT64_MIN ? INT64_MAX : -ns;
  }
  AppendInt(out, ns / 1000000);
  out.push_back('.');
  int64_t frac = ns % 1000000;
  char digits[6];
  for (int i = 5; i >= 0; --i, frac /= 10) digits[i] = char('0' + frac % 10);
  int len = 6;
  while (len > 1 && digits[len - 1] == '0') --len;
  out.append(digits, len);
}

void TimestampFormatter::Append(std::string& out, int64_t unix_ns) {
  int64_t sec = unix_ns >= 0 ? unix_ns / 1000000000 : -((-unix_ns + 999999999) / 1000000000);
  int64_t frac = unix_ns - sec * 1000000000;
  if (sec != cached_sec_) {
    std::string p =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S.", absl::FromUnixSeconds(sec), absl::UTCTimeZone());
    std::memset(prefix_, 0, sizeof(prefix_));
    std::memcpy(prefix_, p.data(), std::min(p.size(), sizeof(prefix_)));
    cached_sec_ = sec;
  }
  out.push_back('"');
  out.append(prefix_, strnlen(prefix_, sizeof(prefix_)));
  char digits[9];
  for (int i = 8; i >= 0; --i, frac /= 10) digits[i] = char('0' + frac % 10);
  out.append(digits, 9);
  out.append("Z\"");
}

void AppendHexId(std::string& out, uint64_t id) {
  char buf[18];
  buf[0] = '"';
  for (int i = 16; i >= 1; --i, id >>= 4) buf[i] = kHex[id & 15];
  buf[17] = '"';
  out.append(buf, 18);
}

void AppendHexId(std::string& out, uint64_t hi, uint64_t lo) {
  char buf[34];
  buf[0] = '"';
  for (int i = 16; i >= 1; --i, hi >>= 4) buf[i] = kHex[hi & 15];
  for (int i = 32; i >= 17; --i, lo >>= 4) buf[i] = kHex[lo & 15];
  buf[33] = '"';
  out.append(buf, 34);
}

}  // namespace tokmeter::internal
