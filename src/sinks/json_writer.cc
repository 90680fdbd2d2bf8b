#include "src/sinks/json_writer.h"

#include <algorithm>
#include <cstring>

#include "absl/time/time.h"

namespace tokmeter::internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// 1 for bytes that need attention: controls, '"', '\\', non-ASCII.
constexpr auto kSpecial = [] {
  struct Table {
    bool v[256] = {};
  } t;
  for (int c = 0; c < 256; ++c) t.v[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  return t;
}();

// Length of the valid UTF-8 sequence at s[0..n), or 0 if it is invalid.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
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

}  // namespace

char* WriteJsonString(char* out, std::string_view s) {
  *out++ = '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t run = 0;  // start of the pending run of bytes copied as they are
  size_t i = 0;
  while (i < n) {
    if (!kSpecial.v[p[i]]) {
      ++i;
      continue;
    }
    if (p[i] >= 0x80) {
      size_t len = Utf8SequenceLength(p + i, n - i);
      if (len != 0) {
        i += len;  // valid: copied with the run
        continue;
      }
      std::memcpy(out, p + run, i - run);
      out += i - run;
      out = WriteLiteral(out, "\xEF\xBF\xBD");  // U+FFFD
      run = ++i;
      continue;
    }
    std::memcpy(out, p + run, i - run);
    out += i - run;
    const unsigned char c = p[i];
    switch (c) {
      case '"':
        out = WriteLiteral(out, "\\\"");
        break;
      case '\\':
        out = WriteLiteral(out, "\\\\");
        break;
      case '\n':
        out = WriteLiteral(out, "\\n");
        break;
      case '\r':
        out = WriteLiteral(out, "\\r");
        break;
      case '\t':
        out = WriteLiteral(out, "\\t");
        break;
      case '\b':
        out = WriteLiteral(out, "\\b");
        break;
      case '\f':
        out = WriteLiteral(out, "\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        std::memcpy(out, esc, 6);
        out += 6;
      }
    }
    run = ++i;
  }
  std::memcpy(out, p + run, n - run);
  out += n - run;
  *out++ = '"';
  return out;
}

char* WriteDurationMs(char* p, int64_t ns) {
  if (ns < 0) {
    *p++ = '-';
    ns = ns == INT64_MIN ? INT64_MAX : -ns;
  }
  p = WriteInt(p, ns / 1000000);
  *p++ = '.';
  int64_t frac = ns % 1000000;
  char digits[6];
  for (int i = 5; i >= 0; --i, frac /= 10) digits[i] = char('0' + frac % 10);
  int len = 6;
  while (len > 1 && digits[len - 1] == '0') --len;
  std::memcpy(p, digits, len);
  return p + len;
}

char* TimestampFormatter::Write(char* p, int64_t unix_ns) {
  int64_t sec = unix_ns >= 0 ? unix_ns / 1000000000 : -((-unix_ns + 999999999) / 1000000000);
  int64_t frac = unix_ns - sec * 1000000000;
  if (sec != cached_sec_) {
    std::string s =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S.", absl::FromUnixSeconds(sec), absl::UTCTimeZone());
    prefix_len_ = std::min(s.size(), sizeof(prefix_));
    std::memcpy(prefix_, s.data(), prefix_len_);
    cached_sec_ = sec;
  }
  *p++ = '"';
  std::memcpy(p, prefix_, prefix_len_);
  p += prefix_len_;
  for (int i = 8; i >= 0; --i, frac /= 10) p[i] = char('0' + frac % 10);
  p += 9;
  *p++ = 'Z';
  *p++ = '"';
  return p;
}

char* WriteHexId(char* p, uint64_t id) {
  p[0] = '"';
  for (int i = 16; i >= 1; --i, id >>= 4) p[i] = kHex[id & 15];
  p[17] = '"';
  return p + 18;
}

char* WriteHexId(char* p, uint64_t hi, uint64_t lo) {
  p[0] = '"';
  for (int i = 16; i >= 1; --i, hi >>= 4) p[i] = kHex[hi & 15];
  for (int i = 32; i >= 17; --i, lo >>= 4) p[i] = kHex[lo & 15];
  p[33] = '"';
  return p + 34;
}

void TimestampFormatter::Append(std::string& out, int64_t unix_ns) {
  char buf[kTimestampBytes + 8];
  out.append(buf, Write(buf, unix_ns));
}

void AppendJsonString(std::string& out, std::string_view s) {
  size_t old = out.size();
  out.resize(old + JsonStringBound(s.size()));
  char* end = WriteJsonString(out.data() + old, s);
  out.resize(end - out.data());
}

void AppendDurationMs(std::string& out, int64_t ns) {
  char buf[32];
  out.append(buf, WriteDurationMs(buf, ns));
}

}  // namespace tokmeter::internal
